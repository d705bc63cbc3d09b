"""The router core: one lead in, one :class:`~leadpilot.schema.Decision` out.

``route`` is a pure function of its inputs (lead, policy, roster, state, scorer, account
matcher, time, random generator): no clock, no global randomness, no writes. The caller
commits the decision to the state (``state.commit(decision)``), in one transaction in the
service. Order of the rules: lane -> ownership hold -> exception -> pool -> eligibility ->
strategy (with exploration and holdout mixed in, and the propensity of the chosen rep).

The predictive strategy scores every eligible rep (with each rep's expected response time
under the current queue when ``queue_aware``) and picks argmax ``p - price``, where the price
of a rep is the shadow price of its remaining capacity today and of the fairness band over
the window (:mod:`leadpilot.policy.pricing`): greedy argmax would fill the best reps with the
first leads of the day and ignore the band. Prices are refreshed every
``max(refresh_every, pool size / 4)`` assignments of the day, whenever another tenth of the
pool reaches a cap, and at each new day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.policy.availability import is_away, local_day, rep_zone
from leadpilot.policy.eligibility import CAPACITY, TEMPORARY, Checker, Screen, capacity_of
from leadpilot.policy.fairness import band_prices, fair_shares
from leadpilot.policy.holds import AccountLookup, hold_for
from leadpilot.policy.policy_file import Lane, Policy, Pool
from leadpilot.policy.pricing import ShadowPricer
from leadpilot.policy.scoring import LeadView, matches, qualify, segment_of
from leadpilot.policy.state import RoutingState
from leadpilot.policy.strategies import (
    argmax_distribution,
    load_balanced_pick,
    rotation_pick,
    rotation_update,
)
from leadpilot.schema import Candidate, Decision, Lead, Rep, Scorer

__all__ = [
    "TOP_CANDIDATES",
    "route",
    "select_pool",
    "with_strategy",
]

TOP_CANDIDATES = 5
_IMPLICIT_LANE = Lane(name="standard")


def with_strategy(policy: Policy, strategy: str) -> Policy:
    """A copy of ``policy`` where every pool uses ``strategy`` (``route-batch --strategy``)."""
    data = policy.model_dump(by_alias=True, exclude_unset=True)
    data["pools"] = [
        {**pool.model_dump(by_alias=True, exclude_unset=True), "strategy": strategy}
        for pool in policy.pools
    ]
    return Policy.model_validate(data)


def select_lane(view: LeadView, policy: Policy) -> Lane:
    """The first lane whose conditions hold (an implicit ``standard`` lane if none)."""
    for lane in policy.lanes:
        if matches(lane.when, lane.when_any, view):
            return lane
    return _IMPLICIT_LANE


def select_pool(view: LeadView, policy: Policy) -> tuple[Pool | None, list[str]]:
    """The pool a lead goes to by exceptions, then pool rules; with the reasons."""
    for exc in policy.exceptions:
        if matches(exc.when, exc.when_any, view):
            return policy.pool(exc.pool), [f"EXCEPTION:{exc.name}", f"POOL:{exc.pool}"]
    for pool in policy.pools:
        if matches(pool.when, pool.when_any, view):
            return pool, [f"POOL:{pool.name}"]
    return None, ["NO_POOL_MATCHES"]


@dataclass(slots=True)
class _Draft:
    """What the router has found so far about one lead."""

    lead: Lead
    policy: Policy
    now: datetime
    lane: Lane
    view: LeadView
    reasons: list[str]
    exclusions: dict[str, str]

    def decision(self, rep: Rep | None, **fields: object) -> Decision:
        lane = self.lane
        deadline = (
            self.now + timedelta(minutes=lane.sla_minutes)
            if rep is not None and lane.sla_minutes
            else None
        )
        base = Decision(
            lead_id=self.lead.lead_id,
            rep_id=rep.rep_id if rep is not None else None,
            pool=None,
            lane=lane.name,
            strategy="none",
            reasons=tuple(self.reasons),
            decided_at=self.now,
            exclusions=dict(self.exclusions),
            policy_version=self.policy.policy_hash,
            sla_deadline=deadline,
            mode=self.policy.mode,
            fit_score=self.view.derived.get("fit"),
            intent_score=self.view.derived.get("intent"),
            grade=self.view.derived.get("grade"),
            rep_local_day=local_day(rep, self.now) if rep is not None else None,
        )
        return replace(base, **fields)  # type: ignore[arg-type]


def route(
    lead: Lead,
    *,
    policy: Policy,
    reps: Sequence[Rep],
    state: RoutingState,
    scorer: Scorer | None,
    accounts: AccountLookup | None = None,
    now: datetime,
    rng: np.random.Generator,
    declined: frozenset[str] = frozenset(),
    pricer: ShadowPricer | None = None,
    response_hours: Mapping[str, float] | None = None,
) -> Decision:
    """Decide who gets ``lead`` at ``now`` under ``policy``; never assigns a rep who is
    inactive, ineligible, away or at a cap. ``rep_id`` is ``None`` (with the reason) when
    nobody can take the lead now, so the caller can queue it. ``pricer`` (shadow prices from
    the expected lead mix) is optional: without it the predictive strategy prices only the
    fairness band. ``response_hours`` (each rep's typical hours to first contact, e.g. from
    :func:`leadpilot.policy.pricing.typical_response_hours`) lets the predictive strategy
    pass the scorer each rep's expected response time under the current queue.
    ``now`` must be timezone-aware."""
    if now.tzinfo is None:
        raise DataValidationError(
            "route() needs a timezone-aware 'now'", hint="Pass e.g. datetime.now(UTC)."
        )
    view = LeadView(lead, {"segment": segment_of(lead, policy.segments)})
    qualification = qualify(view, policy)
    match = accounts.match(lead) if accounts is not None else None
    if match is not None:
        view.derived.update(account_id=match.account.account_id, account_tier=match.account.tier)
    lane = select_lane(view, policy)
    reasons = [f"LANE:{lane.name}", f"GRADE:{qualification.grade}"]
    if lane.require_available_now:
        reasons.append("HOT_LANE")
    draft = _Draft(lead, policy, now, lane, view, reasons, {})
    if not lane.assign:
        reasons.append("NO_ASSIGNMENT_LANE")
        return draft.decision(None, strategy="none", propensity=1.0)

    checker = Checker(policy=policy, state=state, now=now, lane=lane, declined=declined)
    by_id = {rep.rep_id: rep for rep in reps}
    forced_pool: Pool | None = None
    hold = hold_for(match, policy.holds, now)
    if hold is not None and match is not None:
        owner = by_id.get(hold.owner_rep_id)
        code = "UNKNOWN_REP" if owner is None else checker.availability_block(owner)
        reasons.append(f"ACCOUNT:{hold.account_id}:{hold.method}")
        if owner is not None and code is None:
            reasons += ["OWNER_HOLD", f"HOLD:{hold.why}"]
            return draft.decision(
                owner,
                strategy="hold",
                propensity=1.0,
                pool=owner.pool,
                **_scored(scorer, lead, owner),
            )
        draft.exclusions[hold.owner_rep_id] = code or "UNKNOWN_REP"
        reasons.append(f"OWNER_UNAVAILABLE:{hold.owner_rep_id}:{code}")
        backup = by_id.get(owner.backup_rep_id or "") if owner is not None else None
        if policy.holds.use_backup_rep and backup is not None:
            backup_code = checker.availability_block(backup)
            if backup_code is None:
                reasons.append("HOLD_BACKUP_REP")
                return draft.decision(
                    backup,
                    strategy="hold",
                    propensity=1.0,
                    pool=backup.pool,
                    **_scored(scorer, lead, backup),
                )
            draft.exclusions[backup.rep_id] = backup_code
        if policy.holds.backup_pool is not None:
            forced_pool = policy.pool(policy.holds.backup_pool)
            reasons += ["HOLD_BACKUP_POOL", f"POOL:{forced_pool.name}"]

    if forced_pool is None:
        pool, pool_reasons = select_pool(view, policy)
        reasons += pool_reasons
        if pool is None:
            return draft.decision(None, strategy="none", propensity=1.0)
    else:
        pool = forced_pool
    screen = checker.screen(reps, pool, view)
    for rep_id, code in screen.exclusions.items():
        draft.exclusions.setdefault(rep_id, code)
    if pool.eligibility.territory:
        where = lead.region or lead.country or lead.state
        if where:
            reasons.append(f"TERRITORY:{where}")
    reasons += [f"CAPACITY_SKIP:{r}" for r, c in screen.exclusions.items() if c in CAPACITY]
    if not screen.eligible:
        reasons += ["NO_ELIGIBLE_REP", _why_nobody(screen)]
        return draft.decision(None, strategy=pool.strategy, pool=pool.name, propensity=1.0)
    return _choose(draft, pool, screen, state, scorer, rng, checker, reps, pricer, response_hours)


def _scored(scorer: Scorer | None, lead: Lead, rep: Rep) -> dict[str, object]:
    """p_convert, confidence and model version of a rule-chosen rep (for evaluation)."""
    if scorer is None:
        return {}
    scores = scorer.score_candidates(lead, [rep.rep_id])
    return {
        "p_convert": float(scores.p[0]),
        "confidence": float(scores.confidence),
        "model_version": scorer.version,
    }


def _why_nobody(screen: Screen) -> str:
    codes = screen.codes() - {"NOT_IN_POOL", "INACTIVE"}
    if codes and codes <= CAPACITY:
        return "ALL_AT_CAPACITY"
    if codes and codes <= TEMPORARY:
        return "ALL_AWAY_OR_FULL"
    return "NONE_ELIGIBLE"


def _choose(
    draft: _Draft,
    pool: Pool,
    screen: Screen,
    state: RoutingState,
    scorer: Scorer | None,
    rng: np.random.Generator,
    checker: Checker,
    roster: Sequence[Rep],
    pricer: ShadowPricer | None,
    response_hours: Mapping[str, float] | None,
) -> Decision:
    policy, now, reasons = draft.policy, draft.now, draft.reasons
    eligible = screen.eligible
    ids = [r.rep_id for r in eligible]
    n = len(ids)
    weighted = "weighted_round_robin" in (pool.strategy, pool.fallback)
    credits = state.rotation(pool.name)

    fallback_idx = _fallback_pick(pool.fallback, ids, eligible, state, now, credits, pool)
    fallback_dist = np.zeros(n)
    fallback_dist[fallback_idx] = 1.0

    strategy = pool.strategy
    p: NDArray[np.float64] | None = None
    price = np.zeros(n)
    confidence: float | None = None
    if strategy == "predictive":
        if scorer is None:
            reasons.append("NO_MODEL_FALLBACK")
            strategy = pool.fallback
            main_dist = fallback_dist
        else:
            hours = (
                _expected_response_hours(eligible, state, now, policy, response_hours)
                if policy.predictive.queue_aware and response_hours is not None
                else None
            )
            scores = scorer.score_candidates(draft.lead, ids, expected_response_hours=hours)
            p = np.asarray(scores.p, dtype=float)
            confidence = float(scores.confidence)
            if confidence < policy.predictive.min_confidence:
                reasons.append("LOW_CONFIDENCE_FALLBACK")
                strategy = pool.fallback
                main_dist = fallback_dist
            else:
                typical = response_hours if hours is not None else None
                price = _prices(
                    pool, eligible, roster, state, scorer, checker, now, pricer, typical
                )
                main_dist = argmax_distribution(p - price)
                reasons.append("PREDICTIVE")
    else:
        idx = _fallback_pick(strategy, ids, eligible, state, now, credits, pool)
        main_dist = np.zeros(n)
        main_dist[idx] = 1.0
        reasons.append(strategy.upper())

    explore, holdout = policy.predictive.explore, policy.predictive.holdout
    live_dist = holdout * fallback_dist + (1 - holdout) * (explore / n + (1 - explore) * main_dist)
    # Always three draws, in this order, so a seed replays exactly.
    u_holdout, u_explore, u_pick = rng.random(), rng.random(), rng.random()
    if u_holdout < holdout:
        branch, chosen = "HOLDOUT", fallback_idx
    elif u_explore < explore:
        branch, chosen = "EXPLORE", min(int(u_pick * n), n - 1)
    else:
        branch, chosen = None, _draw(main_dist, u_pick)
    if branch == "HOLDOUT":
        reasons.append("HOLDOUT")
        strategy = pool.fallback
    elif branch == "EXPLORE":
        reasons.append("EXPLORE")

    shadow_rep: str | None = None
    propensity = float(live_dist[chosen])
    if policy.mode == "shadow":
        shadow_rep = ids[chosen]
        chosen, propensity, strategy = fallback_idx, 1.0, pool.fallback
        reasons.append(f"SHADOW_RECOMMENDS:{shadow_rep}")

    rep = eligible[chosen]
    update = rotation_update(ids, credits, rep.rep_id, weighted=weighted, weights=pool.weights)
    candidates = _candidates(ids, p, price, main_dist, chosen)
    return draft.decision(
        rep,
        pool=pool.name,
        strategy=strategy,
        candidates=candidates,
        p_convert=float(p[chosen]) if p is not None else None,
        confidence=confidence,
        propensity=propensity,
        model_version=scorer.version if scorer is not None and p is not None else None,
        shadow_rep_id=shadow_rep,
        rotation_update=update,
    )


def _draw(dist: NDArray[np.float64], u: float) -> int:
    """Inverse-CDF draw from ``dist`` with the uniform ``u`` (ties split evenly)."""
    cdf = np.cumsum(dist)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(dist) - 1))


def _fallback_pick(
    strategy: str,
    ids: list[str],
    eligible: list[Rep],
    state: RoutingState,
    now: datetime,
    credits: Mapping[str, float],
    pool: Pool,
) -> int:
    if strategy == "load_balanced":
        opens = [state.open_count(r, now) for r in ids]
        daily = [state.daily_count(r.rep_id, local_day(r, now)) for r in eligible]
        return ids.index(load_balanced_pick(ids, opens, daily, credits))
    weighted = "weighted_round_robin" in (pool.strategy, pool.fallback)
    return ids.index(rotation_pick(ids, credits, weighted=weighted, weights=pool.weights))


def _expected_response_hours(
    eligible: list[Rep],
    state: RoutingState,
    now: datetime,
    policy: Policy,
    typical: Mapping[str, float],
) -> NDArray[np.float64]:
    """Each rep's expected hours to first contact: their typical time (history, which
    already holds their usual off-hours waits) plus the backlog, i.e. open leads beyond one
    day's capacity, at ``minutes_per_open_lead`` each. Unknown reps get the team median."""
    per_lead = policy.predictive.minutes_per_open_lead / 60.0
    fallback = float(np.median(list(typical.values()))) if typical else 0.0
    out = np.empty(len(eligible))
    for i, rep in enumerate(eligible):
        cap = capacity_of(rep, policy).max_leads_per_day
        backlog = max(0, state.open_count(rep.rep_id, now) - cap) if cap is not None else 0
        out[i] = typical.get(rep.rep_id, fallback) + backlog * per_lead
    return out


