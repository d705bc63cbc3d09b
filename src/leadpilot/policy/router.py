"""The router core: one lead in, one :class:`~leadpilot.schema.Decision` out.

``route(lead, inputs, state, now, rng, declined)`` is a pure function of its arguments:
no clock, no global randomness, no writes, no solver. ``inputs``
(:class:`~leadpilot.policy.inputs.RouterInputs`) holds the policy, roster, scorer, account
matcher, shadow-price snapshot and response times. The caller commits the decision to the
state (``state.commit(decision)``), in one transaction in the service, and refreshes the
shadow prices before routing when they are due (:func:`leadpilot.policy.pricer.refresh_prices`,
which asks :func:`priced_pool` which pool's prices this lead would read). Order of the
rules: lane (its SLA) -> ownership hold (whatever the lane) -> the lane's ``assign`` ->
exception -> pool -> eligibility (working hours in every lane) -> overflow pools -> the rep
whose shift starts soonest (or the queue) -> the policy's fallback owner -> strategy (with
exploration and holdout mixed in, and the propensity of the chosen rep).

Strategies and eligibility rules come from the registries of :mod:`leadpilot.policy.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.policy.availability import local_day, next_working_start
from leadpilot.policy.business_time import add_business_minutes
from leadpilot.policy.choice import Choice, ChoiceContext, Fallback
from leadpilot.policy.development import development_pick
from leadpilot.policy.eligibility import Checker, Screen, why_nobody
from leadpilot.policy.holds import AccountLookup, AccountMatchLike, hold_for
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.lead_history import LeadHistory, as_history
from leadpilot.policy.policy_file import Lane, Policy, Pool
from leadpilot.policy.registry import STRATEGIES
from leadpilot.policy.rules.previously_lapsed import LAPSED_FIELD
from leadpilot.policy.scoring import LeadView, Qualification, matches, qualify, segment_of
from leadpilot.policy.state import RoutingState
from leadpilot.policy.strategies.rotation import rotation_update
from leadpilot.policy.switchback import switchback_slot
from leadpilot.schema import Candidate, Decision, Lead, Rep, Scorer

__all__ = [
    "IMPLICIT_LANE",
    "TOP_CANDIDATES",
    "Reach",
    "decision_candidates",
    "draw_index",
    "lead_front",
    "lead_view",
    "planned_candidates",
    "priced_pool",
    "reach",
    "route",
    "route_repriced",
    "select_lane",
    "select_pool",
    "with_strategy",
]

TOP_CANDIDATES = 5
IMPLICIT_LANE = Lane(name="standard")


def with_strategy(policy: Policy, strategy: str) -> Policy:
    """A copy of ``policy`` where every pool uses ``strategy`` (``route-batch --strategy``)."""
    data = policy.model_dump(by_alias=True, exclude_unset=True)
    data["pools"] = [
        {**pool.model_dump(by_alias=True, exclude_unset=True), "strategy": strategy}
        for pool in policy.pools
    ]
    return Policy.model_validate(data)


def lead_view(lead: Lead, policy: Policy) -> LeadView:
    """The lead with its policy segment (``qualify`` adds fit, intent and grade)."""
    return LeadView(lead, {"segment": segment_of(lead, policy.segments)})


def select_lane(view: LeadView, policy: Policy) -> Lane:
    """The first lane whose conditions hold (an implicit ``standard`` lane if none)."""
    for lane in policy.lanes:
        if matches(lane.when, lane.when_any, view):
            return lane
    return IMPLICIT_LANE


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
    # Reps assigned before their shift starts: the SLA clock starts with the shift.
    shift_starts: dict[str, datetime] = field(default_factory=dict)

    def deadline(self, rep: Rep) -> datetime | None:
        """The SLA deadline if ``rep`` gets the lead now: wall-clock or the rep's working
        minutes (``lane.sla_clock``), from now or from the start of the rep's shift."""
        minutes = self.lane.sla_minutes
        if not minutes:
            return None
        start = max(self.now, self.shift_starts.get(rep.rep_id, self.now))
        if self.lane.sla_clock == "business":
            return add_business_minutes(rep, start, minutes)
        return start + timedelta(minutes=minutes)

    def decision(self, rep: Rep | None, **fields: object) -> Decision:
        lane = self.lane
        deadline = self.deadline(rep) if rep is not None else None
        if rep is not None and rep.rep_id in self.shift_starts:
            self.reasons.append(f"NEXT_SHIFT:{rep.rep_id}")
        base: dict[str, object] = {
            "lead_id": self.lead.lead_id,
            "rep_id": rep.rep_id if rep is not None else None,
            "pool": None,
            "lane": lane.name,
            "strategy": "none",
            "reasons": tuple(self.reasons),
            "decided_at": self.now,
            "exclusions": dict(self.exclusions),
            "policy_version": self.policy.policy_hash,
            "sla_deadline": deadline,
            "mode": self.policy.mode,
            "fit_score": self.view.derived.get("fit"),
            "intent_score": self.view.derived.get("intent"),
            "grade": self.view.derived.get("grade"),
            "rep_local_day": local_day(rep, self.now) if rep is not None else None,
            "segment": self.view.get("segment"),
        }
        base.update(fields)  # one Decision, not one and a replaced copy
        return Decision(**base)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Plan:
    """A lead that reached a pool with eligible reps: the strategy chooses next."""

    draft: _Draft
    pool: Pool
    screen: Screen
    checker: Checker


