"""Offline yardsticks: exact optimum vs brute force, rotation and greedy by hand, capacity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leadpilot.errors import DataValidationError
from leadpilot.evaluate import (
    best_assignment,
    greedy_assignment,
    round_robin_assignment,
)


def _brute_force(p: np.ndarray, day: np.ndarray, cap: np.ndarray, ok: np.ndarray) -> float:
    """Best total over every assignment of each lead to a rep or to nobody."""
    n_leads, n_reps = p.shape
    best = 0.0
    for choice in itertools.product(range(-1, n_reps), repeat=n_leads):
        c = np.array(choice)
        total, feasible = 0.0, True
        for d in np.unique(day):
            counts = np.bincount(c[(day == d) & (c >= 0)], minlength=n_reps)
            feasible &= bool(np.all(counts <= cap))
        for i, r in enumerate(c):
            if r >= 0:
                feasible &= bool(ok[i, r])
                total += p[i, r]
        if feasible:
            best = max(best, total)
    return best


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 3), elements=st.floats(0.0, 1.0)),
            arrays(np.int64, (n,), elements=st.integers(0, 1)),
            arrays(np.int64, (3,), elements=st.integers(0, 2)),
            arrays(np.bool_, (n, 3)),
        )
    )
)
def test_best_assignment_matches_brute_force(case: tuple[np.ndarray, ...]) -> None:
    p, day, cap, ok = case
    got = best_assignment(p, day, cap, ok)
    assert got.expected_conversions == pytest.approx(_brute_force(p, day, cap, ok), abs=1e-6)
    assigned = got.rep_index >= 0
    assert np.all(ok[np.flatnonzero(assigned), got.rep_index[assigned]])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 4), elements=st.floats(0.0, 1.0)),
            arrays(np.int64, (n,), elements=st.integers(0, 3)).map(np.sort),
            arrays(np.int64, (4,), elements=st.integers(0, 5)),
            arrays(np.bool_, (n, 4)),
        )
    )
)
def test_capacity_and_eligibility_never_violated(case: tuple[np.ndarray, ...]) -> None:
    p, day, cap, ok = case
    results = [
        f(p, day, cap, ok) for f in (best_assignment, round_robin_assignment, greedy_assignment)
    ]
    for res in results:
        idx = res.rep_index
        for d in np.unique(day):
            chosen = idx[(day == d) & (idx >= 0)]
            assert np.all(np.bincount(chosen, minlength=4) <= cap)
        hit = idx >= 0
        assert np.all(ok[np.flatnonzero(hit), idx[hit]])
        assert res.expected_conversions == pytest.approx(p[np.flatnonzero(hit), idx[hit]].sum())
    # The optimum is never beaten (up to the LP tolerance).
    assert results[0].expected_conversions >= max(r.expected_conversions for r in results) - 1e-6


def test_round_robin_rotates_and_skips_reps_at_cap() -> None:
    p = np.full((7, 3), 0.1)
    day = np.array([0, 0, 0, 0, 0, 1, 1])
    cap = np.array([1, 2, 2])
    got = round_robin_assignment(p, day, cap)
    # Day 0: 0, 1, 2, then rep 0 is at cap -> 1, 2; day 1 continues after rep 2 -> 0, 1.
    assert got.rep_index.tolist() == [0, 1, 2, 1, 2, 0, 1]
    assert got.expected_conversions == pytest.approx(0.7)


def test_round_robin_skips_ineligible_and_leaves_unservable_leads() -> None:
    p = np.full((3, 2), 0.5)
    ok = np.array([[False, True], [False, True], [False, False]])
    got = round_robin_assignment(p, np.zeros(3, dtype=np.int64), np.array([5, 1]), ok)
    assert got.rep_index.tolist() == [1, -1, -1]
    assert got.n_unassigned == 2


def test_greedy_fills_best_rep_first_and_optimum_saves_it() -> None:
    # Rep 0 is best for both leads but has one slot; lead 1 needs it much more.
    p = np.array([[0.30, 0.28], [0.60, 0.10]])
    day = np.zeros(2, dtype=np.int64)
    cap = np.array([1, 1])
    greedy = greedy_assignment(p, day, cap)
    best = best_assignment(p, day, cap)
    assert greedy.rep_index.tolist() == [0, 1]
    assert greedy.expected_conversions == pytest.approx(0.40)
    assert best.rep_index.tolist() == [1, 0]
    assert best.expected_conversions == pytest.approx(0.88)


def test_best_assignment_is_per_day() -> None:
    p = np.array([[0.9, 0.1], [0.8, 0.1], [0.7, 0.1]])
    got = best_assignment(p, np.array([0, 0, 1]), np.array([1, 1]))
    assert sorted(got.rep_index[:2].tolist()) == [0, 1]
    assert got.rep_index[2] == 0
    assert got.expected_conversions == pytest.approx(0.9 + 0.1 + 0.7)


@pytest.mark.parametrize(
    ("p", "day", "cap", "message"),
    [
        (np.zeros(3), np.zeros(3, dtype=int), np.ones(1, dtype=int), "shape"),
        (np.zeros((2, 2)), np.zeros(3, dtype=int), np.ones(2, dtype=int), "day must be 2"),
        (np.zeros((2, 2)), np.zeros(2), np.ones(2, dtype=int), "day must be 2"),
        (np.zeros((2, 2)), np.zeros(2, dtype=int), np.array([1, -1]), "non-negative"),
        (np.full((2, 2), 1.5), np.zeros(2, dtype=int), np.ones(2, dtype=int), r"\[0, 1\]"),
    ],
)
def test_bad_inputs_are_named(
    p: np.ndarray, day: np.ndarray, cap: np.ndarray, message: str
) -> None:
    with pytest.raises(DataValidationError, match=message):
        best_assignment(p, day, cap)


def test_eligible_shape_checked() -> None:
    with pytest.raises(DataValidationError, match="eligible must have shape"):
        greedy_assignment(
            np.zeros((2, 2)),
            np.zeros(2, dtype=int),
            np.ones(2, dtype=int),
            np.ones((2, 3), dtype=bool),
        )


def _brute_force_fair(
    p: np.ndarray, day: np.ndarray, cap: np.ndarray, band: tuple[float, float]
) -> float | None:
    n_leads, n_reps = p.shape
    pool = cap > 0
    avg = n_leads / pool.sum()
    least, most = np.ceil(band[0] * avg - 1e-9), np.floor(band[1] * avg + 1e-9)
    best = None
    for choice in itertools.product(np.flatnonzero(pool), repeat=n_leads):
        c = np.array(choice)
        totals = np.bincount(c, minlength=n_reps)[pool]
        if np.any(totals < least) or np.any(totals > most):
            continue
        if any(np.any(np.bincount(c[day == d], minlength=n_reps) > cap) for d in np.unique(day)):
            continue
        value = float(p[np.arange(n_leads), c].sum())
        best = value if best is None else max(best, value)
    return best


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 3), elements=st.floats(0.0, 1.0)),
            arrays(np.int64, (n,), elements=st.integers(0, 1)),
            arrays(np.int64, (3,), elements=st.integers(0, 3)),
        )
    ),
    st.sampled_from([(0.8, 1.2), (0.5, 1.5), (0.0, 2.0)]),
)
def test_fair_best_assignment_matches_brute_force(
    case: tuple[np.ndarray, ...], band: tuple[float, float]
) -> None:
    p, day, cap = case
    expected = _brute_force_fair(p, day, cap, band) if cap.any() else None
    if expected is None:
        with pytest.raises(DataValidationError, match="no assignment keeps every rep"):
            best_assignment(p, day, cap, fairness=band)
        return
    got = best_assignment(p, day, cap, fairness=band)
    assert got.expected_conversions == pytest.approx(expected, abs=1e-6)
    assert got.n_unassigned == 0


def test_fairness_band_evens_out_the_load() -> None:
    # Rep 0 is better for every lead; without the band it takes all 4 (cap 4).
    p = np.array([[0.5, 0.1]] * 4)
    day = np.zeros(4, dtype=np.int64)
    cap = np.array([4, 4])
    assert best_assignment(p, day, cap).rep_index.tolist() == [0, 0, 0, 0]
    fair = best_assignment(p, day, cap, fairness=(0.8, 1.2))
    # Average 2 per rep: each must get between ceil(1.6) = 2 and floor(2.4) = 2.
    assert np.bincount(fair.rep_index).tolist() == [2, 2]
    assert fair.expected_conversions == pytest.approx(1.2)


def test_bad_fairness_band_is_named() -> None:
    with pytest.raises(DataValidationError, match="low <= 1 <= high"):
        best_assignment(np.zeros((1, 1)), np.zeros(1, dtype=int), np.ones(1, dtype=int),
                        fairness=(1.1, 1.2))  # fmt: skip
