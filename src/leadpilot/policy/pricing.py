"""Shadow prices of rep capacity and of the fairness band: the duals of the capacity- and
fairness-constrained assignment LP solved on the expected lead mix, so the router keeps room
for later leads ("bid-price control" from revenue management, re-solved as the day fills).

The LP (solved with scipy's HiGHS, whose dual values we read): the demand sample ``S`` (recent
leads routed to the pool) stands for two blocks of leads still to come: the rest of today
(weight ``w`` per sample lead, so the block sums to the leads expected today) and the later
days of the fairness window (weight ``v``); ``x[s, r]`` and ``y[s, r]`` are the shares of
sample lead ``s`` given to rep ``r`` in each block::

    max  sum_{s,r} p[s,r] (w x[s,r] + v y[s,r])  -  penalty * sum_r (over_r + under_r)
    s.t. sum_r x[s,r] <= 1,  sum_r y[s,r] <= 1                (each lead once)
         sum_s w x[s,r] <= remaining_today[r]                  (capacity today, hard)
         sum_s v y[s,r] <= daily_cap[r] * later_days           (capacity later)
         count_r + sum_s (w x + v y)[s,r] - over_r  <= high * target_r  (fairness band, soft)
         count_r + sum_s (w x + v y)[s,r] + under_r >= low  * target_r
         0 <= x, y <= 1 (0 where the rep is ineligible), over, under >= 0

where ``count_r`` is the rep's leads in the fairness window and ``target_r`` the rep's fair
share of the window's expected total (leads so far + today + later days; shares are equal,
or proportional to daily capacity with ``fairness.shares: capacity``). A real lead then goes
to argmax ``p(rep) - price(rep)`` with ``price = dual(capacity today) + dual(high) -
dual(low)``: a rep whose capacity is scarce today or who is above the band costs more, one
below the band is cheaper. The band is *soft* (slack priced at ``fairness.penalty`` per lead)
so the LP is always feasible; with the default penalty (1 conversion per lead) it binds
whenever it can be met.

Why the later days: the band is measured over the window, not per day. With today alone in
the LP, the first days of a window must already be within the band on their own (day one:
every rep gets almost the same number of leads), and a rep who falls behind is pushed at the
penalty price rather than caught up over the days left. Planning the rest of the window lets
the prices spend the band where it pays and gives fairness prices that are stable from day to
day. The days left are estimated from the leads already in the window
(:func:`later_window_days`); a router that has run for longer than the window has none left,
so the band then holds by the end of each day.

How many leads are still to come today: the recent level (leads per typical day: days with at
least ``QUIET_DAY_SHARE`` of the median day, so a weekend with a few off-hours leads does not
pass for Monday's volume) times the share of the day's arrival profile still ahead, updated by
the pool's arrivals so far today (:meth:`DemandModel.rest_of_day`): a busy or quiet day is
recognised within hours.

Refreshing the prices means solving that LP (~20-60 ms for 20 reps and a 450-lead sample;
``max_cells`` caps the sample for bigger pools). Batch routing solves it synchronously, so
``route-batch`` is a deterministic function of its inputs. The service gives the pricer a
``solver`` (a one-process pool): a refresh then runs in that process while requests keep using
the pool's latest prices (stale-while-refresh), so no request waits for the LP. A process, not
a thread, because HiGHS holds the GIL for the whole solve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from leadpilot.errors import DataValidationError
from leadpilot.schema import Lead, Rep, Scorer

__all__ = [
    "DemandModel",
    "ShadowPricer",
    "later_window_days",
    "solve_assignment_lp",
    "typical_response_hours",
    "warm_up_solver",
]

log = logging.getLogger("leadpilot.pricing")

# A day with fewer leads than this share of the median day is not a typical day for the level.
QUIET_DAY_SHARE = 0.25
# Weight of the recent level against today's arrivals, in days of arrivals (see rest_of_day).
LEVEL_PRIOR_DAYS = 0.25


@dataclass(frozen=True, slots=True)
class DemandModel:
    """The expected lead mix: a sample of recent leads, the share of a day's leads that
    arrives in each UTC hour (``hour_share``, shape ``(24,)``, sums to 1) and the recent
    level of leads per day (over days that had leads: weekends without leads don't dilute)."""

    sample: tuple[Lead, ...]
    hour_share: NDArray[np.float64]
    leads_per_day: float
    active_day_share: float = 1.0  # share of calendar days that are typical (lead) days

    @classmethod
    def from_leads(
        cls,
        leads: Sequence[Lead],
        *,
        sample_days: int = 28,
        level_days: int = 2,
        sample_size: int = 450,
        seed: int = 0,
    ) -> DemandModel:
        """Estimate from past leads (only their ``created_at`` and fields are used): the
        sample from the last ``sample_days``, the level from the last ``level_days`` days
        that had leads."""
        stamped = sorted(
            (lead for lead in leads if lead.created_at is not None),
            key=lambda lead: lead.created_at,  # type: ignore[arg-type,return-value]
        )
        if not stamped:
            raise DataValidationError(
                "cannot estimate the expected lead mix: no lead has a created_at time",
                hint="Give recent history with created_at, or route without shadow prices.",
            )
        last = stamped[-1].created_at
        assert last is not None
        recent = [
            x for x in stamped if x.created_at and x.created_at > last - timedelta(sample_days)
        ]
        counts = np.zeros(24)
        per_day: dict[object, int] = {}
        for lead in recent:
            assert lead.created_at is not None
            counts[lead.created_at.hour] += 1
            day = lead.created_at.date()
            per_day[day] = per_day.get(day, 0) + 1
        # The level comes from typical days: a day with under ``QUIET_DAY_SHARE`` of the median
        # day (a weekend or holiday with a few off-hours leads) would otherwise pass for the
        # volume of the next business day.
        floor = QUIET_DAY_SHARE * float(np.median(list(per_day.values())))
        typical = [d for d in sorted(per_day) if per_day[d] >= floor]  # type: ignore[type-var]
        levels = [per_day[d] for d in typical[-level_days:]]
        rng = np.random.default_rng(seed)
        pick = (
            np.sort(rng.choice(len(recent), size=sample_size, replace=False))
            if len(recent) > sample_size
            else np.arange(len(recent))
        )
        span = max(1, min(sample_days, (last.date() - recent[0].created_at.date()).days + 1))  # type: ignore[union-attr]
        return cls(
            tuple(recent[i] for i in pick),
            counts / counts.sum(),
            float(np.mean(levels)),
            min(1.0, len(typical) / span),
        )

    def expected_arrivals(self, start: datetime, hours: float) -> float:
        """Expected number of leads arriving in ``[start, start + hours)``."""
        return self.day_fraction(start, hours) * self.leads_per_day

    def day_fraction(self, start: datetime, hours: float) -> float:
        """Share of a day's leads expected in ``[start, start + hours)`` (by the hour profile)."""
        total, t, left = 0.0, start, hours
        while left > 1e-9:
            step = min(left, 1.0 - (t.minute * 60 + t.second) / 3600.0)
            total += self.hour_share[t.hour] * step
            t = t + timedelta(hours=step)
            left -= step
        return total

    def rest_of_day(
        self, now: datetime, horizon_hours: float, *, arrived: float, elapsed_hours: float
    ) -> float:
        """Expected leads in ``[now, now + horizon_hours)`` given that ``arrived`` leads came
        in the ``elapsed_hours`` before ``now`` (the day so far).

        Today's level is the recent level updated by today's arrivals, as a Gamma-Poisson
        posterior mean with ``LEVEL_PRIOR_DAYS`` days' worth of weight on the recent level:
        ``(prior_days * level + arrived) / (prior_days + elapsed share of the day)``. A day
        much busier or quieter than the recent ones (a campaign, the first day after a
        weekend, a holiday) is recognised within its first hours.
        """
        rest = self.day_fraction(now, horizon_hours)
        if elapsed_hours <= 0:
            return rest * self.leads_per_day
        seen = self.day_fraction(now - timedelta(hours=elapsed_hours), elapsed_hours)
        level = (LEVEL_PRIOR_DAYS * self.leads_per_day + arrived) / (LEVEL_PRIOR_DAYS + seen)
        return rest * level


def later_window_days(window_lead_days: float, routed_before_today: float, level: float) -> float:
    """Lead days of the fairness window still to come after today: the window's lead days
    (``window_days`` x the share of days that have leads) minus the days already in it,
    estimated as the pool's leads routed before today over its daily ``level``, minus today.
    A window that is already full (a router running for longer than the window) has none
    left, so the band must hold by the end of today, as with a fixed horizon of one day."""
    if level <= 0:
        return 0.0
    return max(window_lead_days - routed_before_today / level - 1.0, 0.0)


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
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve the LP of the module docstring; return ``(x, price)``.

    ``p``, ``allowed``: shape ``(n_sample, n_reps)``; ``remaining``, ``counts``, ``target``:
    shape ``(n_reps,)``. With ``future_weight > 0`` the sample also stands for the leads of
    the later days of the fairness window (a second block of variables, each sample lead
    weighing ``future_weight``) under ``future_capacity`` (shape ``(n_reps,)``, the reps'
    capacity over those days); the band then applies to today and those days together.
    ``x`` (today's block) has shape ``(n_sample, n_reps)``, ``price`` shape ``(n_reps,)``
    (per lead): today's capacity dual plus the band's.
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
    bounds = np.column_stack([np.zeros(k * nx + 2 * n), upper])
    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs-ds")
    if res.status != 0:  # pragma: no cover - always feasible (x = 0, slacks absorb the band)
        raise RuntimeError(f"assignment LP failed: {res.message}")
    duals = -np.asarray(res.ineqlin.marginals)  # >= 0 multipliers of the <= rows
    cap = duals[k * m : k * m + n]  # today's capacity rows
    over = duals[k * (m + n) : k * (m + n) + n]
    under = duals[k * (m + n) + n :]
    return np.asarray(res.x[:nx]).reshape(m, n), cap + over - under


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
        self, demand: DemandModel, *, max_cells: int = 9_000, solver: Executor | None = None
    ) -> None:
        self.demand = demand
        # The LP has n_sample x n_reps variables; big pools use fewer sample leads so a
        # refresh stays around tens of milliseconds.
        self.max_cells = max_cells
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
    ) -> NDArray[np.float64]:
        """``p`` of every demand-sample lead for every rep, shape ``(n_sample, n_reps)``,
        with each rep's expected response ``hours`` when given (as the live scores are)."""
        key = (scorer.version, rep_ids, hours)
        cached = self._scores.get(key)
        if cached is None:
            h = None if hours is None else np.asarray(hours, dtype=float)
            rows = [
                scorer.score_candidates(lead, rep_ids, expected_response_hours=h).p
                for lead in self.demand.sample
            ]
            cached = np.vstack(rows) if rows else np.zeros((0, len(rep_ids)))
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
            mask = allowed(self.demand.sample, pool_reps)
            self._masks[allowed_key] = mask
        in_pool = np.flatnonzero(mask.any(axis=1)) if mask.size else np.zeros(0, dtype=int)
        pool_share = len(in_pool) / max(len(self.demand.sample), 1)
        keep = max(30, self.max_cells // max(len(rep_ids), 1))
        if len(in_pool) > keep:  # evenly spaced: deterministic, keeps the time spread
            in_pool = in_pool[np.linspace(0, len(in_pool) - 1, keep).astype(int)]
        if arrived_today is None or pool_share <= 0:
            expected = self.demand.expected_arrivals(now, horizon_hours) * pool_share
        else:  # the pool's arrivals today, scaled to all leads, update the level
            expected = pool_share * self.demand.rest_of_day(
                now, horizon_hours, arrived=arrived_today / pool_share, elapsed_hours=elapsed_hours
            )
        if not (len(in_pool) and expected > 0 and rep_ids):
            return self._store(key, pool_key, dict.fromkeys(rep_ids, 0.0))
        p = self.sample_scores(scorer, rep_ids, sample_hours)[in_pool]
        future, future_cap = 0.0, None
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
        target = (float(counts.sum()) + expected + future) * share
        problem = (
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
        background = latest is not None and self.solver is not None and pool_key is not None
        if background and self._submit(key, pool_key, rep_ids, problem):  # type: ignore[arg-type]
            return latest  # type: ignore[return-value]
        _x, price = solve_assignment_lp(*problem)
        return self._store(key, pool_key, _by_rep(rep_ids, price))

    def _submit(
        self,
        key: tuple[object, ...],
        pool_key: tuple[object, ...],
        rep_ids: tuple[str, ...],
        problem: tuple[object, ...],
    ) -> bool:
        """Queue a refresh in the solver (one in flight per pool); False if it failed."""
        assert self.solver is not None
        with self._lock:
            if pool_key in self._in_flight:
                return True
            self._in_flight.add(pool_key)
        try:
            future = self.solver.submit(solve_assignment_lp, *problem)  # type: ignore[arg-type]
        except RuntimeError:  # shut down or broken pool: the caller solves synchronously
            with self._lock:
                self._in_flight.discard(pool_key)
            return False

        def done(fut: Future[tuple[NDArray[np.float64], NDArray[np.float64]]]) -> None:
            try:
                _x, price = fut.result()
            except Exception:  # next due refresh retries; requests keep the latest prices
                log.exception("background shadow-price refresh failed")
                with self._lock:
                    self._in_flight.discard(pool_key)
                return
            self._store(key, pool_key, _by_rep(rep_ids, price), background=True)

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


def _by_rep(rep_ids: tuple[str, ...], price: NDArray[np.float64]) -> dict[str, float]:
    return {rep: float(v) for rep, v in zip(rep_ids, price, strict=True)}


def warm_up_solver() -> None:
    """Solve a one-variable LP (a solver process runs this first to load HiGHS)."""
    one = np.ones((1, 1))
    solve_assignment_lp(one, one > 0, 1.0, np.ones(1), np.zeros(1), np.ones(1), (0.8, 1.2), 1.0)


def typical_response_hours(
    history: pd.DataFrame, *, prior_weight: float = 20.0
) -> dict[str, float]:
    """Each rep's typical hours to first contact from history: the median of their
    ``time_to_contact_hours``, shrunk towards the team median with ``prior_weight`` pseudo-
    leads (a rep with few leads looks like the team). Empty when the columns are missing."""
    if not {"rep_id", "time_to_contact_hours"} <= set(history.columns):
        return {}
    known = history.dropna(subset=["rep_id", "time_to_contact_hours"])
    if known.empty:
        return {}
    team = float(known["time_to_contact_hours"].median())
    grouped = known.groupby("rep_id")["time_to_contact_hours"]
    med, n = grouped.median(), grouped.size()
    shrunk = (med * n + team * prior_weight) / (n + prior_weight)
    return {str(rep): float(v) for rep, v in shrunk.items()}