def route(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    rng: np.random.Generator,
    declined: frozenset[str] | LeadHistory = frozenset(),
) -> Decision:
    """Decide who gets ``lead`` at ``now``; never assigns a rep who is inactive,
    ineligible, away or at a cap (the policy's ``fallback_owner`` rep alone may exceed a
    cap). ``rep_id`` is ``None`` (with the reason) when nobody can take the lead now, so the
    caller can queue it. ``declined``: the reps who let this lead go before (a
    ``LeadHistory``, or the set of reps who declined it). ``now`` must be timezone-aware."""
    plan = _plan(lead, inputs, state, now, declined)
    if isinstance(plan, Decision):
        return plan
    return _choose(plan, inputs, state, rng)


def route_repriced(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    rng: np.random.Generator,
    reprice: Callable[[Pool, RouterInputs], RouterInputs],
    declined: frozenset[str] | LeadHistory = frozenset(),
) -> tuple[Decision, RouterInputs]:
    """``route`` with the price refresh folded in (the batch router and the service): the
    lane, hold, pool and eligibility are worked out once, and when the lead reads a pool's
    shadow prices (the pool :func:`priced_pool` would name) ``reprice(pool, inputs)`` gives
    the inputs to choose with. The same decision as refreshing the prices and calling
    ``route``, with the roster screened once instead of twice. Returns the decision and the
    inputs (with the refreshed prices) for the next lead."""
    plan = _plan(lead, inputs, state, now, declined)
    if isinstance(plan, Decision):
        return plan, inputs
    if (
        inputs.scorer is not None
        and inputs.policy.predictive.shadow_prices
        and STRATEGIES.get(plan.pool.strategy).priced
    ):
        inputs = reprice(plan.pool, inputs)
    return _choose(plan, inputs, state, rng), inputs


def planned_candidates(
    lead: Lead, inputs: RouterInputs, state: RoutingState, now: datetime
) -> list[str] | None:
    """The ids of the reps a strategy would choose among for ``lead`` at ``now`` with this
    state, or ``None`` when a rule decides before any strategy (the batch router's guess of
    what the scorer will be asked, made before the leads ahead of it are routed)."""
    plan = _plan(lead, inputs, state, now, frozenset())
    if isinstance(plan, Decision):
        return None
    return [rep.rep_id for rep in plan.screen.eligible]