def _prices(
    pool: Pool,
    eligible: list[Rep],
    roster: Sequence[Rep],
    state: RoutingState,
    scorer: Scorer,
    checker: Checker,
    now: datetime,
    pricer: ShadowPricer | None,
    typical: Mapping[str, float] | None = None,
) -> NDArray[np.float64]:
    """The shadow price of each eligible rep (fairness-only when there is no pricer).
    ``typical``: each rep's typical response hours when the live scores use them, so the
    demand sample is scored on the same footing (an empty queue)."""
    policy = checker.policy
    fairness = policy.fairness
    members = [r for r in roster if r.active and pool.includes(r)]
    since = (now - timedelta(days=fairness.window_days - 1)).date()
    window = state.window_counts(pool.name, since)
    counts = np.array([float(window.get(r.rep_id, 0)) for r in members])
    caps = np.array([_daily_cap(checker.capacity(rep).max_leads_per_day) for rep in members])
    share = fair_shares(caps if fairness.shares == "capacity" else np.ones(len(members)))
    if pricer is None or not policy.predictive.shadow_prices:
        return band_prices(eligible, members, counts, share, fairness.band, fairness.penalty)
    remaining = np.empty(len(members))
    full: list[str] = []
    today_total = 0
    for i, rep in enumerate(members):
        used = state.daily_count(rep.rep_id, local_day(rep, now))
        today_total += used
        # Equivalent to ``availability_block(rep, require_working=False) == "OUT_OF_OFFICE"``
        # for active members, without re-reading the counts it checks first.
        away = rep.rep_id not in checker.declined and (
            is_away(rep, now, policy.availability) == "OUT_OF_OFFICE"
        )
        remaining[i] = 0.0 if away else min(max(caps[i] - used, 0.0), 1e6)
        if remaining[i] == 0:
            full.append(rep.rep_id)
    to_midnight: dict[str, float] = {}  # per timezone: a roster has few
    for rep in members:
        zone = rep.timezone or "UTC"
        if zone not in to_midnight:
            to_midnight[zone] = _hours_to_local_midnight(rep, now)
    horizon = float(
        np.mean([to_midnight[rep.timezone or "UTC"] for rep in members]) if members else 0.0
    )
    # Refresh as the day fills: every ``refresh_every`` assignments (at least a quarter of
    # the pool, so big pools don't re-solve for every few leads) and every tenth of the pool
    # reaching a cap; a new day always re-solves.
    step = max(policy.predictive.refresh_every, len(members) // 4)
    key = (
        now.date(),
        pool.name,
        policy.policy_hash,
        scorer.version,
        len(full) // max(1, len(members) // 10),
        today_total // step,
    )

    def allowed(sample: Sequence[Lead], reps: Sequence[Rep]) -> NDArray[np.bool_]:
        mask = np.zeros((len(sample), len(reps)), dtype=bool)
        for s, lead in enumerate(sample):
            view = LeadView(lead, {"segment": segment_of(lead, policy.segments)})
            qualify(view, policy)
            if select_pool(view, policy)[0] is not pool:
                continue
            for j, rep in enumerate(reps):
                mask[s, j] = checker.rule_block(rep, pool, view) is None
        return mask

    by_rep = pricer.prices(
        key=key,
        pool_reps=members,
        scorer=scorer,
        allowed=allowed,
        allowed_key=(policy.policy_hash, pool.name, tuple(r.rep_id for r in members)),
        remaining=remaining,
        counts=counts,
        share=share,
        now=now,
        horizon_hours=horizon,
        band=fairness.band,
        penalty=fairness.penalty,
        # With a background solver (the service), a due refresh is answered with this
        # pool's latest prices while the LP runs elsewhere (see ShadowPricer).
        pool_key=(pool.name, policy.policy_hash, scorer.version),
        # The pool's leads so far today (since the members' mean local midnight) update the
        # expected volume of the rest of the day; the LP also plans the rest of the fairness
        # window, with each member's daily cap on the later days (see policy.pricing).
        sample_hours=_typical_hours(members, typical),
        arrived_today=float(today_total),
        elapsed_hours=max(24.0 - horizon, 0.0),
        window_days=float(fairness.window_days),
        daily_caps=caps,
    )
    return np.array([by_rep.get(r.rep_id, 0.0) for r in eligible])


def _typical_hours(
    members: list[Rep], typical: Mapping[str, float] | None
) -> tuple[float, ...] | None:
    """Each member's typical response hours (unknown reps: the team median), or None."""
    if not typical:
        return None
    fallback = float(np.median(list(typical.values())))
    return tuple(float(typical.get(r.rep_id, fallback)) for r in members)


def _daily_cap(cap: int | None) -> float:
    return float("inf") if cap is None else float(cap)


def _hours_to_local_midnight(rep: Rep, now: datetime) -> float:
    local = now.astimezone(rep_zone(rep))
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds() / 3600.0


def _candidates(
    ids: list[str],
    p: NDArray[np.float64] | None,
    price: NDArray[np.float64],
    main_dist: NDArray[np.float64],
    chosen: int,
) -> tuple[Candidate, ...]:
    """The chosen rep first, then the best others by score (by main-policy probability
    when unscored), at most ``TOP_CANDIDATES``."""
    if p is not None:
        score = p - price
        order = np.argsort(-score, kind="stable")
    else:
        score = None
        order = np.argsort(-main_dist, kind="stable")
    picked = [chosen, *[int(i) for i in order if int(i) != chosen][: TOP_CANDIDATES - 1]]
    return tuple(
        Candidate(
            rep_id=ids[i],
            p_convert=float(p[i]) if p is not None else None,
            price=float(price[i]) if p is not None else None,
            score=float(score[i]) if score is not None else None,
        )
        for i in picked
    )
