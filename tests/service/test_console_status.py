"""The overview's statuses follow the active policy: its fairness band and its hot lane's
SLA, not constants (a team with a 0.8-1.25 band and a 10-minute hot lane sees those)."""

from __future__ import annotations

from datetime import UTC, datetime

from leadpilot.policy import Policy, parse_policy
from leadpilot.service.console.charts import fairness_svg
from leadpilot.service.console.status import fairness_status, hot_speed_target, kpi_rows
from leadpilot.service.kpis import FairnessRow, KPIReport, RateKPI, SpeedKPI

_NO_RATE = RateKPI(numerator=0, denominator=0, rate=None, low=None, high=None)


def _policy(band: tuple[float, float], hot_sla: int) -> Policy:
    return parse_policy(
        {
            "pools": [{"name": "all", "strategy": "round_robin"}],
            "lanes": [
                {"name": "hot", "when": [{"field": "demo_request", "equals": True}],
                 "sla_minutes": hot_sla},
                {"name": "standard", "sla_minutes": 240},
            ],
            "fairness": {"band": list(band)},
        }
    )  # fmt: skip


def _report(indexes: list[float], hot_minutes: float) -> KPIReport:
    return KPIReport(
        since=None,
        until=datetime(2026, 12, 1, tzinfo=UTC),
        speed_to_first_touch=SpeedKPI(
            median_minutes=30.0, median_minutes_hot=hot_minutes, touched=10, routed=12
        ),
        fairness=[
            FairnessRow(rep_id=f"rep-{i}", pool="all", leads=10, fairness_index=v)
            for i, v in enumerate(indexes)
        ],
        reassignment_rate=_NO_RATE,
        duplicate_rate=_NO_RATE,
        conversion_to_meeting=_NO_RATE,
        conversion_to_opportunity=_NO_RATE,
        conversion_by_method=[],
        sla_attainment=_NO_RATE,
        leads_per_hour=None,
        queue_length=0,
    )


def test_statuses_use_the_policys_band_and_hot_lane_sla() -> None:
    policy = _policy((0.8, 1.25), hot_sla=10)
    # 1.2 is inside 0.8-1.25 (green there; amber under the default 0.9-1.1), 0.75 is within
    # 0.1 of it (amber), 0.6 beyond (red).
    assert [fairness_status(v, (0.8, 1.25)) for v in (1.2, 0.75, 0.6)] == [
        "green", "amber", "red"
    ]  # fmt: skip
    assert fairness_status(1.2) == "amber"
    assert hot_speed_target(policy) == 10.0
    assert hot_speed_target(None) == 15.0
    rows = {r.key: r for r in kpi_rows(_report([1.2, 0.95, 0.82], 12.0), policy)}
    assert rows["fairness"].target == "0.8 - 1.25"
    assert rows["fairness"].interval == "0 of 3 reps outside 0.8-1.25"
    assert rows["fairness"].status == "green"
    # 12 minutes: over the 10-minute hot SLA but within twice it.
    assert (rows["speed_hot"].target, rows["speed_hot"].status) == ("<= 10 min", "amber")
    default = {r.key: r for r in kpi_rows(_report([1.2, 0.95, 0.82], 12.0))}
    assert default["fairness"].interval == "2 of 3 reps outside 0.9-1.1"
    assert (default["speed_hot"].target, default["speed_hot"].status) == ("<= 15 min", "green")


def test_the_fairness_chart_shades_and_labels_the_policys_band() -> None:
    svg = fairness_svg([("rep-1", 1.2)], band=(0.8, 1.25))
    assert "target 0.8-1.25" in svg
    assert "#15803d" in svg  # 1.2 drawn green inside the policy's band
    assert "#b45309" in fairness_svg([("rep-1", 1.2)])  # amber under the default band
    # Past the amber margin the bar turns red, the colour the KPI table gives the same rep.
    assert fairness_status(1.25) == "red"
    assert "#b91c1c" in fairness_svg([("rep-1", 1.25)])