def priced_pool(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    declined: frozenset[str] | LeadHistory = frozenset(),
) -> Pool | None:
    """The pool whose shadow prices ``route`` would read for this lead with these
    arguments (a priced strategy, a scorer, eligible reps), else ``None``."""
    if inputs.scorer is None or not inputs.policy.predictive.shadow_prices:
        return None
    plan = _plan(lead, inputs, state, now, declined)
    if isinstance(plan, Decision) or not STRATEGIES.get(plan.pool.strategy).priced:
        return None
    return plan.pool


def _plan(
    lead: Lead,
    inputs: RouterInputs,
    state: RoutingState,
    now: datetime,
    declined: frozenset[str] | LeadHistory,
) -> _Plan | Decision:
    """Lane, hold, pool and eligibility: a final decision, or the pool's eligible reps."""
    if now.tzinfo is None:
        raise DataValidationError(
            "route() needs a timezone-aware 'now'", hint="Pass e.g. datetime.now(UTC)."
        )
    policy, reps = inputs.policy, inputs.reps
    history = as_history(declined)
    view, qualification, match, lane = lead_front(lead, policy, inputs.accounts, history)
    reasons = [f"LANE:{lane.name}", f"GRADE:{qualification.grade}"]
    if lane.require_available_now:
        reasons.append("HOT_LANE")
    draft = _Draft(lead, policy, now, lane, view, reasons, {})
    checker = Checker(
        policy=policy,
        state=state,
        now=now,
        lane=lane,
        declined=history.declined,
        memo=inputs.roster_memo(),
    )
    by_id = checker.memo.by_id if checker.memo is not None else {r.rep_id: r for r in reps}
    # Ownership holds come before the lane's ``assign``: an owned account's lead goes to its
    # owner (or backup) whatever its lane; the lane still sets the SLA.
    held = _hold(draft, inputs, checker, match, history, by_id)
    if isinstance(held, Decision):
        return held
    if not lane.assign:
        reasons.append("NO_ASSIGNMENT_LANE")
        return draft.decision(None, strategy="none", propensity=1.0)
    if held is None:
        pool, pool_reasons = select_pool(view, policy)
        reasons += pool_reasons
        if pool is None:
            return _fallback_owner(draft, inputs, checker, by_id, None)
    else:
        pool = held
    placed = _place(draft, checker, reps, pool)
    if placed is None:
        return _fallback_owner(draft, inputs, checker, by_id, pool)
    return _Plan(draft, placed[0], placed[1], checker)


def lead_front(
    lead: Lead, policy: Policy, accounts: AccountLookup | None, history: LeadHistory
) -> tuple[LeadView, Qualification, AccountMatchLike | None, Lane]:
    """The lead's view (segment, fit, intent, grade, account, lapsed reps), its account
    match and its lane: what every later rule reads."""
    view = lead_view(lead, policy)
    qualification = qualify(view, policy)
    match = accounts.match(lead) if accounts is not None else None
    if match is not None:
        view.derived.update(account_id=match.account.account_id, account_tier=match.account.tier)
    view.derived[LAPSED_FIELD] = history.lapsed
    return view, qualification, match, select_lane(view, policy)


@dataclass(frozen=True, slots=True)
class Reach:
    """Whom and what routing a new lead may touch, found without reading any counter
    (``policy.lock_scope`` turns it into routing locks): the ownership hold's owner and
    backup rep (decided by the rep alone), and every pool whose reps it may screen: the
    hold's backup pool and the pool the rules pick, each with its ``overflow`` pools. The
    policy's ``fallback_owner`` is not in it: that rep is assigned past caps, without reading
    its counters (see ``policy.lock_scope``)."""

    hold_reps: tuple[str, ...]
    pools: tuple[Pool, ...]


