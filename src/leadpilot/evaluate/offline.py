"""Offline yardsticks for routing: the best capacity-feasible assignment, round-robin, greedy.

All three take the same arrays: ``p`` of shape ``(n_leads, n_reps)`` (conversion probability
of each pair), ``day`` of shape ``(n_leads,)`` (integer day index, leads in arrival order),
``daily_cap`` of shape ``(n_reps,)`` (most leads a rep may take per day) and optionally
``eligible`` of shape ``(n_leads, n_reps)``. They return an :class:`Assignment` whose
``rep_index`` is -1 for a lead nobody could take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import linprog

from leadpilot.errors import DataValidationError

__all__ = ["Assignment", "best_assignment", "greedy_assignment", "round_robin_assignment"]

_INTEGRALITY_TOL = 1e-6


@dataclass(frozen=True)
class Assignment:
    """Rep position per lead (``-1`` = unassigned) and the expected conversions it yields."""

    rep_index: NDArray[np.int64]
    expected_conversions: float

    @property
    def n_unassigned(self) -> int:
        """Leads left without a rep (no eligible rep had capacity)."""
        return int(np.sum(self.rep_index < 0))


def best_assignment(
    p: NDArray[np.float64],
    day: NDArray[np.int64],
    daily_cap: NDArray[np.int64],
    eligible: NDArray[np.bool_] | None = None,
    *,
    fairness: tuple[float, float] | None = None,
) -> Assignment:
    """The assignment with the most expected conversions under the daily capacities.

    Solved exactly, one day at a time, as a transportation LP with HiGHS: maximise
    sum p[i, r] x[i, r] subject to sum_r x[i, r] <= 1 per lead and sum_i x[i, r] <= cap[r]
    per rep. The constraint matrix is the incidence matrix of a bipartite graph, hence
    totally unimodular, so the simplex's vertex optimum is integral (asserted below).
    A lead is left unassigned (-1) only when capacity is short, or when assigning it would
    not add expected conversions (p = 0); the optimum is exact up to HiGHS's 1e-7 tolerance.

    ``fairness=(low, high)`` (e.g. ``(0.8, 1.2)``) adds the fairness band over the whole
    window: every lead is assigned, and each rep with capacity gets between ``low`` and
    ``high`` times the pool average (leads / reps with a cap > 0). The days are then one LP;
    rep-day and rep-window rows form a laminar family, as do the lead rows, so the matrix is
    still totally unimodular and the optimum integral. Raises ``DataValidationError`` when
    no assignment meets the band and the caps.
    """
    p, day, cap, ok = _check(p, day, daily_cap, eligible)
    if fairness is not None:
        rep_index = _solve_fair(p, day, cap, ok, fairness)
        return Assignment(rep_index, _expected(p, rep_index))
    rep_index = np.full(p.shape[0], -1, dtype=np.int64)
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        rep_index[rows] = _solve_day(p[rows], cap, ok[rows])
    return Assignment(rep_index, _expected(p, rep_index))


def _solve_day(
    p: NDArray[np.float64], cap: NDArray[np.int64], ok: NDArray[np.bool_]
) -> NDArray[np.int64]:
    lead, rep = np.nonzero(ok & (cap[None, :] > 0))
    out = np.full(p.shape[0], -1, dtype=np.int64)
    if len(lead) == 0:
        return out
    n_var = len(lead)
    var = np.arange(n_var)
    n_leads, n_reps = p.shape
    a_ub = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(n_var), (lead, var)), shape=(n_leads, n_var)),
            sparse.csr_matrix((np.ones(n_var), (rep, var)), shape=(n_reps, n_var)),
        ]
    ).tocsc()
    b_ub = np.concatenate([np.ones(n_leads), cap.astype(np.float64)])
    res = linprog(-p[lead, rep], A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs-ds")
    if res.status != 0:  # pragma: no cover - a bounded feasible LP always solves
        raise RuntimeError(f"assignment LP failed: {res.message}")
    x = res.x
    assert np.all(np.minimum(np.abs(x), np.abs(x - 1)) < _INTEGRALITY_TOL), "LP not integral"
    chosen = x > 0.5
    out[lead[chosen]] = rep[chosen]
    return out


def _solve_fair(
    p: NDArray[np.float64],
    day: NDArray[np.int64],
    cap: NDArray[np.int64],
    ok: NDArray[np.bool_],
    band: tuple[float, float],
) -> NDArray[np.int64]:
    low, high = band
    if not 0 <= low <= 1 <= high:
        raise DataValidationError(
            f"fairness band {band} must satisfy 0 <= low <= 1 <= high",
            hint="pass e.g. fairness=(0.8, 1.2)",
        )
    n_leads, n_reps = p.shape
    pool = cap > 0
    avg = n_leads / max(int(pool.sum()), 1)
    days, day_pos = np.unique(day, return_inverse=True)
    lead, rep = np.nonzero(ok & pool[None, :])
    n_var = len(lead)
    var = np.arange(n_var)
    ones = np.ones(n_var)
    a_eq = sparse.csr_matrix((ones, (lead, var)), shape=(n_leads, n_var))
    per_day = sparse.csr_matrix((ones, (day_pos[lead] * n_reps + rep, var)),
                                shape=(len(days) * n_reps, n_var))  # fmt: skip
    per_rep = sparse.csr_matrix((ones, (rep, var)), shape=(n_reps, n_var))
    most = np.where(pool, np.floor(high * avg + 1e-9), 0)
    least = np.where(pool, np.ceil(low * avg - 1e-9), 0)
    if n_var == 0:
        raise _unfair(band, avg)
    res = linprog(
        -p[lead, rep],
        A_ub=sparse.vstack([per_day, per_rep, -per_rep]).tocsc(),
        b_ub=np.concatenate([np.tile(cap, len(days)), most, -least]).astype(np.float64),
        A_eq=a_eq.tocsc(),
        b_eq=np.ones(n_leads),
        bounds=(0, 1),
        method="highs-ds",
    )
    if res.status != 0:
        raise _unfair(band, avg)
    x = res.x
    assert np.all(np.minimum(np.abs(x), np.abs(x - 1)) < _INTEGRALITY_TOL), "LP not integral"
    out = np.full(n_leads, -1, dtype=np.int64)
    chosen = x > 0.5
    out[lead[chosen]] = rep[chosen]
    return out


def _unfair(band: tuple[float, float], avg: float) -> DataValidationError:
    return DataValidationError(
        f"no assignment keeps every rep within {band[0]}-{band[1]}x the pool average "
        f"({avg:.1f} leads) under the daily caps",
        hint="widen the fairness band, raise the caps of the smallest reps, or drop "
        "ineligible pairs that leave a rep without enough leads",
    )


def round_robin_assignment(
    p: NDArray[np.float64],
    day: NDArray[np.int64],
    daily_cap: NDArray[np.int64],
    eligible: NDArray[np.bool_] | None = None,
) -> Assignment:
    """Strict rotation in arrival order: each lead goes to the next rep after the previous
    pick (cyclically) who is eligible and under today's cap; the rotation carries over days."""
    p, day, cap, ok = _check(p, day, daily_cap, eligible)
    n_leads, n_reps = p.shape
    rep_index = np.full(n_leads, -1, dtype=np.int64)
    used = np.zeros(n_reps, dtype=np.int64)
    cursor, today = 0, None
    # A Python loop is the definition of a rotation; at most n_reps steps per lead.
    for i in range(n_leads):
        if day[i] != today:
            today, used[:] = day[i], 0
        for step in range(n_reps):
            r = (cursor + step) % n_reps
            if ok[i, r] and used[r] < cap[r]:
                rep_index[i], used[r], cursor = r, used[r] + 1, r + 1
                break
    return Assignment(rep_index, _expected(p, rep_index))


