"""The overview's KPI rows: value, interval, target and a red / amber / green status.

A rate with a ceiling (reassignment, duplicates) is green at or under target, amber when
above it but its 95% interval still reaches the target (it may be noise), red when the whole
interval is above. A floor (SLA attainment) mirrors that. Fairness is green inside the
policy's band (``fairness.band``, 0.9-1.1 by default), amber within 0.1 of it, red outside.
The SLA, reassignment and duplicate targets are the active policy's
(``targets.sla_attainment``, ``alerts.<rule>.target``), as in the weekly review; the hot
lane's median speed target is that lane's SLA (``lanes[hot].sla_minutes``); the constants
below are the defaults used without a policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadpilot.policy import Policy
from leadpilot.service.kpis import KPIReport, RateKPI

__all__ = [
    "DUPLICATE_TARGET",
    "FAIRNESS_BAND",
    "HOT_SPEED_TARGET",
    "REASSIGNMENT_TARGET",
    "SLA_TARGET",
    "KPIRow",
    "fairness_status",
    "hot_speed_target",
    "kpi_rows",
]

HOT_SPEED_TARGET = 15.0  # minutes, median, hot lane
REASSIGNMENT_TARGET = 0.05
DUPLICATE_TARGET = 0.03
SLA_TARGET = 0.90
FAIRNESS_BAND = (0.9, 1.1)
_AMBER_MARGIN = 0.1  # outside the band by up to this much: amber, not yet red


@dataclass(frozen=True, slots=True)
class KPIRow:
    """One line of the KPI table (``key`` names it for tests and anchors)."""

    key: str
    name: str
    value: str
    interval: str
    target: str
    status: str  # green, amber, red or none (no target or no data)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _interval(r: RateKPI) -> str:
    if r.rate is None:
        return "no data"
    return f"{_pct(r.low)} to {_pct(r.high)} ({r.numerator}/{r.denominator})"


def _ceiling(r: RateKPI, target: float) -> str:
    if r.rate is None or r.low is None:
        return "none"
    if r.rate <= target:
        return "green"
    return "amber" if r.low <= target else "red"


def _floor(r: RateKPI, target: float) -> str:
    if r.rate is None or r.high is None:
        return "none"
    if r.rate >= target:
        return "green"
    return "amber" if r.high >= target else "red"


def fairness_status(index: float | None, band: tuple[float, float] = FAIRNESS_BAND) -> str:
    """Green inside ``band``, amber within 0.1 of it, red further out."""
    if index is None:
        return "none"
    low, high = band
    if low <= index <= high:
        return "green"
    return "amber" if low - _AMBER_MARGIN <= index <= high + _AMBER_MARGIN else "red"


def hot_speed_target(policy: Policy | None) -> float:
    """The hot lane's median first-touch target: its SLA, else the default 15 minutes."""
    lane = next((ln for ln in policy.lanes if ln.name == "hot"), None) if policy else None
    return float(lane.sla_minutes) if lane and lane.sla_minutes else HOT_SPEED_TARGET


def _share(x: float) -> str:
    """A target share as a percent, without a needless decimal: 90%, 92.5%."""
    return f"{100 * x:g}%"


def _minutes(m: float | None) -> str:
    return "-" if m is None else f"{m:.1f} min"


def kpi_rows(report: KPIReport, policy: Policy | None = None) -> list[KPIRow]:
    """The overview's rows, from the same report as ``GET /v1/kpis``; targets from
    ``policy`` (the defaults without one)."""
    sla_target, reassign_target, dup_target = SLA_TARGET, REASSIGNMENT_TARGET, DUPLICATE_TARGET
    band = FAIRNESS_BAND
    if policy is not None:
        sla_target = policy.review_targets.sla_attainment
        reassign_target = policy.alert_settings.reassignment_rate.target
        dup_target = policy.alert_settings.duplicate_rate.target
        band = policy.fairness.band
    hot_target = hot_speed_target(policy)
    speed = report.speed_to_first_touch
    hot = speed.median_minutes_hot
    hot_status = "none" if hot is None else "green" if hot <= hot_target else "red"
    if hot is not None and hot_target < hot <= 2 * hot_target:
        hot_status = "amber"
    indexes = [f.fairness_index for f in report.fairness if f.fairness_index is not None]
    out_of_band = sum(1 for i in indexes if not band[0] <= i <= band[1])
    worst = max(indexes, key=lambda i: abs(i - 1.0), default=None)
    fair_status = fairness_status(worst, band) if worst is not None else "none"
    band_text = f"{band[0]:g}-{band[1]:g}"
    rows = [
        KPIRow(
            "speed_hot",
            "Speed to first touch, hot lane (median)",
            _minutes(hot),
            f"{speed.touched} of {speed.routed} routed leads touched",
            f"<= {hot_target:g} min",
            hot_status,
        ),
        KPIRow(
            "speed_all",
            "Speed to first touch, all lanes (median)",
            _minutes(speed.median_minutes),
            f"{speed.touched} touched",
            "-",
            "none",
        ),
        KPIRow(
            "fairness",
            "Fairness index per rep (furthest from 1)",
            "-" if worst is None else f"{worst:.2f}",
            f"{out_of_band} of {len(indexes)} reps outside {band_text}",
            f"{band[0]:g} - {band[1]:g}",
            fair_status,
        ),
        KPIRow(
            "reassignment",
            "Reassignment rate",
            _pct(report.reassignment_rate.rate),
            _interval(report.reassignment_rate),
            f"<= {_share(reassign_target)}",
            _ceiling(report.reassignment_rate, reassign_target),
        ),
        KPIRow(
            "duplicate",
            "Duplicate rate",
            _pct(report.duplicate_rate.rate),
            _interval(report.duplicate_rate),
            f"<= {_share(dup_target)}",
            _ceiling(report.duplicate_rate, dup_target),
        ),
        KPIRow(
            "meeting",
            "Conversion to meeting (hot lane)",
            _pct(report.conversion_to_meeting.rate),
            _interval(report.conversion_to_meeting),
            "trend",
            "none",
        ),
        KPIRow(
            "opportunity",
            "Conversion to opportunity",
            _pct(report.conversion_to_opportunity.rate),
            _interval(report.conversion_to_opportunity),
            "trend",
            "none",
        ),
        KPIRow(
            "sla",
            "SLA attainment (first touch by the deadline)",
            _pct(report.sla_attainment.rate),
            _interval(report.sla_attainment),
            f">= {_share(sla_target)}",
            _floor(report.sla_attainment, sla_target),
        ),
        KPIRow(
            "per_hour",
            "Leads routed per hour",
            "-" if report.leads_per_hour is None else f"{report.leads_per_hour:.2f}",
            f"{speed.routed} routed in the window",
            "-",
            "none",
        ),
        KPIRow("queue", "Queue length (now)", str(report.queue_length), "", "-", "none"),
    ]
    for m in report.conversion_by_method:
        rows.append(
            KPIRow(
                f"method_{m.method}",
                f"Meeting rate, routed by {m.method}",
                _pct(m.meeting_rate.rate),
                _interval(m.meeting_rate),
                "compare",
                "none",
            )
        )
    return rows
