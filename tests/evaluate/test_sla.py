"""SLA attainment of simulated decisions from past response times, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from leadpilot.evaluate.sla import sla_attainment
from leadpilot.schema import Decision

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _history() -> pd.DataFrame:
    # rep a: 25 quiet days with one lead each (delays 0.5 h x 20, 5 h x 5) and one busy day
    # with 4 leads (delays 3, 3, 3, 9 h); rep b has no past leads.
    rows = [("a", f"2026-01-{1 + i % 25:02d}", 0.5 if i < 20 else 5.0) for i in range(25)]
    rows += [("a", "2026-02-10", h) for h in (3.0, 3.0, 3.0, 9.0)]
    frame = pd.DataFrame(rows, columns=["rep_id", "created_at", "time_to_contact_hours"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def _decision(lead: str, rep: str, day: int, sla_hours: float, lane: str = "hot") -> Decision:
    return Decision(
        lead_id=lead, rep_id=rep, pool="p", lane=lane, strategy="predictive", reasons=(),
        decided_at=NOW, sla_deadline=NOW + timedelta(hours=sla_hours),
        rep_local_day=date(2026, 3, day),
    )  # fmt: skip


def test_attainment_by_hand() -> None:
    decisions = [
        _decision("L1", "a", 2, 1.0),  # a quiet day: 20 of a's 25 quiet-day leads within 1 h
        _decision("L2", "b", 2, 4.0, lane="standard"),  # b has no past: the team's delays
    ]
    got = sla_attainment(decisions, _history())
    assert got is not None
    # team: 20 x 0.5, 5 x 5, 3 x 3, 1 x 9 -> 23 of 29 within 4 h
    assert got["by_lane"] == pytest.approx({"hot": 20 / 25, "standard": 23 / 29})
    assert got["attainment"] == pytest.approx((20 / 25 + 23 / 29) / 2)
    assert got["decisions_with_sla"] == 2


def test_a_busy_simulated_day_uses_all_of_the_reps_leads_when_its_bucket_is_thin() -> None:
    # 4 leads for rep a on one day: the 3-5 bucket has only 4 past leads (< 20), so all 29
    # of a's leads count: 20 + 3 within 4 h.
    decisions = [_decision(f"L{i}", "a", 3, 4.0) for i in range(4)]
    got = sla_attainment(decisions, _history())
    assert got is not None
    assert got["attainment"] == pytest.approx(23 / 29)


def test_no_delays_no_estimate() -> None:
    assert sla_attainment([_decision("L1", "a", 2, 1.0)], _history().iloc[:0]) is None


def test_many_decisions_give_each_ones_share_as_one_search_each() -> None:
    """Decisions of several reps, loads, windows and lanes, mixed: every lane's attainment is
    the mean of each decision's share searched on its own sample (a second, per-decision
    reading written here from the rule: the rep's bucket sample, else all of the rep's
    leads, else the team's), to the last bit."""
    import numpy as np

    rng = np.random.default_rng(3)
    hist = _history()
    more = pd.DataFrame(
        {
            "rep_id": rng.choice(["a", "c", "d"], 400),
            "created_at": pd.to_datetime("2026-01-01", utc=True)
            + pd.to_timedelta(rng.integers(0, 40, 400), unit="D"),
            "time_to_contact_hours": rng.exponential(4.0, 400).round(2),
        }
    )
    hist = pd.concat([hist, more], ignore_index=True)
    decisions = [
        _decision(f"L{i}", str(rng.choice(["a", "b", "c", "d"])), int(rng.integers(2, 6)),
                  float(rng.choice([0.5, 1.0, 2.5, 4.0, 24.0])),
                  lane=str(rng.choice(["hot", "standard", "cold"])))
        for i in range(300)
    ]  # fmt: skip
    got = sla_attainment(decisions, hist)
    assert got is not None

    past = hist.dropna()
    day = past["created_at"].dt.floor("D")
    per_day = past.groupby([past["rep_id"], day])["rep_id"].transform("size").to_numpy()
    edges = [1, 3, 6, 11]

    def bucket(load: int) -> int:
        return sum(load >= e for e in edges) - 1

    def sample_of(rep: str, load: int) -> list[float]:
        rows = past[(past["rep_id"] == rep).to_numpy() & (np.array([bucket(x) for x in per_day])
                                                          == bucket(load))]  # fmt: skip
        if len(rows) >= 20:
            return sorted(rows["time_to_contact_hours"])
        mine = past[past["rep_id"] == rep]
        return sorted((mine if len(mine) else past)["time_to_contact_hours"])

    load = {}
    for d in decisions:
        load[(d.rep_id, d.rep_local_day)] = load.get((d.rep_id, d.rep_local_day), 0) + 1
    by_lane: dict[str, list[float]] = {}
    for d in decisions:
        assert d.sla_deadline is not None
        window = (d.sla_deadline - d.decided_at).total_seconds() / 3600
        sample = sample_of(str(d.rep_id), load[(d.rep_id, d.rep_local_day)])
        share = sum(x <= window for x in sample) / len(sample)
        by_lane.setdefault(str(d.lane), []).append(share)
    assert got["by_lane"] == {k: float(np.mean(v)) for k, v in by_lane.items()}
    every = [s for v in by_lane.values() for s in v]
    assert got["attainment"] == float(np.mean(every))
    assert got["decisions_with_sla"] == 300
