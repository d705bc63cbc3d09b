"""The holdout designs' comparison: arm estimates by hand; the comparison on a tiny world."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from leadpilot.evaluate.holdout_designs import DesignComparison, _estimate
from leadpilot.schema import Candidate, Decision

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _d(lead: str, rep: str | None, *reasons: str) -> Decision:
    return Decision(
        lead_id=lead, rep_id=rep, pool="p", lane=None, strategy="predictive",
        reasons=tuple(reasons), decided_at=T0,
        candidates=(Candidate("a"),) if rep is not None else (),
    )  # fmt: skip


def test_per_lead_estimate_by_hand() -> None:
    decisions = [
        _d("L1", "a"), _d("L2", "a"), _d("L3", "a", "HOLDOUT"), _d("L4", "a", "HOLDOUT"),
        _d("L5", None),  # nobody could take it: no arm
    ]  # fmt: skip
    diff, _, _ = _estimate(decisions, np.array([0.4, 0.2, 0.1, 0.1, 0.9]))
    assert diff == pytest.approx((0.4 + 0.2) / 2 - (0.1 + 0.1) / 2)


def test_switchback_estimate_uses_blocks_and_drops_the_washout() -> None:
    decisions = [
        _d("L1", "a", "SWITCHBACK_ON:1"), _d("L2", "a", "SWITCHBACK_ON:1", "WASHOUT"),
        _d("L3", "a", "SWITCHBACK_ON:3"), _d("L4", "a", "SWITCHBACK_OFF:2"),
        _d("L5", "a", "SWITCHBACK_OFF:2"), _d("L6", "a", "SWITCHBACK_OFF:4"),
    ]  # fmt: skip
    diff, low, high = _estimate(decisions, np.array([0.5, 9.0, 0.3, 0.2, 0.0, 0.1]))
    # ON: blocks 1 (0.5 over 1 lead) and 3 (0.3 over 1): ratio 0.8 / 2; OFF: blocks 2
    # (0.2 over 2) and 4 (0.1 over 1): 0.3 / 3. The washout lead (9.0) is left out.
    assert diff == pytest.approx(0.8 / 2 - 0.3 / 3)
    assert low <= diff <= high


def test_summary_by_hand() -> None:
    comparison = DesignComparison(
        cap_scale=0.8,
        leads=100,
        truth=[0.01, 0.03],
        estimates={"per-lead 50%": [(0.03, 0.02, 0.04), (0.05, 0.01, 0.06)]},
        unassigned=0.0,
    )
    row = comparison.summary()["per-lead 50%"]
    assert row["estimate"] == pytest.approx(0.04)
    assert row["truth"] == pytest.approx(0.02)
    assert row["ratio"] == pytest.approx(2.0)
    assert row["se"] == pytest.approx(np.std([0.03, 0.05], ddof=1) / np.sqrt(2))
    assert row["covers"] == 1  # seed 0: 0.01 is outside 0.02-0.04; seed 1: 0.03 inside
    assert comparison.as_dict()["designs"]["per-lead 50%"] == row
