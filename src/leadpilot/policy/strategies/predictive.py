"""``predictive``: the eligible rep with the best predicted conversion (or value) after prices.

Every eligible rep is scored (with each rep's expected response time under the current queue
when ``queue_aware`` and response times are known) and the lead goes to argmax ``p - price``,
or argmax ``p x value - price`` under a value ``objective`` (:mod:`leadpilot.policy.objective`).
The price of a rep is its shadow price from the router inputs' snapshot (capacity today and
the fairness band over the window, see :mod:`leadpilot.policy.pricer`), or, for a pool
without a snapshot or with ``shadow_prices: false``, the fairness band's price alone: greedy
argmax would fill the best reps with the first leads of the day and ignore the band.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.choice import Choice, ChoiceContext, Fallback
from leadpilot.policy.confidence import choice_confidence
from leadpilot.policy.eligibility import capacity_of
from leadpilot.policy.fairness import (
    DAY_END,
    LATER_DAYS,
    WINDOW_END,
    WINDOW_END_HIGH,
    band_guard,
    band_prices,
    guard_band,
)
from leadpilot.policy.objective import candidate_values, objective_scale
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.pool_load import PoolLoad, member_load, pool_load
from leadpilot.policy.registry import Registries
from leadpilot.policy.state import RoutingState
from leadpilot.policy.strategies.rotation import argmax_distribution
from leadpilot.schema import Rep

__all__ = ["Predictive", "expected_response_hours", "guard_mask", "register", "team_median"]


def expected_response_hours(
    eligible: Sequence[Rep],
    state: RoutingState,
    now: datetime,
    policy: Policy,
    typical: Mapping[str, float],
    cap_of: Callable[[Rep], int | None] | None = None,
    open_of: Callable[[Rep], int] | None = None,
) -> NDArray[np.float64]:
    """Each rep's expected hours to first contact: their typical time (history, which
    already holds their usual off-hours waits) plus the backlog, i.e. open leads beyond one
    day's capacity, at ``minutes_per_open_lead`` each. Unknown reps get the team median.
    ``cap_of(rep)``: the rep's daily cap (``capacity_of`` when not given); ``open_of(rep)``:
    the rep's open leads now (``state.open_count`` when not given)."""
    per_lead = policy.predictive.minutes_per_open_lead / 60.0
    fallback = team_median(typical)
    out = np.empty(len(eligible))
    for i, rep in enumerate(eligible):
        cap = cap_of(rep) if cap_of is not None else capacity_of(rep, policy).max_leads_per_day
        if cap is None:
            backlog = 0
        else:
            opened = open_of(rep) if open_of is not None else state.open_count(rep.rep_id, now)
            backlog = max(0, opened - cap)
        out[i] = typical.get(rep.rep_id, fallback) + backlog * per_lead
    return out


# The last mapping of typical hours, its values and their median: the router asks for every
# lead with the same ``RouterInputs.response_hours``; comparing the values is a fraction of
# ``np.median``'s cost and still sees a mapping changed in place.
_MEDIAN: list[tuple[Mapping[str, float], tuple[float, ...], float]] = []


def team_median(typical: Mapping[str, float]) -> float:
    """The median of the typical hours (0 when there are none), the unknown reps' value."""
    if not typical:
        return 0.0
    last = _MEDIAN[0] if _MEDIAN else None  # one read: another thread may replace it
    if last is not None and last[0] is typical and isinstance(typical, MappingProxyType):
        return last[2]  # read-only (as ``router_inputs`` makes it): the same values
    values = tuple(typical.values())
    if last is not None and last[0] is typical and last[1] == values:
        return last[2]
    median = float(np.median(values))
    _MEDIAN[:] = [(typical, values, median)]
    return median


@dataclass(frozen=True, slots=True)
class Predictive:
    """argmax of ``p - price`` over the eligible reps (ties split evenly)."""

    name: str = "predictive"
    explanation: str = "best predicted conversion after capacity and fairness prices"
    order: int = 10
    needs_scorer: bool = True
    weighted: bool = False
    priced: bool = True

    def choose(self, ctx: ChoiceContext) -> Choice | Fallback:
        """Score, price and pick; fall back without a model or below ``min_confidence``."""
        inputs = ctx.inputs
        policy, scorer = inputs.policy, inputs.scorer
        if scorer is None:
            return Fallback("NO_MODEL_FALLBACK")
        queue_aware = policy.predictive.queue_aware and inputs.response_hours is not None
        # ``expected_response_hours`` with this decision's caps and open counts (the
        # checker's loop: the same sum, without per-rep calls).
        typical = inputs.response_hours or {}
        hours = (
            ctx.checker.response_hours(
                ctx.eligible,
                typical,
                policy.predictive.minutes_per_open_lead / 60.0,
                team_median(typical),
            )
            if queue_aware
            else None
        )
        scores = scorer.score_candidates(ctx.lead, list(ctx.ids), expected_response_hours=hours)
        p = np.asarray(scores.p, dtype=float)
        price = _prices(ctx)
        worth = candidate_values(inputs, ctx.lead, ctx.ids)
        gain = p if worth.value is None else p * worth.value
        score = gain - price
        guarded = _guarded(ctx, score)
        dist = argmax_distribution(guarded)
        # the decision says so when the guard changed who may get the lead
        guard = guarded is not score and not np.array_equal(dist, argmax_distribution(score))
        # how likely the choice converts better than the rep the fallback would pick (see
        # leadpilot.policy.confidence: on p, not the priced score, nor value); a scorer
        # without draws of its uncertainty (the oracle, a table) keeps its own confidence
        confidence = (
            choice_confidence(scores.draws, p, dist, ctx.fallback_index)
            if ctx.fallback_index is not None and scores.draws is not None
            else float(scores.confidence)
        )
        if confidence < policy.predictive.min_confidence:
            return Fallback("LOW_CONFIDENCE_FALLBACK", p=p, confidence=confidence)
        return Choice(
            dist,
            "PREDICTIVE",
            p,
            price,
            confidence,
            value=worth.value,
            note=worth.reason,
            guard=guard,
        )

    def record(self, ctx: ChoiceContext, rep_id: str) -> dict[str, float]:
        """Nothing beyond the rotation credits."""
        return {}