def reach(
    lead: Lead,
    policy: Policy,
    by_id: Mapping[str, Rep],
    accounts: AccountLookup | None,
    now: datetime,
) -> Reach:
    """Everything ``route`` of a new ``lead`` at ``now`` may read or write with this policy,
    roster (``by_id``) and accounts, by the rules ``route`` applies (a superset: a hold that
    places the lead leaves its pools unused)."""
    view, _, match, lane = lead_front(lead, policy, accounts, as_history(frozenset()))
    hold_reps: list[str] = []
    starts: list[Pool] = []
    hold = hold_for(match, policy.holds, now)
    if hold is not None:
        hold_reps.append(hold.owner_rep_id)
        owner = by_id.get(hold.owner_rep_id)
        if policy.holds.use_backup_rep and owner is not None and owner.backup_rep_id:
            hold_reps.append(owner.backup_rep_id)
        if policy.holds.backup_pool is not None and lane.assign:
            starts.append(policy.pool(policy.holds.backup_pool))
    if lane.assign:
        pool, _ = select_pool(view, policy)
        if pool is not None:
            starts.append(pool)
    pools: dict[str, Pool] = {}
    for start in starts:
        pools.setdefault(start.name, start)
        for name in start.overflow:  # _place tries the first pool's overflow list only
            pools.setdefault(name, policy.pool(name))
    return Reach(tuple(hold_reps), tuple(pools.values()))


def _hold(
    draft: _Draft,
    inputs: RouterInputs,
    checker: Checker,
    match: object,
    history: LeadHistory,
    by_id: dict[str, Rep],
) -> Decision | Pool | None:
    """The ownership hold: the owner's (or backup's) decision, the hold's backup pool when
    both are unavailable, or ``None`` (no hold)."""
    policy, reasons, lead = draft.policy, draft.reasons, draft.lead
    hold = hold_for(match, policy.holds, draft.now)  # type: ignore[arg-type]
    if hold is None:
        return None

    def block(rep: Rep) -> str | None:
        # An owner keeps the account's leads off shift too, unless the lane needs someone
        # now; a rep who let this lead go does not get it back through the hold.
        if rep.rep_id in history.lapsed:
            return "PREVIOUSLY_LAPSED"
        return checker.availability_block(rep, require_working=draft.lane.require_available_now)

    owner = by_id.get(hold.owner_rep_id)
    code = "UNKNOWN_REP" if owner is None else block(owner)
    reasons.append(f"ACCOUNT:{hold.account_id}:{hold.method}")
    if owner is not None and code is None:
        reasons += ["OWNER_HOLD", f"HOLD:{hold.why}"]
        return draft.decision(
            owner,
            strategy="hold",
            propensity=1.0,
            pool=owner.pool,
            **_scored(inputs.scorer, lead, owner),
        )
    draft.exclusions[hold.owner_rep_id] = code or "UNKNOWN_REP"
    reasons.append(f"OWNER_UNAVAILABLE:{hold.owner_rep_id}:{code}")
    backup = by_id.get(owner.backup_rep_id or "") if owner is not None else None
    if policy.holds.use_backup_rep and backup is not None:
        backup_code = block(backup)
        if backup_code is None:
            reasons.append("HOLD_BACKUP_REP")
            return draft.decision(
                backup,
                strategy="hold",
                propensity=1.0,
                pool=backup.pool,
                **_scored(inputs.scorer, lead, backup),
            )
        draft.exclusions[backup.rep_id] = backup_code
    if policy.holds.backup_pool is not None and draft.lane.assign:
        forced = policy.pool(policy.holds.backup_pool)
        reasons += ["HOLD_BACKUP_POOL", f"POOL:{forced.name}"]
        return forced
    return None


