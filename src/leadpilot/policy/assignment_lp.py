"""The capacity- and fairness-constrained assignment LP whose duals are the shadow prices
(see :mod:`leadpilot.policy.pricing` for the formulation), solved with scipy's HiGHS."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

__all__ = ["solve_assignment_lp", "warm_up_solver"]


def solve_assignment_lp(
    p: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    weight: float,
    remaining: NDArray[np.float64],
    counts: NDArray[np.float64],
    target: NDArray[np.float64],
    band: tuple[float, float],
    penalty: float,
    future_weight: float = 0.0,
    future_capacity: NDArray[np.float64] | None = None,
    floor: NDArray[np.float64] | None = None,
    floor_rows: NDArray[np.bool_] | None = None,
    floor_penalty: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve the LP of the module docstring; return ``(x, price)``.

    ``p``, ``allowed``: shape ``(n_sample, n_reps)``; ``remaining``, ``counts``, ``target``:
    shape ``(n_reps,)``. With ``future_weight > 0`` the sample also stands for the leads of
    the later days of the fairness window (a second block of variables, each sample lead
    weighing ``future_weight``) under ``future_capacity`` (shape ``(n_reps,)``, the reps'
    capacity over those days); the band then applies to today and those days together.
    ``x`` (today's block) has shape ``(n_sample, n_reps)``, ``price`` shape ``(n_reps,)``
    (per lead): today's capacity dual plus the band's.

    ``floor`` (shape ``(n_reps,)``): development shares, the least leads each rep must
    hold in the window (``counts`` plus planned leads, counting only the sample leads of
    ``floor_rows``, shape ``(n_sample, n_reps)``, all when ``None``); a soft constraint
    (``floor_penalty`` per lead short, so it stays feasible when capacity cannot meet it)
    whose dual lowers the rep's price. Added rows only: without ``floor`` the LP is as above.
    """
    m, n = p.shape
    nx = m * n
    weights = [weight] if future_weight <= 0 else [weight, future_weight]
    k = len(weights)  # blocks of assignment variables: today (and the rest of the window)
    c = np.concatenate([*(-(w * p).ravel() for w in weights), np.full(2 * n, penalty)])
    ident, zero = sp.eye(n), sp.csr_matrix((n, n))
    # one row per sample lead and block (each lead once), one capacity row per rep and block
    each_lead = sp.kron(sp.eye(k * m), np.ones((1, n)))
    per_rep = sp.block_diag([sp.kron(np.ones((1, m)), ident) * w for w in weights])
    in_band = sp.hstack([sp.kron(np.ones((1, m)), ident) * w for w in weights])
    A = sp.vstack(
        [
            sp.hstack([each_lead, sp.csr_matrix((k * m, 2 * n))]),
            sp.hstack([per_rep, sp.csr_matrix((k * n, 2 * n))]),
            sp.hstack([in_band, -ident, zero]),
            sp.hstack([-in_band, zero, -ident]),
        ],
        format="csr",
    )
    low, high = band
    caps = [np.maximum(remaining, 0.0)]
    if k == 2:
        assert future_capacity is not None, "a future block needs future_capacity"
        caps.append(np.maximum(future_capacity, 0.0))
    b = np.concatenate([np.ones(k * m), *caps, high * target - counts, counts - low * target])
    upper = np.concatenate([np.tile(allowed.ravel().astype(float), k), np.full(2 * n, np.inf)])
    if floor is not None:
        A, b, c, upper = _with_floor(
            A, b, c, upper, floor, floor_rows, floor_penalty, counts, in_band
        )
    bounds = np.column_stack([np.zeros(len(c)), upper])
    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs-ds")
    if res.status != 0:  # pragma: no cover - always feasible (x = 0, slacks absorb the band)
        raise RuntimeError(f"assignment LP failed: {res.message}")
    duals = -np.asarray(res.ineqlin.marginals)  # >= 0 multipliers of the <= rows
    cap = duals[k * m : k * m + n]  # today's capacity rows
    over = duals[k * (m + n) : k * (m + n) + n]
    under = duals[k * (m + n) + n : k * (m + n) + 2 * n]
    price = cap + over - under
    if floor is not None:
        price = price - duals[k * (m + n) + 2 * n :]  # a rep short of its share is cheaper
    return np.asarray(res.x[:nx]).reshape(m, n), price


def _with_floor(
    A: sp.csr_matrix,
    b: NDArray[np.float64],
    c: NDArray[np.float64],
    upper: NDArray[np.float64],
    floor: NDArray[np.float64],
    floor_rows: NDArray[np.bool_] | None,
    penalty: float,
    counts: NDArray[np.float64],
    in_band: sp.csr_matrix,
) -> tuple[sp.csr_matrix, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The development-share rows: counts + planned (floor_rows' leads) + short >= floor,
    as ``-planned - short <= counts - floor``, with one ``short`` variable per rep."""
    n = len(floor)
    planned = in_band
    if floor_rows is not None:  # only the sample leads of the rep's segments count
        k = in_band.shape[1] // floor_rows.size if floor_rows.size else 1
        keep = sp.diags(np.tile(floor_rows.ravel().astype(float), k))
        planned = in_band @ keep
    slack_cols = A.shape[1]
    rows = sp.hstack([-planned, sp.csr_matrix((n, slack_cols - planned.shape[1])), -sp.eye(n)])
    A = sp.vstack([sp.hstack([A, sp.csr_matrix((A.shape[0], n))]), rows], format="csr")
    b = np.concatenate([b, counts - floor])
    c = np.concatenate([c, np.full(n, penalty)])
    upper = np.concatenate([upper, np.full(n, np.inf)])
    return A, b, c, upper


def warm_up_solver() -> None:
    """Solve a one-variable LP (a solver process runs this first to load HiGHS)."""
    one = np.ones((1, 1))
    solve_assignment_lp(one, one > 0, 1.0, np.ones(1), np.zeros(1), np.ones(1), (0.8, 1.2), 1.0)