def greedy_assignment(
    p: NDArray[np.float64],
    day: NDArray[np.int64],
    daily_cap: NDArray[np.int64],
    eligible: NDArray[np.bool_] | None = None,
) -> Assignment:
    """Arrival order, each lead to its highest-p eligible rep still under today's cap
    (ties to the lower rep position): what a naive predictive router does."""
    p, day, cap, ok = _check(p, day, daily_cap, eligible)
    n_leads, n_reps = p.shape
    rep_index = np.full(n_leads, -1, dtype=np.int64)
    used = np.zeros(n_reps, dtype=np.int64)
    today = None
    for i in range(n_leads):
        if day[i] != today:
            today, used[:] = day[i], 0
        score = np.where(ok[i] & (used < cap), p[i], -np.inf)
        r = int(np.argmax(score))
        if np.isfinite(score[r]):
            rep_index[i] = r
            used[r] += 1
    return Assignment(rep_index, _expected(p, rep_index))


def _expected(p: NDArray[np.float64], rep_index: NDArray[np.int64]) -> float:
    hit = rep_index >= 0
    return float(p[np.flatnonzero(hit), rep_index[hit]].sum())


def _check(
    p: NDArray[np.float64],
    day: NDArray[np.int64],
    daily_cap: NDArray[np.int64],
    eligible: NDArray[np.bool_] | None,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    p = np.asarray(p, dtype=np.float64)
    day = np.asarray(day)
    cap = np.asarray(daily_cap)
    if p.ndim != 2:
        raise DataValidationError(
            f"p must have shape (n_leads, n_reps), got {p.shape}", hint="pass a 2-D array"
        )
    n_leads, n_reps = p.shape
    if day.shape != (n_leads,) or not np.issubdtype(day.dtype, np.integer):
        raise DataValidationError(
            f"day must be {n_leads} integers (one per lead), got shape {day.shape}",
            hint="pass the day index of each lead, e.g. 0 for the first day",
        )
    if cap.shape != (n_reps,) or not np.issubdtype(cap.dtype, np.integer) or np.any(cap < 0):
        raise DataValidationError(
            f"daily_cap must be {n_reps} non-negative integers, got {cap!r}",
            hint="pass each rep's max_leads_per_day (0 for reps who cannot take leads)",
        )
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise DataValidationError(
            "p must hold probabilities in [0, 1]", hint="check the scorer's output"
        )
    if eligible is None:
        ok = np.ones((n_leads, n_reps), dtype=bool)
    else:
        ok = np.asarray(eligible, dtype=bool)
        if ok.shape != p.shape:
            raise DataValidationError(
                f"eligible must have shape {p.shape}, got {ok.shape}",
                hint="one flag per (lead, rep) pair",
            )
    return p, day.astype(np.int64), cap.astype(np.int64), ok