def _place(
    draft: _Draft, checker: Checker, reps: Sequence[Rep], pool: Pool
) -> tuple[Pool, Screen] | None:
    """The pool and its eligible reps: the pool's reps on shift, else those of its
    ``overflow`` pools in order (``OVERFLOW:pool``), else (when the lane says ``soonest``)
    the reps of the first of those pools whose shift starts soonest. ``None``: nobody, with
    the reasons recorded."""
    chain = [pool]
    for name in pool.overflow:
        if all(p.name != name for p in chain):
            chain.append(draft.policy.pool(name))
    screens: list[Screen] = []
    # Until some exclusion is recorded, this pool's screen's own (disjoint from its
    # eligible reps) are all there is: copied at once, and no eligible rep to take back.
    # (Rep ids unique in the roster: the memo knows.)
    fresh = not draft.exclusions and checker.memo is not None and checker.memo.unique_ids
    for i, candidate in enumerate(chain):
        screen = checker.screen(reps, candidate, draft.view)
        screens.append(screen)
        if fresh and i == 0:
            draft.exclusions.update(screen.exclusions)
        else:
            for rep_id, code in screen.exclusions.items():
                if not (i and code == "NOT_IN_POOL"):
                    draft.exclusions.setdefault(rep_id, code)
        if i == 0:
            _territory_reason(draft, candidate)
            draft.reasons += [f"CAPACITY_SKIP:{r}" for r in screen.capacity_skips()]
        if screen.eligible:
            if i:
                draft.reasons += [f"OVERFLOW:{candidate.name}", f"POOL:{candidate.name}"]
            if not (fresh and i == 0):
                for rep in screen.eligible:
                    draft.exclusions.pop(rep.rep_id, None)
            return candidate, screen
    if draft.lane.working_hours and draft.lane.off_shift_action == "soonest":
        for i, (candidate, screen) in enumerate(zip(chain, screens, strict=True)):
            soonest = _soonest_shift(draft, checker, reps, screen)
            if soonest is not None:
                if i:
                    draft.reasons += [f"OVERFLOW:{candidate.name}", f"POOL:{candidate.name}"]
                for rep in soonest.eligible:
                    draft.exclusions.pop(rep.rep_id, None)
                return candidate, soonest
    draft.reasons += ["NO_ELIGIBLE_REP", why_nobody(screens[0].codes())]
    return None


def _soonest_shift(
    draft: _Draft, checker: Checker, reps: Sequence[Rep], screen: Screen
) -> Screen | None:
    """Among the reps kept out only by their working hours, those whose shift starts
    soonest (their SLA clock starts then), or ``None``."""
    by_id = {rep.rep_id: rep for rep in reps}
    starts: dict[str, datetime] = {}
    # Per (working hours, timezone): a roster shares a few, and off shift most of a roster
    # of 100 reps lands here on every lead.
    known: dict[tuple[str | None, str | None], datetime | None] = {}
    for rep_id, code in screen.exclusions.items():
        rep = by_id[rep_id]
        if code != "OUTSIDE_WORKING_HOURS":
            continue
        if checker.availability_block(rep, require_working=False) is not None:
            continue
        shift = (rep.working_hours, rep.timezone)
        if shift not in known:
            known[shift] = next_working_start(rep, draft.now)
        start = known[shift]
        if start is not None:
            starts[rep_id] = start
    if not starts:
        return None
    first = min(starts.values())
    out = Screen()
    for rep_id, start in starts.items():
        if start == first:
            out.eligible.append(by_id[rep_id])
            out.local_days[rep_id] = local_day(by_id[rep_id], draft.now)
            draft.shift_starts[rep_id] = start
    out.exclusions = {k: v for k, v in screen.exclusions.items() if k not in draft.shift_starts}
    return out


def _territory_reason(draft: _Draft, pool: Pool) -> None:
    if pool.eligibility.setting("territory"):
        lead = draft.lead
        where = lead.region or lead.country or lead.state
        if where:
            draft.reasons.append(f"TERRITORY:{where}")


