"""The shadow pricer: prices per pool from the assignment LP on the expected lead mix,
cached and refreshed as the day fills, and the refresh a caller runs before routing.

:func:`refresh_prices` is what the router's callers run before ``route``: it asks the router
which pool's prices the lead would read (:func:`leadpilot.policy.router.priced_pool`), reads
that pool's load (capacity left today, the fairness window) from the state, and puts the
pool's prices into the router inputs. Prices are refreshed every
``max(refresh_every, pool size / 4)`` assignments of the day, whenever another tenth of the
pool reaches a cap, and at each new day; in between the cached prices serve (the batch
router passes its own cadence instead: every ``refresh_every`` assignments of the day and at
each new day, see :func:`refresh_prices`). Batch routing solves a due refresh
synchronously, so ``route-batch`` is a deterministic function of its inputs. The service
gives the pricer a ``solver`` (a one-process pool): a due refresh then runs in that process
while requests keep the pool's latest prices (stale-while-refresh), so no request waits for
the LP. A process, not a thread, because HiGHS holds the GIL for the whole solve; and at a
lower CPU priority (:func:`solver_pool`), because on a two-core host a solve otherwise takes
the request thread's core for scheduler slices of several ms. Either way ``route`` itself
only reads the snapshot it is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.assignment_lp import solve_assignment_lp
from leadpilot.policy.availability import is_away, rep_zone
from leadpilot.policy.demand import DemandModel, later_window_days
from leadpilot.policy.development import floors, standings
from leadpilot.policy.eligibility import Checker
from leadpilot.policy.fairness import period_horizon, planning_band
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.lead_history import LeadHistory, as_history
from leadpilot.policy.objective import objective_scale, uses_values
from leadpilot.policy.policy_file import Policy, Pool
from leadpilot.policy.pool_load import daily_cap, member_load, pool_load
from leadpilot.policy.roster_memo import PoolRows
from leadpilot.policy.router import lead_view, priced_pool, route, route_repriced, select_pool
from leadpilot.policy.scoring import qualify, segment_of
from leadpilot.policy.state import RoutingState
from leadpilot.policy.warm_lp import WarmAssignmentLP, warm_lp_available
from leadpilot.schema import BatchScorer, Decision, Lead, Rep, Scorer

__all__ = [
    "SOLVER_NICENESS",
    "ShadowPricer",
    "pool_prices",
    "refresh_prices",
    "route_priced",
    "solver_pool",
]

log = logging.getLogger("leadpilot.pricing")

# How much lower the solver process's CPU priority is than its parent's (as retraining's).
SOLVER_NICENESS = 10


def solver_pool() -> ProcessPoolExecutor:
    """The one-process pool that solves background price refreshes (``ShadowPricer``'s
    ``solver``), its process ``SOLVER_NICENESS`` below the caller's priority. Why: with a
    refresh in flight during most decisions, a solver at the request thread's priority
    shares its core with it and the scheduler preempts decisions for whole slices (the
    500-rep p99 was set by that wait, not by CPU); requests come first, the solve uses what
    they leave. Spawn, not fork: the server process has threads (uvicorn, the worker)."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_lower_priority,
    )


def _lower_priority() -> None:
    with contextlib.suppress(OSError):  # already at the lowest priority, or not allowed
        os.nice(SOLVER_NICENESS)


