"""The assignment LP of :mod:`leadpilot.policy.assignment_lp` kept in one HiGHS instance and
re-solved warm: within a day a pool's LP keeps its demand sample, scores and eligibility
mask, and only the leads still expected, the capacity left and the fairness counts change.

The variables are the *amounts* of each sample lead given to each rep (``z = w x`` today,
``y = v x'`` in the later days of the window) rather than shares, so those changes are all
right-hand sides (each lead row's bound is its weight ``w`` or ``v``); the objective and
the matrix stay fixed. The previous optimal basis then stays dual feasible and HiGHS' dual
simplex re-solves from it in a few pivots instead of from scratch. It is the same LP (the
capacity and band rows are the same constraints in ``z``), so the prices mean the same:
today's capacity dual plus the band's. Pairs a rep may not take are left out rather than
bounded at zero.

Across days (the batch router's replay) a pool's sample changes only by the leads that entered
and left it (a *stable* demand sample, :meth:`~leadpilot.policy.demand.DemandModel.from_leads`):
the LP has a fixed number of *slots*, one per sample lead, and :meth:`WarmAssignmentLP.refill`
puts the new day's leads into the slots the departed ones left (their columns' costs and
bounds change; a vacant slot's columns are fixed at 0) and keeps the basis, so a new day is a
warm re-solve of a few changed rows instead of a new model solved from scratch. Every pair has
a column; a pair a rep may not take is bounded at zero.

The batch router caps a re-solve within a day at a number of dual simplex iterations
(``solve(iteration_limit=...)``, ``route_batch(lp_iterations=...)``): the duals reached are
feasible (prices the LP could have) and on their way from the last prices to the new optimum,
an incremental dual update between full solves; a day's first solve runs to the optimum.

HiGHS comes from SciPy's own bindings (``scipy.optimize._highspy``, SciPy >= 1.15);
:func:`warm_lp_available` says whether they import, and the caller falls back to
:func:`~leadpilot.policy.assignment_lp.solve_assignment_lp` (a cold ``linprog``) when not.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["WarmAssignmentLP", "warm_lp_available"]

_INF = 1e30  # HiGHS' default infinity (kHighsInf is inf; 1e30 is read as infinite too)
_NO_LIMIT = 2**31 - 1  # HiGHS' default simplex_iteration_limit (kHighsIInf)


def _core() -> Any:
    try:
        from scipy.optimize._highspy import _core
    except ImportError:  # pragma: no cover - SciPy < 1.15 ships no Python-level HiGHS
        return None
    return _core


def warm_lp_available() -> bool:
    """Whether SciPy's HiGHS bindings import (else prices are solved cold by linprog)."""
    return _core() is not None