def _prices(ctx: ChoiceContext) -> NDArray[np.float64]:
    """The snapshot's shadow price of each eligible rep, else the fairness band's."""
    policy = ctx.inputs.policy
    snapshot = ctx.inputs.prices.get(ctx.pool.name)
    if snapshot is not None and policy.predictive.shadow_prices:
        memo, at = ctx.checker.memo, ctx.checker.positions(ctx.eligible)
        if memo is not None and at is not None:  # the snapshot as a roster array, once
            return memo.price_row(snapshot)[at]
        return np.array([snapshot.get(r.rep_id, 0.0) for r in ctx.eligible])
    load = _pool_load(ctx)
    fairness = policy.fairness
    penalty = fairness.penalty * objective_scale(ctx.inputs)
    return band_prices(
        list(ctx.eligible), load.members, load.counts, load.share, fairness.band, penalty
    )


def _pool_load(ctx: ChoiceContext) -> PoolLoad:
    """The lead's pool's load now, with the checker's caps."""
    return pool_load(
        ctx.pool,
        ctx.inputs.reps,
        ctx.inputs.policy,
        ctx.state,
        ctx.now,
        lambda rep: ctx.checker.capacity(rep).max_leads_per_day,
    )


# False: no fairness guard, the prices alone (for measuring what the guard costs).
FAIRNESS_GUARD = True


def _guarded(ctx: ChoiceContext, score: NDArray[np.float64]) -> NDArray[np.float64]:
    """``score`` with the reps the fairness guard rules out at ``-inf`` (see
    :func:`guard_mask`)."""
    snapshot = ctx.inputs.prices.get(ctx.pool.name)
    policy = ctx.inputs.policy
    if snapshot is None or not policy.predictive.shadow_prices or WINDOW_END not in snapshot:
        return score
    checker = ctx.checker
    memo = checker.memo
    if memo is not None:  # the memo's rows: members, caps and zones without per-rep calls
        memo.screen_rows(checker.capacity)
        rows = memo.pool_rows(ctx.pool.name, ctx.pool.includes)
        tally = checker.tally()
        load = member_load(
            ctx.pool.name, rows.members, rows.caps, policy, ctx.state, ctx.now, tally, rows.at
        )
        used = checker.used_today(rows)
        at = checker.positions(ctx.eligible)
        if at is not None:  # the eligible reps' places among the members
            keep = guard_mask(snapshot, policy, load, used, ctx.ids, at=rows.member_of[at])
            return score if keep is None else np.where(keep, score, -np.inf)
    else:
        load = _pool_load(ctx)
        used = np.array(
            [ctx.state.daily_count(r.rep_id, checker.local_day(r)) for r in load.members],
            dtype=float,
        )
    keep = guard_mask(snapshot, policy, load, used, ctx.ids)
    return score if keep is None else np.where(keep, score, -np.inf)


def guard_mask(
    snapshot: Mapping[str, float],
    policy: Policy,
    load: PoolLoad,
    used: NDArray[np.float64],
    ids: Sequence[str],
    at: NDArray[np.int64] | None = None,
) -> NDArray[np.bool_] | None:
    """Which of the eligible reps ``ids`` the fairness guard leaves the lead to
    (:func:`leadpilot.policy.fairness.band_guard`): not over the band's top by the window's
    end, and only the reps the lead must go to for the band's bottom to stay reachable when
    there are any among them. ``None``: no guard (no horizon in the price ``snapshot``, which
    carries the pool's projected leads) or it would rule out every eligible rep. ``load``:
    the pool's load; ``used``: each member's leads today. The batch router's fast lane calls
    it with the same values."""
    end = snapshot.get(WINDOW_END)
    if not FAIRNESS_GUARD or end is None:
        return None
    held = float(load.counts.sum())
    caps = np.minimum(load.caps, 1e6)  # no cap: room beyond any period
    over, forced = band_guard(
        load.counts,
        load.share,
        guard_band(policy.fairness.band),
        end - held,
        np.maximum(caps - used, 0.0),
        later_room=caps * snapshot.get(LATER_DAYS, 0.0),
        today_left=snapshot.get(DAY_END, end) - held,
        leads_left_high=snapshot.get(WINDOW_END_HIGH, end) - held,
    )
    if at is None:  # ``at``: each of ``ids``' index in ``load.members`` (-1: none)
        index = {r.rep_id: i for i, r in enumerate(load.members)}
        at = np.array([index.get(rep_id, -1) for rep_id in ids], dtype=np.int64)
    known = at >= 0
    if known.all():  # every eligible rep a member (the memo's screen: always)
        keep, must = ~over[at], forced[at]
    else:
        keep = np.ones(len(at), dtype=bool)
        keep[known] = ~over[at[known]]
        must = np.zeros(len(at), dtype=bool)
        must[known] = forced[at[known]]
    if (must & keep).any():
        keep &= must
    return keep if keep.any() else None


def register(registries: Registries) -> None:
    """Add ``predictive``."""
    registries.strategies.register(Predictive())
