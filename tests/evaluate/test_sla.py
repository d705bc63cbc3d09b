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