class WarmAssignmentLP:
    """One pool's assignment LP on a sample: ``p`` and ``allowed`` of shape ``(n_rows,
    n_reps)``, ``penalty`` the band's price per lead; always with the later-days block (its
    weight 0 switches it off). :meth:`solve` takes what changes between refreshes and returns
    the price of each rep, as ``solve_assignment_lp`` does. ``keys`` (one per row, e.g. the
    sample leads' ids) name the rows for :meth:`refill`; ``slots`` (>= ``n_rows``, default
    ``n_rows``) is how many rows the LP can hold."""

    def __init__(
        self,
        p: NDArray[np.float64],
        allowed: NDArray[np.bool_],
        penalty: float,
        *,
        keys: Sequence[Hashable] | None = None,
        slots: int | None = None,
    ) -> None:
        core = _core()
        assert core is not None, "WarmAssignmentLP needs scipy.optimize._highspy"
        rows_in, n = p.shape
        if np.isnan(p).any():  # HiGHS would solve a NaN objective and call it optimal
            raise ValueError("the price LP has a NaN score")
        m = max(rows_in, slots or 0)
        self.m, self.n = m, n
        self.pairs = m * n
        # Columns: z (today, slot-major: slot s, rep r at s n + r), y (later days, the same
        # pairs), over, under.
        num_col = 2 * m * n + 2 * n
        # Rows: today's lead rows (m), later lead rows (m), capacity today (n), capacity
        # later (n), band high (n), band low (n).
        num_row = 2 * m + 4 * n
        self._lead_today, self._lead_later = 0, m
        self._cap_today, self._cap_later = 2 * m, 2 * m + n
        self._high, self._low = 2 * m + 2 * n, 2 * m + 3 * n
        rows, cols = np.divmod(np.arange(m * n), n)
        # Column-wise matrix: each pair column has 4 entries (its lead row, its rep's capacity
        # row, the band rows +1 / -1), the slacks one each.
        starts, index, value = [], [], []
        pos = 0
        for block in (0, 1):
            lead_row = (self._lead_today if block == 0 else self._lead_later) + rows
            cap_row = (self._cap_today if block == 0 else self._cap_later) + cols
            idx = np.column_stack([lead_row, cap_row, self._high + cols, self._low + cols])
            val = np.tile([1.0, 1.0, 1.0, -1.0], (m * n, 1))
            starts.append(pos + 4 * np.arange(m * n))
            index.append(idx.ravel())
            value.append(val.ravel())
            pos += 4 * m * n
        starts.append(pos + np.arange(n))  # over_r in the high row
        index.append(self._high + np.arange(n))
        value.append(np.full(n, -1.0))
        pos += n
        starts.append(pos + np.arange(n))  # under_r in the low row
        index.append(self._low + np.arange(n))
        value.append(np.full(n, -1.0))
        pos += n
        a_start = np.concatenate(starts).astype(np.int32)
        a_index = np.concatenate(index).astype(np.int32)
        a_value = np.concatenate(value).astype(np.float64)
        gain = np.zeros((m, n))
        gain[:rows_in] = -p
        open_ = np.zeros((m, n), dtype=bool)
        open_[:rows_in] = allowed
        upper_pairs = np.where(open_, _INF, 0.0).ravel()
        cost = np.concatenate([gain.ravel(), gain.ravel(), np.full(2 * n, float(penalty))])
        lower = np.zeros(num_col)
        upper = np.concatenate([upper_pairs, upper_pairs, np.full(2 * n, _INF)])
        row_lower = np.full(num_row, -_INF)
        row_upper = np.zeros(num_row)
        self._highs = highs = core._Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("solver", "simplex")
        highs.setOptionValue("simplex_strategy", 1)  # dual simplex: warm after RHS changes
        # Devex pricing, not the default dual steepest edge: on a replay's recorded LPs (20
        # days at ~110 leads a day, 98 warm solves) it took 508 iterations per solve instead
        # of 850 and ~40% less CPU, for the same prices (to 2e-15).
        highs.setOptionValue("simplex_dual_edge_weight_strategy", 1)
        highs.setOptionValue("random_seed", 0)
        highs.passModel(
            num_col, num_row, len(a_value), 1, 1, 0.0,
            cost, lower, upper, row_lower, row_upper, a_start, a_index, a_value,
            np.zeros(num_col, dtype=np.int32),  # integrality: all continuous
        )  # fmt: skip
        self._rhs = row_upper
        self._keys: list[Hashable | None] = [None] * m
        if keys is not None:
            if len(keys) != rows_in:
                raise ValueError(f"{len(keys)} keys for {rows_in} rows")
            self._keys[:rows_in] = list(keys)
        self.owners: list[object] = []  # objects whose ids are keys: kept alive by the caller
        self.solves = 0
        self.refilled = 0  # rows replaced by refill, all told
        # The basis the last solve after a refill ended at (in the batch router, a day's
        # first solve), and whether the rows changed since the last solve: see ``solve``.
        self._day_basis: Any = None
        self._rows_changed = False
        self.objective = float("nan")  # the last solve's optimal value (minimised)
        # whether the last solve stopped at its iteration limit (its prices are the duals
        # reached, not the optimum's), and the dual simplex iterations of all solves
        self.incomplete = False
        self.iterations = 0

    def refill(
        self, keys: Sequence[Hashable], p: NDArray[np.float64], allowed: NDArray[np.bool_]
    ) -> bool:
        """Make the LP's rows those of ``keys`` (unique; a key's ``p`` and ``allowed`` rows
        must be the ones it had before, if it had a slot): rows whose key is still wanted keep
        their slot, the others' slots take the new keys' rows or fall vacant. The basis is
        kept. False (and nothing changed) when there are more keys than slots."""
        if len(keys) > self.m:
            return False
        if len(set(keys)) != len(keys):
            raise ValueError("refill needs unique keys")
        slot_of = {k: s for s, k in enumerate(self._keys) if k is not None}
        if len(slot_of) == len(keys) and all(k in slot_of for k in keys):
            return True  # the same rows (the usual refresh within a day)
        wanted = set(keys)
        free = [s for s, k in enumerate(self._keys) if k is None or k not in wanted]
        fresh = [i for i, k in enumerate(keys) if k not in slot_of]
        filled = free[: len(fresh)]
        vacated = free[len(fresh) :]
        n = self.n
        if fresh and np.isnan(p[fresh]).any():
            raise ValueError("the price LP has a NaN score")
        gain = np.zeros((len(free), n))
        open_ = np.zeros((len(free), n), dtype=bool)
        if fresh:
            gain[: len(fresh)] = -p[fresh]
            open_[: len(fresh)] = allowed[fresh]
        for i, s in zip(fresh, filled, strict=True):
            self._keys[s] = keys[i]
        for s in vacated:
            self._keys[s] = None
        slots = np.asarray(free, dtype=np.int64)
        pair_cols = (slots[:, None] * n + np.arange(n)).ravel()
        cols = np.concatenate([pair_cols, pair_cols + self.m * n]).astype(np.int32)
        costs = np.tile(gain.ravel(), 2)
        uppers = np.tile(np.where(open_, _INF, 0.0).ravel(), 2)
        highs = self._highs
        highs.changeColsCost(len(cols), cols, costs)
        highs.changeColsBounds(len(cols), cols, np.zeros(len(cols)), uppers)
        self.refilled += len(fresh)
        self._rows_changed = self._rows_changed or bool(fresh or vacated)
        return True

    def solve(
        self,
        weight: float,
        remaining: NDArray[np.float64],
        counts: NDArray[np.float64],
        target: NDArray[np.float64],
        band: tuple[float, float],
        future_weight: float = 0.0,
        future_capacity: NDArray[np.float64] | None = None,
        iteration_limit: int | None = None,
    ) -> NDArray[np.float64]:
        """The price of each rep (today's capacity dual plus the band's), shape
        ``(n_reps,)``; arguments as :func:`solve_assignment_lp`'s.

        ``iteration_limit``: a re-solve with the same rows as the last solve (not the first
        solve, not after a refill) stops after that many dual simplex iterations, and the
        prices are the duals it reached (see ``incomplete``): an incremental dual update.
        The dual simplex keeps its duals feasible at every iteration (prices the LP could
        have, each pair's reduced cost of the right sign) and moves them towards the new
        optimum, starting from the last solve's; the next re-solve continues from there, so
        a capped update is never further from the optimum than the prices it replaces."""
        m, n = self.m, self.n
        low, high = band
        later = max(future_weight, 0.0)
        rhs = np.concatenate(
            [
                np.full(m, float(weight)),
                np.full(m, later),
                np.maximum(remaining, 0.0),
                np.maximum(future_capacity, 0.0)
                if later > 0 and future_capacity is not None
                else np.zeros(n),
                high * target - counts,
                counts - low * target,
            ]
        )
        if np.isnan(rhs).any():  # HiGHS would refuse the bound and keep the previous one
            raise ValueError("the price LP has a NaN input (a count, a capacity or a target)")
        highs = self._highs
        for i in np.flatnonzero(rhs != self._rhs):
            highs.changeRowBounds(int(i), -_INF, float(rhs[i]))
        self._rhs = rhs
        # After a refill (a new day's sample in the batch router) the re-solve starts from
        # the basis the previous refill's solve ended at (the day before's first solve),
        # not the last one (the day before's end, its capacity spent): the start of a day
        # is more like the start of the day before. Measured on a replay's recorded LPs
        # (20 days): 1,058 -> 855 dual simplex iterations for a day's first solve, the same
        # prices (to 2e-15). Any basis gives the same optimum; only the path differs.
        fresh = self._rows_changed
        if fresh and self._day_basis is not None:
            highs.setBasis(self._day_basis)
        capped = iteration_limit is not None and not fresh and self.solves > 0
        if capped:
            highs.setOptionValue("simplex_iteration_limit", int(iteration_limit))  # type: ignore[arg-type]
        try:
            highs.run()
        finally:
            if capped:
                highs.setOptionValue("simplex_iteration_limit", _NO_LIMIT)
        if fresh:
            self._day_basis = highs.getBasis()
            self._rows_changed = False
        self.solves += 1
        status = highs.modelStatusToString(highs.getModelStatus())
        self.incomplete = status == "Iteration limit reached" and capped
        if status != "Optimal" and not self.incomplete:  # pragma: no cover - always feasible
            raise RuntimeError(f"assignment LP failed: {status}")
        self.iterations += int(highs.getInfo().simplex_iteration_count)
        self.objective = float(highs.getInfo().objective_function_value)
        duals = -np.asarray(highs.getSolution().row_dual)
        cap = duals[self._cap_today : self._cap_today + n]
        over = duals[self._high : self._high + n]
        under = duals[self._low : self._low + n]
        return np.asarray(cap + over - under, dtype=np.float64)