def _fallback_owner(
    draft: _Draft,
    inputs: RouterInputs,
    checker: Checker,
    by_id: dict[str, Rep],
    pool: Pool | None,
) -> Decision:
    """Nobody in the pools: the policy's ``fallback_owner`` rep (past capacity caps, not
    while away), or its queue, or the plain queue."""
    fallback = draft.policy.fallback_owner
    strategy = pool.strategy if pool is not None else "none"
    pool_name = pool.name if pool is not None else None
    if fallback is not None and fallback.rep is not None:
        rep = by_id.get(fallback.rep)
        code = "UNKNOWN_REP" if rep is None else checker.away_block(rep)
        if rep is not None and code is None:
            draft.reasons.append(f"FALLBACK_OWNER:{rep.rep_id}")
            return draft.decision(
                rep,
                strategy="fallback_owner",
                propensity=1.0,
                pool=pool_name,
                **_scored(inputs.scorer, draft.lead, rep),
            )
        draft.reasons.append(f"FALLBACK_OWNER_UNAVAILABLE:{fallback.rep}:{code}")
    elif fallback is not None and fallback.queue is not None:
        draft.reasons.append(f"FALLBACK_QUEUE:{fallback.queue}")
    return draft.decision(None, strategy=strategy, pool=pool_name, propensity=1.0)


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


def _choose(
    plan: _Plan, inputs: RouterInputs, state: RoutingState, rng: np.random.Generator
) -> Decision:
    draft, pool = plan.draft, plan.pool
    policy, now, reasons = draft.policy, draft.now, draft.reasons
    eligible = plan.screen.eligible
    ids = plan.screen.ids if plan.screen.ids is not None else [r.rep_id for r in eligible]
    n = len(ids)
    main, fallback = STRATEGIES.get(pool.strategy), STRATEGIES.get(pool.fallback)
    ctx = ChoiceContext(
        lead=draft.lead,
        pool=pool,
        eligible=eligible,
        ids=ids,
        credits=state.rotation(pool.name),
        weighted=main.weighted or fallback.weighted,
        inputs=inputs,
        state=state,
        now=now,
        checker=plan.checker,
    )
    if policy.mode == "live" and policy.development:
        members = [r for r in inputs.reps if r.active and pool.includes(r)]
        segment = draft.view.get("segment")
        forced = development_pick(pool, members, eligible, policy, state, now, segment)
        if forced is not None:
            return _developing(plan, ctx, forced, inputs)
    # A fallback puts all its mass on one rep (holdout and shadow mode use that rep).
    fallback_dist = fallback.choose(ctx).dist
    fallback_idx = int(np.argmax(fallback_dist))
    ctx = replace(ctx, fallback_index=fallback_idx)

    strategy = pool.strategy
    answer: Choice | Fallback = main.choose(ctx)
    reasons.append(answer.reason)
    p, confidence = answer.p, answer.confidence
    value = None
    if isinstance(answer, Fallback):
        strategy, main_dist, price = pool.fallback, fallback_dist, np.zeros(n)
    else:
        main_dist, value = answer.dist, answer.value
        price = answer.price if answer.price is not None else np.zeros(n)
        if answer.note is not None:
            reasons.append(answer.note)
        if answer.guard:
            reasons.append("FAIRNESS_GUARD")

    explore, holdout = policy.predictive.explore, policy.predictive.holdout
    # The live policy's probability of each rep (the propensity of the chosen one):
    # holdout x fallback + (1 - holdout) x (explore / n + (1 - explore) x main, read for
    # the chosen rep alone (the same arithmetic as over the whole distribution).
    arm: str | None = None  # the switchback's arm: "off" (fallback) or "on" (main)
    # Always three draws, in this order, so a seed replays exactly.
    u_holdout, u_explore, u_pick = rng.random(), rng.random(), rng.random()
    in_holdout = u_holdout < holdout
    if policy.predictive.holdout_design == "switchback":
        # The block, not the lead, is randomized: the lead's arm is fixed by its time, so
        # its propensity is the arm's own distribution.
        slot = switchback_slot(policy.predictive, now)
        reasons.extend(slot.reasons)
        in_holdout = slot.off
        arm = "off" if slot.off else "on"
    if in_holdout:
        branch, chosen = "HOLDOUT", fallback_idx
    elif u_explore < explore:
        branch, chosen = "EXPLORE", min(int(u_pick * n), n - 1)
    else:
        branch, chosen = None, draw_index(main_dist, u_pick)
    if branch == "HOLDOUT":
        reasons.append("HOLDOUT")
        strategy = pool.fallback
    elif branch == "EXPLORE":
        reasons.append("EXPLORE")

    shadow_rep: str | None = None
    if arm == "off":
        propensity = float(fallback_dist[chosen])
    elif arm == "on":
        propensity = float(explore / n + (1 - explore) * main_dist[chosen])
    else:
        propensity = float(
            holdout * fallback_dist[chosen]
            + (1 - holdout) * (explore / n + (1 - explore) * main_dist[chosen])
        )
    if policy.mode == "shadow":
        shadow_rep = ids[chosen]
        chosen, propensity, strategy = fallback_idx, 1.0, pool.fallback
        reasons.append(f"SHADOW_RECOMMENDS:{shadow_rep}")

    rep = eligible[chosen]
    update = rotation_update(
        ids, ctx.credits, rep.rep_id, weighted=ctx.weighted, weights=pool.weights
    )
    for used in {main.name: main, fallback.name: fallback}.values():
        update.update(used.record(ctx, rep.rep_id))
    candidates = decision_candidates(ids, p, price, main_dist, chosen, value)
    scorer = inputs.scorer
    return draft.decision(
        rep,
        pool=pool.name,
        strategy=strategy,
        candidates=candidates,
        p_convert=float(p[chosen]) if p is not None else None,
        expected_value=float(value[chosen]) if value is not None else None,
        confidence=confidence,
        propensity=propensity,
        model_version=scorer.version if scorer is not None and p is not None else None,
        shadow_rep_id=shadow_rep,
        rotation_update=update,
    )


