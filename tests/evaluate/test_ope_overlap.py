"""Overlap diagnostics by hand, and the verdict's thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.evaluate.ope import ReplayData, one_hot, overlap_diagnostics


def test_diagnostics_by_hand() -> None:
    data = ReplayData(
        action=np.array([0, 1, 0, 1]),
        reward=np.zeros(4),
        pscore=np.array([0.5, 0.25, 0.8, 0.25]),
        action_dist=one_hot(np.array([0, 0, 1, 1]), 2),
    )
    logging = np.array([[0.5, 0.5], [0.75, 0.25], [0.8, 0.2], [0.999, 0.001]])
    diag = overlap_diagnostics(data, logging)
    # weights 2, 0, 0, 4: ESS = (2 + 4)^2 / (4 + 16)
    assert diag.ess == pytest.approx(36 / 20)
    assert diag.matched == 2
    assert diag.max_weights == (4.0, 2.0, 0.0, 0.0)
    assert diag.top1pct_weight_share == pytest.approx(4 / 6)  # the one heaviest lead
    # the candidate's rep for lead 3 had logging probability 0.001 < 0.005
    assert diag.unsupported_share == pytest.approx(0.25)
    assert diag.verdict == "poor"
    assert not diag.reliable
    assert any("effective sample size 2" in r for r in diag.reasons)


def test_seen_matrix_marks_assignments_the_history_never_made() -> None:
    n = 1000
    data = ReplayData(
        action=np.zeros(n, dtype=np.int64),
        reward=np.zeros(n),
        pscore=np.ones(n),
        action_dist=one_hot(np.zeros(n, dtype=np.int64), 2),
    )
    seen = np.ones((n, 2), dtype=bool)
    seen[:30, 0] = False  # 3% of the candidate's choices never happened in history
    diag = overlap_diagnostics(data, seen=seen)
    assert diag.ess == pytest.approx(n)
    assert diag.unsupported_share == pytest.approx(0.03)
    assert diag.verdict == "weak"  # above 2%, below 10%


def test_full_overlap_is_good() -> None:
    n = 2000
    rng = np.random.default_rng(0)
    action = rng.integers(0, 2, n)
    data = ReplayData(
        action=action,
        reward=np.zeros(n),
        pscore=np.full(n, 0.5),
        action_dist=np.full((n, 2), 0.5),  # the candidate = the logging policy
    )
    diag = overlap_diagnostics(data, np.full((n, 2), 0.5))
    assert diag.ess == pytest.approx(n)
    assert (diag.verdict, diag.reasons) == ("good", ())
    assert diag.as_dict()["reliable"] is True