class ShadowPricer:
    """Prices per pool, refreshed as the day fills (every ``refresh_every`` assignments in the
    pool, when a rep reaches a cap, and at each new day). Scores of the demand sample are
    computed once per (scorer version, pool roster) and cached.

    Between refreshes prices are reused, so a replica's prices depend on when it last
    refreshed; each refresh depends only on the state it reads.

    With a ``solver`` (an executor, e.g. a one-process pool), a refresh that is due for a
    pool which already has prices runs in the solver while the request gets the pool's
    latest prices; the new prices serve the requests that come after it finishes. Staleness
    is bounded by one solve (tens of milliseconds plus the queue, never more than one refresh
    in flight per pool) and only steers the choice: caps, away and eligibility are hard
    checks made on live counts by the router, so stale prices never over-assign. A pool's
    first prices (and any refresh when the solver fails) are solved synchronously.
    """

    def __init__(
        self,
        demand: DemandModel,
        *,
        max_cells: int = 9_000,
        max_rows: int | None = None,
        solver: Executor | None = None,
        warm: bool = True,
        rows: dict[tuple[object, ...], dict[int, tuple[Lead, Any]]] | None = None,
        lps: dict[tuple[object, ...], WarmAssignmentLP] | None = None,
        lp_iterations: int | None = None,
    ) -> None:
        self.demand = demand
        # A warm re-solve within a day stops after this many dual simplex iterations (an
        # incremental dual update, see ``WarmAssignmentLP.solve``); None: to the optimum.
        self.lp_iterations = lp_iterations
        # Per sample lead, its score row and mask row, shared by the pricers of successive
        # days (the batch router's): a day's sample is mostly yesterday's leads, and a lead's
        # rows do not depend on the other leads (nor on the day: the mask is the static
        # eligibility, cached per pricer under ``allowed_key`` alone). Keyed by the lead
        # object's id, which the entry keeps alive.
        self._rows = rows
        # Synchronous refreshes re-solve each pool's LP warm (see leadpilot.policy.warm_lp);
        # ``warm=False`` solves every refresh from scratch with linprog (the reference).
        self.warm = warm and warm_lp_available()
        # ``lps``: the warm LPs shared by the pricers of successive days (the batch router's):
        # with a stable demand sample a new day refills the few rows whose leads changed
        # (``WarmAssignmentLP.refill``) and re-solves from the day before's basis.
        self._warm: dict[tuple[object, ...], WarmAssignmentLP] = {} if lps is None else lps
        # The LP has n_sample x n_reps variables; big pools use fewer sample leads so a
        # refresh stays around tens of milliseconds.
        self.max_cells = max_cells
        # ... and at most ``max_rows`` sample leads whatever the pool (None: the sample's).
        self.max_rows = max_rows
        self.solver = solver
        self._scores: dict[tuple[object, ...], NDArray[np.float64]] = {}
        self._prices: dict[tuple[object, ...], dict[str, float]] = {}
        self._masks: dict[tuple[object, ...], NDArray[np.bool_]] = {}
        self._latest: dict[tuple[object, ...], dict[str, float]] = {}
        self._in_flight: set[tuple[object, ...]] = set()
        self._lock = threading.Lock()
        self.refreshes = 0
        self.background_refreshes = 0

    def adopt_latest(self, other: ShadowPricer) -> None:
        """Start from ``other``'s latest prices per pool (a rebuilt pricer keeps serving
        them until its own first background refresh)."""
        with other._lock:
            latest = dict(other._latest)
        with self._lock:
            self._latest.update(latest)

    def sample_scores(
        self,
        scorer: Scorer,
        rep_ids: tuple[str, ...],
        hours: tuple[float, ...] | None = None,
        rows: NDArray[np.intp] | None = None,
    ) -> NDArray[np.float64]:
        """``p`` of every demand-sample lead for every rep, shape ``(n_sample, n_reps)``,
        with each rep's expected response ``hours`` when given (as the live scores are);
        ``rows``: only those sample leads, in that order (the LP's; a lead's scores do not
        depend on the other leads scored with it)."""
        key = (scorer.version, rep_ids, hours, None if rows is None else rows.tobytes())
        cached = self._scores.get(key)
        if cached is None:
            h = None if hours is None else np.asarray(hours, dtype=float)
            sample = self.demand.sample
            leads = list(sample) if rows is None else [sample[int(i)] for i in rows]
            cached = self._by_row(
                ("scores", *key[:3]),
                leads,
                lambda todo: self._score_leads(scorer, todo, rep_ids, h),
                len(rep_ids),
                np.float64,
            )
            self._scores[key] = cached
        return cached

    @staticmethod
    def _score_leads(
        scorer: Scorer,
        leads: Sequence[Lead],
        rep_ids: tuple[str, ...],
        h: NDArray[np.float64] | None,
    ) -> NDArray[np.float64]:
        if isinstance(scorer, BatchScorer):  # one vectorised call, the same numbers
            return scorer.score_batch(leads, rep_ids, expected_response_hours=h).p
        scored = [
            scorer.score_candidates(lead, rep_ids, expected_response_hours=h).p for lead in leads
        ]
        return np.vstack(scored) if scored else np.zeros((0, len(rep_ids)))

    def _by_row(
        self,
        key: tuple[object, ...],
        leads: Sequence[Lead],
        compute: Callable[[Sequence[Lead]], NDArray[Any]],
        width: int,
        dtype: Any,
    ) -> NDArray[Any]:
        """``compute(leads)`` (one row per lead), reusing the rows of leads already computed
        under ``key`` by this pricer's predecessors (see ``rows``)."""
        if self._rows is None:
            return compute(leads)
        known = self._rows.setdefault(key, {})
        todo = list({id(lead): lead for lead in leads if id(lead) not in known}.values())
        if todo:
            fresh = compute(todo)
            for lead, row in zip(todo, fresh, strict=True):
                known[id(lead)] = (lead, np.array(row, copy=True))
        out = np.zeros((len(leads), width), dtype=dtype)
        for i, lead in enumerate(leads):
            out[i] = known[id(lead)][1]
        return out

    def cached(
        self, key: tuple[object, ...], pool_key: tuple[object, ...] | None = None
    ) -> dict[str, float] | None:
        """What :meth:`prices` answers without building a problem, if anything: the prices
        stored under ``key``, else (given ``pool_key``) the pool's latest while a refresh of
        it is in flight. Why: in the service about half the leads arrive while a refresh
        runs, and the pool's load, hours and caps a problem needs were built for nothing."""
        with self._lock:
            found = self._prices.get(key)
            if found is None and pool_key is not None and pool_key in self._in_flight:
                found = self._latest.get(pool_key)
            return found

    def sample_values(
        self, inputs: RouterInputs, rep_ids: tuple[str, ...]
    ) -> NDArray[np.float64] | None:
        """E(value) of every demand-sample lead for every rep under the policy's value
        objective (``None`` for conversions), cached per (value model, objective, reps)."""
        model, objective = inputs.value_model, inputs.policy.objective
        if model is None or objective == "conversions":
            return None
        key = ("value", model.version, objective, rep_ids)
        cached = self._scores.get(key)
        if cached is None:
            cached = np.asarray(model.value_batch(self.demand.sample, rep_ids, objective))
            self._scores[key] = cached
        return cached

    def prices(
        self,
        *,
        key: tuple[object, ...],
        pool_reps: Sequence[Rep],
        scorer: Scorer,
        allowed: Callable[[Sequence[Lead], Sequence[Rep]], NDArray[np.bool_]],
        allowed_key: tuple[object, ...],
        remaining: NDArray[np.float64],
        counts: NDArray[np.float64],
        share: NDArray[np.float64],
        now: datetime,
        horizon_hours: float,
        band: tuple[float, float],
        penalty: float,
        pool_key: tuple[object, ...] | None = None,
        sample_hours: tuple[float, ...] | None = None,
        arrived_today: float | None = None,
        elapsed_hours: float = 0.0,
        window_days: float = 0.0,
        daily_caps: NDArray[np.float64] | None = None,
        sample_values: NDArray[np.float64] | None = None,
        min_share: NDArray[np.float64] | None = None,
        share_rows: NDArray[np.bool_] | None = None,
        share_held: NDArray[np.float64] | None = None,
        share_base: NDArray[np.float64] | None = None,
    ) -> dict[str, float]:
        """The price of each pool rep. ``share`` (shape ``(n_reps,)``, sums to 1) is each
        rep's fair share of the pool's leads.

        ``allowed(sample, reps)`` gives the ``(n_sample, n_reps)`` mask of which rep may take
        which sample lead in this pool (cached under ``allowed_key``). Prices are cached under
        ``key``, which the router builds from the day, the reps at a cap and the count bucket.
        ``pool_key`` names the pool's line of prices across keys (pool, policy, scorer): with
        a ``solver``, a missing ``key`` is answered with the latest prices of ``pool_key``
        while the refresh runs in the solver. ``sample_hours``: each pool rep's expected
        response hours for scoring the demand sample (the scorer's own default when None);
        the live scores and the sample's must be on the same footing, or the LP plans
        leads for reps the live scores never pick. ``arrived_today``: the pool's leads in the
        ``elapsed_hours`` before ``now`` (its day so far), which update the expected volume
        of the rest of the day (:meth:`DemandModel.rest_of_day`); ``None`` uses the level.
        ``sample_values``: E(value) of each demand-sample lead with each pool rep, shape
        ``(n_sample, n_reps)``, under a value objective: the LP then plans ``p x value``
        (``penalty`` must be in the same unit, see :mod:`leadpilot.policy.objective`).
        ``min_share`` (shape ``(n_reps,)``): development shares (:mod:`leadpilot.policy.
        development`) of the window's leads, met from the sample leads of ``share_rows``
        (shape ``(n_sample, n_reps)``; all when ``None``): a constraint of the LP.
        ``share_held`` / ``share_base`` (shape ``(n_reps,)``): each rep's window leads that
        count towards its share and the pool's (``counts`` and their sum when ``None``).
        """
        with self._lock:
            cached = self._prices.get(key)
            latest = self._latest.get(pool_key) if pool_key is not None else None
            refreshing = pool_key in self._in_flight
        if cached is not None:
            return cached
        if latest is not None and refreshing:
            return latest  # the refresh under way serves this key's successors
        rep_ids = tuple(r.rep_id for r in pool_reps)
        # The mask and sample scores are built here (cached), in the caller's thread: the
        # ``allowed`` callback may read the caller's state; the solver only gets arrays.
        mask = self._masks.get(allowed_key)
        if mask is None:
            mask = self._by_row(
                ("mask", *allowed_key),
                list(self.demand.sample),
                lambda todo: allowed(todo, pool_reps),
                len(pool_reps),
                bool,
            )
            self._masks[allowed_key] = mask
        in_pool = np.flatnonzero(mask.any(axis=1)) if mask.size else np.zeros(0, dtype=int)
        pool_share = len(in_pool) / max(len(self.demand.sample), 1)
        keep = max(30, self.max_cells // max(len(rep_ids), 1))
        if self.max_rows is not None:
            keep = max(1, min(keep, self.max_rows))
        if len(in_pool) > keep:  # evenly spaced in time: deterministic, keeps the time spread
            if self.demand.ranked:  # (a stable sample is in rank order)
                sample = self.demand.sample
                at = [sample[int(i)].created_at for i in in_pool]
                in_pool = in_pool[sorted(range(len(in_pool)), key=lambda k: at[k])]  # type: ignore[arg-type,return-value]
            in_pool = in_pool[np.linspace(0, len(in_pool) - 1, keep).astype(int)]
        if arrived_today is None or pool_share <= 0:
            expected = self.demand.expected_arrivals(now, horizon_hours) * pool_share
        else:  # the pool's arrivals today, scaled to all leads, update the level
            expected = pool_share * self.demand.rest_of_day(
                now, horizon_hours, arrived=arrived_today / pool_share, elapsed_hours=elapsed_hours
            )
        future, future_cap, days = 0.0, None, 0.0
        if window_days > 0 and daily_caps is not None:
            level = self.demand.leads_per_day * pool_share
            days = later_window_days(
                window_days * self.demand.active_day_share,
                max(float(counts.sum()) - (arrived_today or 0.0), 0.0),
                level,
            )
            if days > 0:
                future = days * level
                future_cap = np.minimum(daily_caps, 1e6) * days
        # the fairness guard's horizon (policy.fairness.band_guard), carried with the prices
        ahead = self.demand.day_fraction(now, horizon_hours)
        horizon = period_horizon(
            float(counts.sum()),
            expected,
            days,
            self.demand.week_level * pool_share,
            max(self.demand.busy_level * pool_share, expected / ahead if ahead > 0 else 0.0),
        )
        if not (len(in_pool) and expected > 0 and rep_ids):
            return self._store(key, pool_key, {**dict.fromkeys(rep_ids, 0.0), **horizon})
        p = self.sample_scores(scorer, rep_ids, sample_hours, in_pool)
        if sample_values is not None:
            p = p * sample_values[in_pool]
        target = (float(counts.sum()) + expected + future) * share
        problem: tuple[object, ...] = (
            p,
            mask[in_pool],
            expected / len(in_pool),
            np.array(remaining, dtype=float),
            np.array(counts, dtype=float),
            target,
            band,
            penalty,
            future / len(in_pool),
            future_cap,
        )
        if min_share is not None:
            # Short of a share costs more than any lead can gain elsewhere: a hard
            # constraint whenever capacity allows it.
            rows = share_rows[in_pool] if share_rows is not None else None
            qualifying = rows.mean(axis=0) if rows is not None else 1.0
            base = share_base if share_base is not None else float(counts.sum())
            held = share_held if share_held is not None else counts
            floor = min_share * (base + (expected + future) * qualifying)
            # The LP's share rows read "counts + planned >= floor": with the rep's own
            # qualifying leads in place of its window count.
            floor = floor - held + counts
            problem = (*problem, floor, rows, 1.0 + 2.0 * float(p.max()) + 2.0 * penalty)
        background = latest is not None and self.solver is not None and pool_key is not None
        if background and self._submit(key, pool_key, rep_ids, problem, horizon):  # type: ignore[arg-type]
            return latest  # type: ignore[return-value]
        try:
            if self.warm and min_share is None:
                # the LP's sample, scores (and values: ``pool_key``), mask and penalty
                lp_key = (allowed_key, scorer.version, pool_key, rep_ids, sample_hours, penalty)
                lp = self._warm.get(lp_key)
                # a row's scores and mask depend only on its lead under ``lp_key``: the lead
                # names the row (the pricer or ``rows`` keeps the lead object alive)
                sample = self.demand.sample
                keys = [id(sample[int(i)]) for i in in_pool]
                if lp is None or not lp.refill(keys, p, mask[in_pool]):
                    slots = min(keep, len(sample))
                    lp = WarmAssignmentLP(p, mask[in_pool], penalty, keys=keys, slots=slots)
                    self._warm[lp_key] = lp
                lp.owners = [sample[int(i)] for i in in_pool]  # the ids stay these leads'
                price = solve_warm(lp, problem, self.lp_iterations)
            else:  # development shares add rows the warm LP does not hold: solved cold
                _x, price = solve_assignment_lp(*problem)  # type: ignore[arg-type]
        except ValueError as exc:
            # A NaN input (a score, a count): no prices rather than no decision. Prices only
            # steer the choice (caps, away and eligibility are checked on live counts), so
            # the lead is routed on the pool's latest prices, or none; nothing is stored, so
            # the next lead tries again.
            log.warning("shadow prices not refreshed for pool %s: %s", pool_key, exc)
            return latest if latest is not None else {**dict.fromkeys(rep_ids, 0.0), **horizon}
        return self._store(key, pool_key, {**_by_rep(rep_ids, price), **horizon})

    def _submit(
        self,
        key: tuple[object, ...],
        pool_key: tuple[object, ...],
        rep_ids: tuple[str, ...],
        problem: tuple[object, ...],
        horizon: Mapping[str, float],
    ) -> bool:
        """Queue a refresh in the solver (one in flight per pool); False if it failed."""
        assert self.solver is not None
        with self._lock:
            if pool_key in self._in_flight:
                return True
            self._in_flight.add(pool_key)
        try:
            future = self.solver.submit(solve_in_solver, problem)
        except RuntimeError:  # shut down or broken pool: the caller solves synchronously
            with self._lock:
                self._in_flight.discard(pool_key)
            return False

        def done(fut: Future[NDArray[np.float64]]) -> None:
            try:
                price = fut.result()
            except Exception:  # next due refresh retries; requests keep the latest prices
                log.exception("background shadow-price refresh failed")
                with self._lock:
                    self._in_flight.discard(pool_key)
                return
            prices = {**_by_rep(rep_ids, price), **horizon}
            self._store(key, pool_key, prices, background=True)

        future.add_done_callback(done)
        return True

    def _store(
        self,
        key: tuple[object, ...],
        pool_key: tuple[object, ...] | None,
        prices: dict[str, float],
        *,
        background: bool = False,
    ) -> dict[str, float]:
        with self._lock:
            if len(self._prices) > 256:  # old days and buckets are never asked for again
                self._prices.clear()
            self._prices[key] = prices
            if pool_key is not None:
                self._latest[pool_key] = prices
                self._in_flight.discard(pool_key)
            self.refreshes += 1
            self.background_refreshes += background
        return prices


def solve_warm(
    lp: WarmAssignmentLP, problem: tuple[object, ...], iteration_limit: int | None = None
) -> NDArray[np.float64]:
    """``lp``'s prices for ``problem`` (``solve_assignment_lp``'s arguments, whose ``p``,
    mask and penalty ``lp`` was built with); ``iteration_limit``: see
    ``WarmAssignmentLP.solve``."""
    _p, _mask, weight, remaining, counts, target, band, _penalty, future, future_cap = problem
    return lp.solve(
        weight,  # type: ignore[arg-type]
        remaining,  # type: ignore[arg-type]
        counts,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        band,  # type: ignore[arg-type]
        future,  # type: ignore[arg-type]
        future_cap,  # type: ignore[arg-type]
        iteration_limit,
    )


# The solver process's warm LPs, by the digest of what fixes one (scores, mask, penalty),
# most recently used last: a pool's refreshes within a day share their sample, so each is
# a warm re-solve of changed right-hand sides (~8 ms for 100 reps) instead of a cold
# linprog (~80 ms, which at 100 leads/s kept the solver busy for 0.3 of a core).
_SOLVER_LPS: dict[bytes, WarmAssignmentLP] = {}
_SOLVER_LPS_KEPT = 8
# A HiGHS instance must not be solved by two threads at once (it crashes the process); the
# service's solver process runs one job at a time, but ``ShadowPricer(solver=...)`` takes
# any executor.
_SOLVER_LOCK = threading.Lock()


def solve_in_solver(problem: tuple[object, ...]) -> NDArray[np.float64]:
    """The prices of ``problem`` (``solve_assignment_lp``'s arguments) at the LP's optimum,
    re-solved warm from the last solve with the same scores, mask and penalty in this
    process when there was one (a background refresh, in the solver process), else cold.
    Where the optimal prices are not unique (a degenerate LP) they may differ from a cold
    solve's; the optimum is the same. A non-finite input raises ``ValueError``, as
    ``linprog`` does (HiGHS would keep the previous bound or solve a NaN objective)."""
    if len(problem) != 10 or not warm_lp_available():  # development shares: solved cold
        return solve_assignment_lp(*problem)[1]  # type: ignore[arg-type]
    p, mask, penalty = problem[0], problem[1], problem[7]
    assert isinstance(p, np.ndarray)
    assert isinstance(mask, np.ndarray)
    numbers = [p, *(np.asarray(v, dtype=float) for v in problem[2:] if v is not None)]
    if not all(np.isfinite(v).all() for v in numbers):
        raise ValueError("the price LP has a non-finite input (a score, a count or a capacity)")
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(p.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(p, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(mask, dtype=bool).tobytes())
    digest.update(np.float64(penalty).tobytes())  # type: ignore[arg-type]
    key = digest.digest()
    with _SOLVER_LOCK:
        lp = _SOLVER_LPS.pop(key, None)
        if lp is None:
            lp = WarmAssignmentLP(p, mask, float(penalty))  # type: ignore[arg-type]
            while len(_SOLVER_LPS) >= _SOLVER_LPS_KEPT:
                _SOLVER_LPS.pop(next(iter(_SOLVER_LPS)))
        _SOLVER_LPS[key] = lp
        return solve_warm(lp, problem)


def _by_rep(rep_ids: tuple[str, ...], price: NDArray[np.float64]) -> dict[str, float]:
    return {rep: float(v) for rep, v in zip(rep_ids, price, strict=True)}


def refresh_prices(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    pricer: ShadowPricer | None,
    declined: frozenset[str] | LeadHistory = frozenset(),
    *,
    refresh_every: int | None = None,
) -> RouterInputs:
    """``inputs`` with the prices ``route(lead, ...)`` will read brought up to date by
    ``pricer`` (solved now, or with a solver the pool's latest while a refresh runs);
    ``inputs`` unchanged when the lead reads no prices or there is no pricer.
    ``refresh_every``: refresh every that many assignments of the pool's day (and at each
    new day) instead of the policy's cadence (``predictive.refresh_every``, at least a
    quarter of the pool, and whenever another tenth of the pool reaches a cap): the batch
    router's cadence."""
    if pricer is None or inputs.scorer is None:
        return inputs
    pool = priced_pool(lead, inputs, state, now, declined)
    if pool is None:
        return inputs
    hard = as_history(declined).declined
    prices = pool_prices(pricer, pool, inputs, state, now, hard, refresh_every=refresh_every)
    return inputs.with_prices(pool.name, prices)


def route_priced(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    rng: np.random.Generator,
    pricer: ShadowPricer | None,
    declined: frozenset[str] | LeadHistory = frozenset(),
) -> tuple[Decision, RouterInputs]:
    """``refresh_prices`` then ``route`` (the service's decision, one lead at a time), with
    the roster screened once instead of twice (``route_repriced``): the same decision.
    Returns it and the inputs with the pool's refreshed prices, for the next lead."""
    if pricer is None or inputs.scorer is None:
        return route(lead, inputs, state, now, rng, declined), inputs
    hard = as_history(declined).declined

    def reprice(pool: Pool, current: RouterInputs) -> RouterInputs:
        return current.with_prices(pool.name, pool_prices(pricer, pool, current, state, now, hard))

    return route_repriced(lead, inputs, state, now, rng, reprice, declined)


def pool_prices(
    pricer: ShadowPricer,
    pool: Pool,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    declined: frozenset[str] = frozenset(),
    *,
    refresh_every: int | None = None,
) -> dict[str, float]:
    """The shadow price of each active member of ``pool`` at ``now`` (``pricer.prices``
    with the pool's load read from ``state``). Needs a scorer. ``refresh_every``: see
    :func:`refresh_prices`."""
    policy, scorer = inputs.policy, inputs.scorer
    assert scorer is not None, "shadow prices need a scorer"
    fairness = policy.fairness
    checker = Checker(
        policy=policy,
        state=state,
        now=now,
        lane=policy.lanes[0],
        declined=declined,
        memo=inputs.roster_memo(),
    )
    memo = checker.memo
    if memo is not None:  # the memo's rows: members, caps and zones without per-rep calls
        memo.screen_rows(checker.capacity)
        rows = memo.pool_rows(pool.name, pool.includes)
        members = rows.members
        used = checker.used_today(rows)
    else:
        rows = None
        members = [r for r in inputs.reps if r.active and pool.includes(r)]
        day_of = checker.local_day
        used = np.array([state.daily_count(r.rep_id, day_of(r)) for r in members], dtype=float)
    today_total = int(used.sum())

    # Refresh as the day fills: every ``refresh_every`` assignments (at least a quarter of
    # the pool, so big pools don't re-solve for every few leads) and every tenth of the pool
    # reaching a cap; a new day always re-solves.
    # ``refresh_every`` given (the batch router): exactly every that many assignments of the
    # day and at each new day, nothing else (the cadence measured in the README).
    def leads_left() -> NDArray[np.float64]:
        if rows is None:
            return _remaining(members, used, checker, policy, now, declined)
        return _remaining_rows(rows, used, policy, now, declined)

    remaining: NDArray[np.float64] | None = None
    if refresh_every is None:
        step = max(policy.predictive.refresh_every, len(members) // 4)
        remaining = leads_left()
        filled = int((remaining == 0).sum()) // max(1, len(members) // 10)
    else:
        step, filled = max(refresh_every, 1), 0
    value_model = inputs.value_model if uses_values(inputs) else None
    value_version = value_model.version if value_model is not None else None
    key = (
        now.date(),
        pool.name,
        policy.policy_hash,
        scorer.version,
        value_version,
        filled,
        today_total // step,
    )
    pool_key = (pool.name, policy.policy_hash, scorer.version, value_version)
    cached = pricer.cached(key, pool_key)
    if cached is not None:  # the load below only matters for a refresh
        return cached
    tally = checker.tally() if rows is not None else None
    if memo is not None and rows is not None and tally is not None:
        # the memo's members and caps, the window from the tally (the fairness guard's read)
        load = member_load(pool.name, rows.members, rows.caps, policy, state, now, tally, rows.at)
    else:
        load = pool_load(
            pool,
            inputs.reps,
            policy,
            state,
            now,
            lambda rep: checker.capacity(rep).max_leads_per_day,
        )
    caps = load.caps
    if remaining is None:
        remaining = leads_left()
    if memo is not None and rows is not None:  # per timezone group of the memo's roster
        arrays = memo.arrays(checker.capacity)
        zone_hours = np.array([_hours_to_local_midnight(rep, now) for rep in arrays.zones])
        hours_left = zone_hours[arrays.zone_of[rows.at]]
        horizon = float(np.mean(hours_left)) if members else 0.0
    else:
        to_midnight: dict[str, float] = {}  # per timezone: a roster has few
        for rep in members:
            zone = rep.timezone or "UTC"
            if zone not in to_midnight:
                to_midnight[zone] = _hours_to_local_midnight(rep, now)
        horizon = float(
            np.mean([to_midnight[rep.timezone or "UTC"] for rep in members]) if members else 0.0
        )

    def allowed(sample: Sequence[Lead], reps: Sequence[Rep]) -> NDArray[np.bool_]:
        mask = np.zeros((len(sample), len(reps)), dtype=bool)
        for s, lead in enumerate(sample):
            view = lead_view(lead, policy)
            qualify(view, policy)
            if select_pool(view, policy)[0] is not pool:
                continue
            static = checker.static_codes(inputs.reps, pool, view)
            for j, rep in enumerate(reps):
                if static is not None:
                    mask[s, j] = static[rep.rep_id] is None
                else:
                    mask[s, j] = checker.rule_block(rep, pool, view) is None
        return mask

    # The demand sample is scored on the live scores' footing: with each member's typical
    # response hours (an empty queue) when the live scores use them.
    typical = inputs.response_hours if policy.predictive.queue_aware else None
    return pricer.prices(
        key=key,
        pool_reps=members,
        scorer=scorer,
        allowed=allowed,
        allowed_key=(policy.policy_hash, pool.name, tuple(r.rep_id for r in members)),
        remaining=remaining,
        counts=load.counts,
        share=load.share,
        now=now,
        horizon_hours=horizon,
        band=planning_band(fairness.band),
        # In the objective's unit: a value objective's band weighs as much as conversions'.
        penalty=fairness.penalty * objective_scale(inputs),
        # With a background solver (the service), a due refresh is answered with this
        # pool's latest prices while the LP runs elsewhere (see ShadowPricer).
        pool_key=pool_key,
        # The pool's leads so far today (since the members' mean local midnight) update the
        # expected volume of the rest of the day; the LP also plans the rest of the fairness
        # window, with each member's daily cap on the later days (see policy.pricing).
        sample_hours=_typical_hours(members, typical),
        arrived_today=float(today_total),
        elapsed_hours=max(24.0 - horizon, 0.0),
        window_days=float(fairness.window_days),
        daily_caps=caps,
        sample_values=pricer.sample_values(inputs, tuple(r.rep_id for r in members)),
        **_development(pricer, policy, members, now, pool, state),
    )


def _development(
    pricer: ShadowPricer,
    policy: Policy,
    members: list[Rep],
    now: datetime,
    pool: Pool,
    state: RoutingState,
) -> dict[str, Any]:
    """The LP's development-share inputs (``min_share``, ``share_rows``, ``share_held``,
    ``share_base``), if any."""
    found = floors(members, policy, now)
    if found is None:
        return {}
    shares, segments = found
    standing = {s.rep_id: s for s in standings(pool, members, policy, state, now)}
    held = np.array([float(standing[r.rep_id].held) if r.rep_id in standing else 0.0
                     for r in members])  # fmt: skip
    base = np.array([float(standing[r.rep_id].base) if r.rep_id in standing else 0.0
                     for r in members])  # fmt: skip
    rows = None
    if any(seg is not None for seg in segments):
        lead_segments = [segment_of(lead, policy.segments) for lead in pricer.demand.sample]
        rows = np.array(
            [[seg is None or s in seg for seg in segments] for s in lead_segments], dtype=bool
        ).reshape(len(lead_segments), len(members))
    return {"min_share": shares, "share_rows": rows, "share_held": held, "share_base": base}


def _remaining_rows(
    rows: PoolRows,
    used: NDArray[np.float64],
    policy: Policy,
    now: datetime,
    declined: frozenset[str],
) -> NDArray[np.float64]:
    """``_remaining`` from the memo's rows (the same numbers, without per-rep calls)."""
    left = np.minimum(np.maximum(rows.caps - used, 0.0), 1e6)
    availability = policy.availability
    for i in rows.may_be_away:
        rep, rep_id = rows.rows[i][0], rows.rows[i][1]
        if rep_id not in declined and is_away(rep, now, availability) == "OUT_OF_OFFICE":
            left[i] = 0.0
    return left


def _remaining(
    members: list[Rep],
    used: NDArray[np.float64],
    checker: Checker,
    policy: Policy,
    now: datetime,
    declined: frozenset[str],
) -> NDArray[np.float64]:
    """Each member's leads left today (0 when out of office), at most 1e6."""
    remaining = np.empty(len(members))
    for i, rep in enumerate(members):
        cap = daily_cap(checker.capacity(rep).max_leads_per_day)
        # Equivalent to ``availability_block(rep, require_working=False) == "OUT_OF_OFFICE"``
        # for active members, without re-reading the counts it checks first.
        away = (
            rep.rep_id not in declined
            and checker.may_be_away(rep)
            and is_away(rep, now, policy.availability) == "OUT_OF_OFFICE"
        )
        remaining[i] = 0.0 if away else min(max(cap - used[i], 0.0), 1e6)
    return remaining


def _typical_hours(
    members: list[Rep], typical: Mapping[str, float] | None
) -> tuple[float, ...] | None:
    """Each member's typical response hours (unknown reps: the team median), or None."""
    if not typical:
        return None
    last = _TYPICAL[0] if _TYPICAL else None  # one read: another thread may replace it
    if last is not None and last[0] is typical and last[1] is members:
        return last[2]
    fallback = float(np.median(list(typical.values())))
    hours = tuple(float(typical.get(r.rep_id, fallback)) for r in members)
    if isinstance(typical, MappingProxyType):  # read-only (``router_inputs``): kept
        _TYPICAL[:] = [(typical, members, hours)]
    return hours


# The last read-only typical hours, the members (a roster memo's list: the same for every
# refresh of a pool) and their hours: a refresh of a 500-rep pool asked each time.
_TYPICAL: list[tuple[Mapping[str, float], list[Rep], tuple[float, ...]]] = []


def _hours_to_local_midnight(rep: Rep, now: datetime) -> float:
    local = now.astimezone(rep_zone(rep))
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds() / 3600.0