def _developing(
    plan: _Plan, ctx: ChoiceContext, forced: tuple[int, str], inputs: RouterInputs
) -> Decision:
    """The lead goes to a development rep below its share (see ``policy.development``):
    deterministic (propensity 1), scored for evaluation, the rotation left as it was."""
    index, reason = forced
    rep = plan.screen.eligible[index]
    plan.draft.reasons.append(reason)
    return plan.draft.decision(
        rep,
        pool=plan.pool.name,
        strategy="development",
        propensity=1.0,
        candidates=(Candidate(rep_id=rep.rep_id),),
        **_scored(inputs.scorer, ctx.lead, rep),
    )


def draw_index(dist: NDArray[np.float64], u: float) -> int:
    """Inverse-CDF draw from ``dist`` with the uniform ``u`` (ties split evenly)."""
    cdf = np.cumsum(dist)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(dist) - 1))


def decision_candidates(
    ids: list[str],
    p: NDArray[np.float64] | None,
    price: NDArray[np.float64],
    main_dist: NDArray[np.float64],
    chosen: int,
    value: NDArray[np.float64] | None = None,
) -> tuple[Candidate, ...]:
    """The chosen rep first, then the best others by score (``p - price``, or
    ``p x value - price`` under a value objective; by main-policy probability when
    unscored), at most ``TOP_CANDIDATES``."""
    if p is not None:
        score = (p if value is None else p * value) - price
        order = np.argsort(-score, kind="stable")
    else:
        score = None
        order = np.argsort(-main_dist, kind="stable")
    # the first TOP_CANDIDATES of the order hold the TOP_CANDIDATES - 1 others
    first = order[:TOP_CANDIDATES].tolist()
    picked = [chosen, *[i for i in first if i != chosen][: TOP_CANDIDATES - 1]]
    if p is None or score is None:
        return tuple(Candidate(rep_id=ids[i]) for i in picked)
    # one conversion per array (``tolist`` gives the Python floats ``float`` would)
    values = np.asarray(value)[picked].tolist() if value is not None else [None] * len(picked)
    return tuple(
        Candidate(ids[i], p_i, price_i, score_i, value_i)
        for i, p_i, price_i, score_i, value_i in zip(
            picked,
            np.asarray(p)[picked].tolist(),
            np.asarray(price)[picked].tolist(),
            score[picked].tolist(),
            values,
            strict=True,
        )
    )
