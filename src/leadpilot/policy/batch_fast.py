"""The batch router's fast lane: ``route``'s decision for the common lead, on array state.

For a lead that reaches a pool with the ``predictive`` strategy and ``round_robin`` as its
fallback (no ownership hold, someone eligible in the first pool, a confidence at or above
``min_confidence``), :class:`FastLane` screens the roster, prices, scores and chooses with
numpy over arrays that mirror the routing state (each rep's daily count on its local day,
open leads, the pool's rotation credits), instead of ``route``'s per-rep Python. A pool
with the plain ``round_robin`` or ``load_balanced`` strategy (and the plain ``round_robin``
fallback) is screened the same way and chooses by the rotation and the mirrored counts,
with or without a scorer. With nobody on shift in a pool without overflow pools, in a lane
that assigns the reps whose shift starts soonest, those reps are the eligible (``route``'s
``NEXT_SHIFT``); with nobody there either (every rep at a cap or away), the lane writes
``route``'s unassigned decision (``NO_ELIGIBLE_REP``, the queue) unless the policy has a
fallback owner rep. Every other lead, and every policy the lane does not cover (shadow mode,
development shares, switchback holdouts, value objectives in predictive pools, other
strategies, no roster memo),
goes to ``route`` as before, and :meth:`FastLane.decide` says so by returning ``None``
before it draws from the random generator or touches the state.

The decisions are ``route``'s field for field (``tests/policy/test_batch_router*.py``
compare them lead by lead): the same checks in the same order per rep, the same arithmetic
on the same float64 values (numpy's elementwise operations round as Python's), the same
three random draws, and the mirrors are updated from every committed decision, whichever
path made it, with the :class:`~leadpilot.policy.state.InMemoryState` remaining the record
that the price LP and ``route`` read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from leadpilot.policy import fast_kernels
from leadpilot.policy.availability import (
    ALWAYS,
    is_away,
    is_working,
    local_day,
    next_working_start,
    parse_working_hours,
    rep_zone,
)
from leadpilot.policy.batch_scores import PrecomputedScorer
from leadpilot.policy.business_time import add_business_minutes
from leadpilot.policy.confidence import choice_confidence
from leadpilot.policy.eligibility import Checker, why_nobody
from leadpilot.policy.fairness import (
    DAY_END,
    LATER_CAUTION,
    LATER_DAYS,
    TODAY_CAUTION,
    TODAY_LOW_Z,
    WINDOW_END,
    WINDOW_END_HIGH,
    fair_shares,
    guard_band,
)
from leadpilot.policy.holds import hold_for
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.lead_history import LeadHistory
from leadpilot.policy.policy_file import Lane, Pool
from leadpilot.policy.pool_load import PoolLoad
from leadpilot.policy.pricer import ShadowPricer, pool_prices
from leadpilot.policy.registry import STRATEGIES
from leadpilot.policy.router import (
    IMPLICIT_LANE,
    TOP_CANDIDATES,
    decision_candidates,
    draw_index,
    lead_front,
    select_pool,
)
from leadpilot.policy.scoring import LeadView, Qualification
from leadpilot.policy.state import InMemoryState
from leadpilot.policy.strategies import predictive as predictive_module
from leadpilot.policy.strategies.load_balanced import LoadBalanced
from leadpilot.policy.strategies.predictive import Predictive, guard_mask, team_median
from leadpilot.policy.strategies.rotation import argmax_distribution
from leadpilot.policy.strategies.round_robin import RoundRobin
from leadpilot.schema import Candidate, Decision, Lead, Rep

__all__ = ["FastLane"]

NDF = NDArray[np.float64]
NDI = NDArray[np.int64]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
_FOREVER = 2**62  # an instant (microseconds) after every lead
_NO_HISTORY = LeadHistory()
# exclusion codes the lane writes itself; static codes (pool, activity, rules) follow
_DAILY, _OPEN, _OUTSIDE = 1, 2, 3
_CODES = ["", "AT_DAILY_CAP", "AT_OPEN_CAP", "OUTSIDE_WORKING_HOURS"]


# Decisions and candidates made field by field through their slots (``object.__new__`` and
# each slot's setter): a frozen dataclass's ``__init__`` sets each field with a looked-up
# ``object.__setattr__`` call, ~2x the CPU for the same object (equal, the same repr).
_new = object.__new__
_CANDIDATE_FIELDS = ("rep_id", "p_convert", "price", "score", "value")
_DECISION_FIELDS = (
    "lead_id", "rep_id", "pool", "lane", "strategy", "reasons", "decided_at", "candidates",
    "exclusions", "p_convert", "confidence", "propensity", "model_version", "policy_version",
    "sla_deadline", "mode", "shadow_rep_id", "fit_score", "intent_score", "grade",
    "rep_local_day", "rotation_update", "expected_value", "segment",
)  # fmt: skip
# a field added to either record must be added here too (else it would be left unset)
assert tuple(f.name for f in fields(Candidate)) == _CANDIDATE_FIELDS
assert tuple(f.name for f in fields(Decision)) == _DECISION_FIELDS
_SET_REP, _SET_P, _SET_PRICE, _SET_SCORE, _SET_VALUE = (
    getattr(Candidate, name).__set__ for name in _CANDIDATE_FIELDS
)
_DECISION_SETTERS = tuple(getattr(Decision, name).__set__ for name in _DECISION_FIELDS)


def _candidate(rep_id: str, p: float | None, price: float | None, score: float | None) -> Candidate:
    """``Candidate(rep_id, p, price, score, None)``, set through its slots."""
    made = _new(Candidate)
    _SET_REP(made, rep_id)
    _SET_P(made, p)
    _SET_PRICE(made, price)
    _SET_SCORE(made, score)
    _SET_VALUE(made, None)
    return made


def _make_decision(values: tuple[Any, ...]) -> Decision:
    """``Decision(*values)`` (every field, in ``_DECISION_FIELDS``' order), set through its
    slots."""
    made = _new(Decision)
    for setter, value in zip(_DECISION_SETTERS, values, strict=True):
        setter(made, value)
    return made


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a datetime's own resolution)."""
    return (moment - _EPOCH) // _US


class FastLane:
    """The fast lane of one ``route_batch`` run (see the module docstring): build it with
    :meth:`build`, ask :meth:`decide` for each lead, and tell :meth:`observe` every
    decision committed to ``state``."""

    def __init__(self, inputs: RouterInputs, state: InMemoryState) -> None:
        policy = inputs.policy
        self.policy = policy
        self.state = state
        self.roster = roster = inputs.reps
        n = len(roster)
        self.index = {rep.rep_id: i for i, rep in enumerate(roster)}
        self.ids: NDArray[np.object_] = np.array([r.rep_id for r in roster] + [None])[:n]
        self.skip_reason: NDArray[np.object_] = np.array(
            [f"CAPACITY_SKIP:{r.rep_id}" for r in roster] + [None]
        )[:n]
        memo = inputs.roster_memo()
        assert memo is not None
        self.memo = memo
        # static verdicts need no moment: one checker serves every lead
        self.checker = Checker(
            policy=policy, state=state, now=_EPOCH, lane=IMPLICIT_LANE, declined=frozenset(),
            memo=memo,
        )  # fmt: skip
        caps = [self.checker.capacity(r) for r in roster]
        inf = np.inf
        self.cap_day = np.array(
            [inf if c.max_leads_per_day is None else c.max_leads_per_day for c in caps]
        )
        self.cap_open = np.array(
            [inf if c.max_open_leads is None else c.max_open_leads for c in caps]
        )
        self.may_be_away = [i for i, r in enumerate(roster) if r.rep_id not in memo.never_away]
        # reps by (working hours, timezone) and by timezone: a roster shares a few of each
        self.shifts: dict[tuple[str | None, str | None], list[int]] = {}
        self.zones: dict[str, list[int]] = {}
        for i, rep in enumerate(roster):
            self.shifts.setdefault((rep.working_hours, rep.timezone), []).append(i)
            self.zones.setdefault(rep.timezone or "UTC", []).append(i)
        # per shift: the span (microseconds, from, until) over which its answer holds
        self.shift_spans: list[tuple[int, int, bool]] = [(0, 0, False)] * len(self.shifts)
        self.zone_of = np.empty(n, dtype=np.int64)
        self.zone_rep = []
        for k, members in enumerate(self.zones.values()):
            self.zone_of[members] = k
            self.zone_rep.append(roster[members[0]])
        # each zone's local date (an ordinal) and the instant (microseconds) it holds until
        self.zone_days = np.full(len(self.zone_rep), -1, dtype=np.int64)
        self.zone_until = [-1] * len(self.zone_rep)
        self.zone_check = -1  # the earliest of them
        self.days = np.full(n, -1, dtype=np.int64)
        self.days_dirty = True  # a rep's ``day`` may differ from ``days``
        # the daily counts of each rep on the local day ``day`` (an ordinal; -1: re-read)
        self.day = np.full(n, -1, dtype=np.int64)
        self.daily = np.zeros(n)
        # open leads: assignment times (microseconds) and reps in commit order, the first
        # ``expired`` of them no longer open
        self.open = np.zeros(n)
        self.open_times: list[int] = []
        self.open_reps: list[int] = []
        self.expired = 0
        ttl = state.open_lead_ttl
        self.ttl_us = None if ttl is None else ttl // _US
        # per pool: static verdict arrays per memo verdict, member mask, rotation credits
        self.static: dict[int, tuple[object, NDI]] = {}
        self.code_names = list(_CODES)
        self.code_index = {name: k for k, name in enumerate(self.code_names)}
        self.members: dict[str, NDArray[np.bool_]] = {}
        self.member_at: dict[str, NDI] = {}
        self.credits: dict[str, tuple[NDF, float]] = {}
        self.prices: dict[int, tuple[object, NDF]] = {}
        hours = inputs.response_hours
        self.queue_aware = policy.predictive.queue_aware and hours is not None
        if hours is not None:
            fallback = team_median(hours)
            self.typical = np.array([hours.get(r.rep_id, fallback) for r in roster])
        self.per_lead = policy.predictive.minutes_per_open_lead / 60.0
        self.scorer_cols: tuple[PrecomputedScorer, NDI] | None = None
        # each pool's assignments per UTC day and rep, the fairness window's sum (its first
        # day, per rep), and its members, caps and fair shares
        self.pool_days: dict[str, dict[date, NDF]] = {}
        self.windows: dict[str, tuple[date, NDF]] = {}
        self.loads: dict[str, tuple[list[Rep], NDF, NDF, NDI]] = {}
        # the guard and the choice as compiled loops (``fast_kernels``), when numba is loaded
        self.kernels = fast_kernels.compiled() is not None
        self.snapshots: dict[str, tuple[object, object]] = {}
        # recent screens' exclusions and skip reasons, by their codes' bytes (``_screened``)
        self.screens: dict[bytes, tuple[dict[str, str], list[str]]] = {}
        # whether predictive pools are decided here (see ``build``)
        self.predictive = False

    @classmethod
    def build(cls, inputs: RouterInputs, state: Any) -> FastLane | None:
        """The fast lane for these inputs and state, or ``None`` when the policy needs
        ``route`` for every lead (see the module docstring)."""
        policy = inputs.policy
        predictive = policy.predictive
        if (
            type(state) is not InMemoryState
            or state.decisions  # mirrors start from an empty state
            or policy.mode != "live"
            or policy.development
            or predictive.holdout_design != "per_lead"
            or inputs.roster_memo() is None
        ):
            return None
        # predictive pools need the scorer and the shadow prices of the conversions objective
        priced = (
            predictive.shadow_prices
            and policy.objective == "conversions"
            and inputs.scorer is not None
        )
        if not any((priced and _covered(pool)) or _rotated(pool) for pool in policy.pools):
            return None
        lane = cls(inputs, state)
        lane.predictive = priced
        return lane

    # -- the state mirrors ---------------------------------------------------------------

    def observe(self, decision: Decision) -> None:
        """Mirror ``state.commit(decision)`` (call it after every commit)."""
        rep_id = decision.rep_id
        if rep_id is None:
            return
        i = self.index.get(rep_id)
        if i is None:
            return
        day = decision.rep_local_day or decision.decided_at.date()
        if self.day[i] == day.toordinal():
            self.daily[i] += 1
        else:
            self.day[i] = -1  # re-read from the state when next asked
            self.days_dirty = True
        self.open_times.append(_micros(decision.decided_at))
        self.open_reps.append(i)
        self.open[i] += 1
        if decision.pool is not None:  # the pool's window counts (``window_counts``)
            day = decision.decided_at.date()
            days = self.pool_days.setdefault(decision.pool, {})
            counts = days.get(day)
            if counts is None:
                counts = days[day] = np.zeros(len(self.roster))
            counts[i] += 1
            window = self.windows.get(decision.pool)
            if window is not None and day >= window[0]:
                window[1][i] += 1
        if decision.pool is not None and decision.rotation_update:
            found = self.credits.get(decision.pool)
            if found is not None:
                update = decision.rotation_update
                only = next(iter(update)) if len(update) == 1 else None
                value = update.get(only) if only is not None else None
                j = self.index.get(only) if only is not None else None
                if j is not None and value is not None and value > found[1]:
                    found[0][j] = value  # a round-robin turn: the new largest credit
                    self.credits[decision.pool] = (found[0], value)
                else:
                    del self.credits[decision.pool]  # anything else: rebuilt when asked

    def _counts(self, now: datetime) -> NDF:
        """Each rep's count on their local day at ``now``; open leads expired."""
        now_us = _micros(now)
        if now_us >= self.zone_check:
            changed = False
            for z, rep in enumerate(self.zone_rep):
                if now_us >= self.zone_until[z]:
                    day, self.zone_until[z] = _zone_day(rep, now, now_us)
                    if day != self.zone_days[z]:
                        self.zone_days[z] = day
                        changed = True
            self.zone_check = min(self.zone_until)
            if changed:
                self.days = self.zone_days[self.zone_of]
                self.days_dirty = True
        if self.days_dirty:
            days = self.days
            count = self.state.daily_count
            for i in np.flatnonzero(days != self.day).tolist():
                self.day[i] = days[i]
                rep = self.roster[i]
                self.daily[i] = count(rep.rep_id, local_day(rep, now))
            self.days_dirty = False
        if self.ttl_us is not None:
            cutoff = now_us - self.ttl_us
            times, k = self.open_times, self.expired
            while k < len(times) and times[k] <= cutoff:
                self.open[self.open_reps[k]] -= 1
                k += 1
            self.expired = k
        return self.daily

    def _load(self, pool: Pool, now: datetime, in_pool: NDArray[np.bool_]) -> PoolLoad:
        """``pool_load(pool, roster, policy, state, now, cap_of)`` from the mirrors: the
        members' leads in the fairness window, daily caps and fair shares."""
        window = self._window(pool, now)
        members, caps, share, _ = self._fixed(pool, in_pool)
        return PoolLoad(members, window[in_pool], caps, share)

    def _window(self, pool: Pool, now: datetime) -> NDF:
        """Each roster rep's leads of ``pool`` in the fairness window at ``now``."""
        since = (now - timedelta(days=self.policy.fairness.window_days - 1)).date()
        window = self.windows.get(pool.name)
        if window is None or window[0] != since:
            total = np.zeros(len(self.roster))
            for day, counts in self.pool_days.get(pool.name, {}).items():
                if day >= since:
                    total += counts
            window = self.windows[pool.name] = (since, total)
        return window[1]

    def _fixed(self, pool: Pool, in_pool: NDArray[np.bool_]) -> tuple[list[Rep], NDF, NDF, NDI]:
        """The pool's members, their daily caps and fair shares, and their roster indices."""
        fixed = self.loads.get(pool.name)
        if fixed is None:
            caps = self.cap_day[in_pool]
            shares = self.policy.fairness.shares
            share = fair_shares(caps if shares == "capacity" else np.ones(len(caps)))
            at = np.flatnonzero(in_pool).astype(np.int64)
            members = [self.roster[i] for i in at.tolist()]
            fixed = self.loads[pool.name] = (members, caps, share, at)
        return fixed

    def _credits(self, pool: str) -> tuple[NDF, float] | None:
        """The pool's rotation credits per rep (-inf: never served) and the largest turn
        (``rotation_update``'s); ``None`` when a credit is NaN (``route`` then decides)."""
        found = self.credits.get(pool)
        if found is None:
            credits = self.state.rotation(pool)
            arr = np.array([credits.get(r.rep_id, -np.inf) for r in self.roster], dtype=float)
            if np.isnan(arr).any():
                return None
            served = [v for k, v in credits.items() if np.isfinite(v) and not k.startswith("@")]
            found = self.credits[pool] = (arr, max(served) if served else -np.inf)
        return found

    def _static(self, pool: Pool, view: Any) -> NDI | None:
        """Each rep's static code index for this lead (0: passes), from the memo."""
        verdicts = self.checker.static_codes(self.roster, pool, view)
        if verdicts is None:
            return None
        found = self.static.get(id(verdicts))
        if found is None or found[0] is not verdicts:
            codes = np.zeros(len(self.roster), dtype=np.int64)
            for i, rep in enumerate(self.roster):
                code = verdicts[rep.rep_id]
                if code is not None:
                    k = self.code_index.get(code)
                    if k is None:
                        k = self.code_index[code] = len(self.code_names)
                        self.code_names.append(code)
                    codes[i] = k
            found = self.static[id(verdicts)] = (verdicts, codes)
        return found[1]

    def _price_array(self, snapshot: object) -> NDF:
        found = self.prices.get(id(snapshot))
        if found is None or found[0] is not snapshot:
            get = snapshot.get  # type: ignore[attr-defined]
            arr = np.array([get(r.rep_id, 0.0) for r in self.roster])
            if len(self.prices) > 64:
                self.prices.clear()
            found = self.prices[id(snapshot)] = (snapshot, arr)
        return found[1]

    def _member_at(self, pool: Pool) -> NDI:
        """Each rep's place among the pool's members (meaningful for members only)."""
        found = self.member_at.get(pool.name)
        if found is None:
            found = self.member_at[pool.name] = np.cumsum(self._member_mask(pool)) - 1
        return found

    def _member_mask(self, pool: Pool) -> NDArray[np.bool_]:
        found = self.members.get(pool.name)
        if found is None:
            found = self.members[pool.name] = np.array(
                [r.active and pool.includes(r) for r in self.roster], dtype=bool
            )
        return found

    # -- one lead ------------------------------------------------------------------------

    def decide(
        self,
        lead: Lead,
        inputs: RouterInputs,
        now: datetime,
        rng: np.random.Generator,
        pricer: ShadowPricer | None,
        step_of: Callable[[Pool], int | None],
    ) -> tuple[Decision | None, RouterInputs]:
        """``route_repriced``'s decision for ``lead`` at ``now`` (``route``'s when there is
        no ``pricer``) and the inputs with the prices it read, or ``(None, inputs)`` when
        the lead needs ``route`` (nothing drawn from ``rng``, nothing written)."""
        policy = inputs.policy
        if policy is not self.policy or inputs.reps is not self.roster:
            return None, inputs
        view, qualification, match, lane = lead_front(lead, policy, inputs.accounts, _NO_HISTORY)
        if not lane.assign or hold_for(match, policy.holds, now) is not None:
            return None, inputs
        pool, pool_reasons = select_pool(view, policy)
        if pool is None:
            return None, inputs
        rotated = _rotated(pool)
        if not rotated and (pricer is None or not self.predictive or not _covered(pool)):
            return None, inputs
        static = self._static(pool, view)
        if static is None:
            return None, inputs
        # the screen, rep by rep in ``Checker._screen_known``'s order: static codes, away,
        # working hours, the daily cap, the open-lead cap (the first that applies)
        daily = self._counts(now)
        if self.kernels:  # the compiled loop: the same codes
            code = np.empty(len(static), dtype=np.int64)
            fast_kernels.screen(
                self.open, self.cap_open, daily, self.cap_day, static, _DAILY, _OPEN, code
            )
        else:
            code = np.where(self.open >= self.cap_open, _OPEN, 0)
            code[daily >= self.cap_day] = _DAILY
            code = np.where(static == 0, code, static)
        # a static code stands; the reps that pass it may be off shift or away
        if lane.working_hours or lane.require_available_now:
            now_us = _micros(now)
            for j, members in enumerate(self.shifts.values()):
                if not self._working(j, members[0], now, now_us):
                    held = static[members]
                    code[members] = np.where(held == 0, _OUTSIDE, held)
        if self.may_be_away:
            passing = static == 0
            for i in self.may_be_away:
                if passing[i]:
                    away = is_away(self.roster[i], now, policy.availability)
                    if away:
                        k = self.code_index.get(away)
                        if k is None:
                            k = self.code_index[away] = len(self.code_names)
                            self.code_names.append(away)
                        code[i] = k
        eligible = np.flatnonzero(code == 0)
        shift_start = None
        if not len(eligible):
            # a pool without overflow pools: the reps whose shift starts soonest
            # (``_soonest_shift``), else nobody (the queue); overflow pools and a fallback
            # owner rep: ``route``
            if pool.overflow:
                return None, inputs
            soonest = None
            if lane.working_hours and lane.off_shift_action == "soonest":
                soonest = self._soonest(code, daily, now)
            if soonest is None:
                owner = policy.fallback_owner
                if owner is not None and owner.rep is not None:
                    return None, inputs
                front = _Front(lead, now, view, qualification, lane, pool, pool_reasons, code,
                               eligible)  # fmt: skip
                return self._nobody(front), inputs
            eligible, shift_start = soonest
            code = code.copy()
            code[eligible] = 0  # no longer excluded
        front = _Front(
            lead, now, view, qualification, lane, pool, pool_reasons, code, eligible, shift_start
        )
        if rotated:
            return self._rotation(front, daily, rng), inputs
        assert pricer is not None
        return self._predictive(front, inputs, daily, rng, pricer, step_of)

    def _rotation(self, front: _Front, daily: NDF, rng: np.random.Generator) -> Decision | None:
        """``_choose`` for a ``round_robin`` or ``load_balanced`` pool with the plain
        ``round_robin`` fallback: the rotation's oldest turn among the eligible (and, load
        balanced, the fewest open leads, then fewest today, then that turn), no scores."""
        pool, eligible = front.pool, front.eligible
        rotation = self._credits(pool.name)
        if rotation is None:
            return None
        credits, served = rotation
        turns = credits[eligible]
        fallback_idx = int(np.argmin(turns))  # ``rotation_pick``: the first of the oldest
        n = len(eligible)
        name = STRATEGIES.get(pool.strategy).name
        if name == "load_balanced":
            # ``load_balanced_pick``: min of (open, today, turn, place) tuples; lexsort is
            # stable, so equal keys keep the places' order (its last key is the first)
            pick = int(np.lexsort((turns, daily[eligible], self.open[eligible]))[0])
        else:
            pick = fallback_idx
        policy = self.policy
        explore, holdout = policy.predictive.explore, policy.predictive.holdout
        u_holdout, u_explore, u_pick = rng.random(3).tolist()  # three draws, in order
        reasons = self._reasons(front)
        reasons.append(name.upper())  # the strategy's reason (``one_rep``)
        strategy = pool.strategy
        if u_holdout < holdout:
            chosen = fallback_idx
            reasons.append("HOLDOUT")
            strategy = pool.fallback
        elif u_explore < explore:
            chosen = min(int(u_pick * n), n - 1)
            reasons.append("EXPLORE")
        else:
            chosen = pick  # ``draw_index`` of a one-hot ``dist``
        ids = self.ids[eligible[_rotation_picked(n, pick, chosen)]].tolist()
        return self._decision(
            front,
            chosen,
            strategy=strategy,
            reasons=reasons,
            candidates=tuple(_candidate(rep_id, None, None, None) for rep_id in ids),
            # ``route``'s live_dist at ``chosen`` (the one-hot ``dist``'s): the same steps
            propensity=holdout * (1.0 if chosen == fallback_idx else 0.0)
            + (1 - holdout) * (explore / n + (1 - explore) * (1.0 if chosen == pick else 0.0)),
            served=served,
        )

    def _working(self, k: int, i: int, now: datetime, now_us: int) -> bool:
        """``is_working(roster[i], now)`` for the ``k``-th shift (rep ``i`` one of its
        members), remembered over the span in which it cannot change (``_working_until``)."""
        since, until, working = self.shift_spans[k]
        if since <= now_us < until:
            return working
        rep = self.roster[i]
        working = is_working(rep, now)
        self.shift_spans[k] = (now_us, _working_until(rep, now, now_us), working)
        return working

    def _soonest(self, code: NDI, daily: NDF, now: datetime) -> tuple[NDI, datetime] | None:
        """``_soonest_shift``: among the reps kept out only by their working hours (neither
        at a cap nor away: ``availability_block`` without working hours), those whose next
        shift starts first (roster order) and that start; ``None`` when there are none."""
        free = (code == _OUTSIDE) & (daily < self.cap_day) & (self.open < self.cap_open)
        if not free.any():
            return None
        first: datetime | None = None
        soonest: list[int] = []
        for members in self.shifts.values():
            waiting = [i for i in members if free[i]]
            if not waiting:
                continue
            start = next_working_start(self.roster[waiting[0]], now)
            if start is None:
                continue
            if first is None or start < first:
                first, soonest = start, waiting
            elif start == first:
                soonest += waiting
        if first is None:
            return None
        return np.array(sorted(soonest), dtype=np.int64), first

    def _reasons(self, front: _Front) -> list[str]:
        """The reasons ``route`` gives before the strategy's: lane, grade, hot lane, pool,
        territory, the reps skipped at a cap."""
        lane, pool, lead = front.lane, front.pool, front.lead
        reasons = [f"LANE:{lane.name}", f"GRADE:{front.qualification.grade}"]
        if lane.require_available_now:
            reasons.append("HOT_LANE")
        reasons += front.pool_reasons
        if pool.eligibility.setting("territory"):
            where = lead.region or lead.country or lead.state
            if where:
                reasons.append(f"TERRITORY:{where}")
        code = front.code
        reasons += self._screened(code)[1]
        return reasons

    def _exclusions(self, code: NDI) -> dict[str, str]:
        """Each excluded rep's code, in roster order (the screen's): a new dict."""
        return dict(self._screened(code)[0])

    def _screened(self, code: NDI) -> tuple[dict[str, str], list[str]]:
        """What the screen's codes say in a decision: each excluded rep's code in roster
        order (kept here: callers copy it) and the reasons of the reps skipped at a cap,
        kept for the screens seen lately (most leads see the screen of a lead before them:
        the same pool, the same reps at their caps)."""
        key = code.tobytes()
        found = self.screens.get(key)
        if found is None:
            excluded = np.flatnonzero(code)
            names = self.code_names
            exclusions = dict(
                zip(self.ids[excluded].tolist(), [names[c] for c in code[excluded].tolist()],
                    strict=True)
            )  # fmt: skip
            capped = np.flatnonzero((code == _DAILY) | (code == _OPEN))
            skipped = self.skip_reason[capped].tolist() if len(capped) else []
            if len(self.screens) >= 64:
                self.screens.clear()
            found = self.screens[key] = (exclusions, skipped)
        return found

    def _nobody(self, front: _Front) -> Decision:
        """``route``'s decision when nobody in the pool can take the lead (no overflow
        pools, nobody whose shift starts soonest) and the policy has no fallback owner rep:
        no rep (the caller queues the lead), ``NO_ELIGIBLE_REP`` and why
        (``eligibility.why_nobody``), the fallback queue's reason if there is one."""
        policy, pool, lane = self.policy, front.pool, front.lane
        reasons = self._reasons(front)
        exclusions = self._exclusions(front.code)
        reasons += ["NO_ELIGIBLE_REP", why_nobody(set(exclusions.values()))]
        owner = policy.fallback_owner
        if owner is not None and owner.queue is not None:
            reasons.append(f"FALLBACK_QUEUE:{owner.queue}")
        derived = front.view.derived
        return Decision(
            lead_id=front.lead.lead_id,
            rep_id=None,
            pool=pool.name,
            lane=lane.name,
            strategy=pool.strategy,
            reasons=tuple(reasons),
            decided_at=front.now,
            exclusions=exclusions,
            propensity=1.0,
            policy_version=policy.policy_hash,
            sla_deadline=None,
            mode=policy.mode,
            fit_score=derived.get("fit"),
            intent_score=derived.get("intent"),
            grade=derived.get("grade"),
            rep_local_day=None,
            segment=front.view.get("segment"),
        )

    def _decision(
        self,
        front: _Front,
        chosen: int,
        *,
        strategy: str,
        reasons: list[str],
        candidates: tuple[Candidate, ...],
        propensity: float,
        served: float,
        p_convert: float | None = None,
        confidence: float | None = None,
        model_version: str | None = None,
    ) -> Decision:
        """``route``'s decision giving the lead to the ``chosen``-th eligible rep."""
        lane, now, code, policy = front.lane, front.now, front.code, self.policy
        at = int(front.eligible[chosen])
        rep = self.roster[at]
        exclusions = self._exclusions(code)
        # the SLA clock starts at the shift's start for a rep assigned before it
        start = now if front.shift_start is None else max(now, front.shift_start)
        if front.shift_start is not None:
            reasons.append(f"NEXT_SHIFT:{rep.rep_id}")
        minutes = lane.sla_minutes
        if not minutes:
            deadline = None
        elif lane.sla_clock == "business":
            deadline = add_business_minutes(rep, start, minutes)
        else:
            deadline = start + timedelta(minutes=minutes)
        view = front.view
        derived = view.derived
        return _make_decision(
            (
                front.lead.lead_id,  # lead_id
                rep.rep_id,  # rep_id
                front.pool.name,  # pool
                lane.name,  # lane
                strategy,  # strategy
                tuple(reasons),  # reasons
                now,  # decided_at
                candidates,  # candidates
                exclusions,  # exclusions
                p_convert,  # p_convert
                confidence,  # confidence
                propensity,  # propensity
                model_version,  # model_version
                policy.policy_hash,  # policy_version
                deadline,  # sla_deadline
                policy.mode,  # mode
                None,  # shadow_rep_id
                derived.get("fit"),  # fit_score
                derived.get("intent"),  # intent_score
                derived.get("grade"),  # grade
                # ``local_day(rep, now)``: the day its daily count is on (``_counts``)
                date.fromordinal(int(self.days[at])),  # rep_local_day
                {rep.rep_id: (served if math.isfinite(served) else 0.0) + 1.0},  # rotation_update
                None,  # expected_value
                view.get("segment"),  # segment
            )
        )

    def _predictive(
        self,
        front: _Front,
        inputs: RouterInputs,
        daily: NDF,
        rng: np.random.Generator,
        pricer: ShadowPricer,
        step_of: Callable[[Pool], int | None],
    ) -> tuple[Decision | None, RouterInputs]:
        """``route_repriced``'s choice in a ``predictive`` pool (``round_robin`` fallback)."""
        policy, pool, lead, now = self.policy, front.pool, front.lead, front.now
        eligible = front.eligible
        n = len(eligible)
        # the strategy's inputs: prices (refreshed as ``route_repriced`` would), rotation
        cadence = step_of(pool)
        scorer = inputs.scorer
        assert scorer is not None
        in_pool = self._member_mask(pool)
        today_total = int(daily[in_pool].sum())
        if cadence is None:  # the service's: pool_prices' step and reps at a cap or away
            size = int(in_pool.sum())
            step = max(policy.predictive.refresh_every, size // 4)
            full = in_pool & (daily >= self.cap_day)
            for i in self.may_be_away:
                if in_pool[i] and not full[i]:
                    away = is_away(self.roster[i], now, policy.availability)
                    full[i] = away == "OUT_OF_OFFICE"
            filled = int(full.sum()) // max(1, size // 10)
        else:
            step, filled = max(cadence, 1), 0
        # the key pool_prices files the pool's prices under (a miss: it solves, or finds
        # them under its own key: the same prices either way)
        version = scorer.version
        key = (now.date(), pool.name, policy.policy_hash, version, None, filled,
               today_total // step)  # fmt: skip
        prices = pricer.cached(key, (pool.name, policy.policy_hash, version, None))
        if prices is None:
            prices = pool_prices(pricer, pool, inputs, self.state, now, refresh_every=cadence)
        last = self.snapshots.get(pool.name)
        if last is None or last[0] is not prices or inputs.prices.get(pool.name) is not last[1]:
            inputs = inputs.with_prices(pool.name, prices)
            last = self.snapshots[pool.name] = (prices, inputs.prices[pool.name])
        rotation = self._credits(pool.name)
        if rotation is None:
            return None, inputs
        credits, served = rotation
        # predictive: score, price, argmax, confidence against the fallback's pick
        hours: NDF | None
        if self.kernels:  # the compiled loop: the same values
            price = np.empty(n)
            hours = np.empty(n) if self.queue_aware else None
            fallback_idx = fast_kernels.gather(
                eligible, self._price_array(prices), credits, self.open, self.cap_day,
                self.typical if self.queue_aware else price, self.per_lead, self.queue_aware,
                price, price if hours is None else hours,
            )  # fmt: skip
        else:
            price = self._price_array(prices)[eligible]
            fallback_idx = int(np.argmin(credits[eligible]))
            if self.queue_aware:
                backlog = np.maximum(0.0, self.open[eligible] - self.cap_day[eligible])
                hours = self.typical[eligible] + backlog * self.per_lead
            else:
                hours = None
        ids = self.ids[eligible].tolist()
        # the fairness guard, on the values ``Predictive`` reads (none without a horizon);
        # eligible reps are members: ``at``, their places among the members, in order
        keep = self._guard(prices, pool, now, in_pool, daily, eligible)
        lean = self._lean(scorer, lead)
        order: NDI | None = None
        if lean is not None:
            batch, row, cols = lean
            shrunk = batch.shrunk_at(row, cols[eligible], hours)
            p = batch.calibrate(shrunk[0])
            if self.kernels:
                dist = np.empty(n)
                order = np.empty(TOP_CANDIDATES, dtype=np.int64)
                mask = keep if keep is not None else np.ones(n, dtype=bool)
                top, found_winner, guard = fast_kernels.choose(
                    p, price, mask, keep is not None, TOP_CANDIDATES, dist, order
                )
                if top < 0:  # a NaN score: numpy's code
                    order = None
                else:
                    order = order[:top]
                    winner = found_winner if found_winner >= 0 else None
            if order is None:
                dist, winner = _argmax(_kept(p - price, keep))
                guard = _guard_acted(p - price, keep, dist)
            confidence = _confidence(shrunk, batch.calibrate, p, dist, fallback_idx)
        else:
            scores = scorer.score_candidates(lead, ids, expected_response_hours=hours)
            p = np.asarray(scores.p, dtype=float)
            dist, winner = _argmax(_kept(p - price, keep))
            guard = _guard_acted(p - price, keep, dist)
            confidence = (
                choice_confidence(scores.draws, p, dist, fallback_idx)
                if scores.draws is not None
                else float(scores.confidence)
            )
        if confidence < policy.predictive.min_confidence:
            return None, inputs  # the fallback decides: ``route`` writes that decision
        explore, holdout = policy.predictive.explore, policy.predictive.holdout
        u_holdout, u_explore, u_pick = rng.random(3).tolist()  # three draws, in order
        reasons = self._reasons(front)
        reasons.append("PREDICTIVE")
        if guard:
            reasons.append("FAIRNESS_GUARD")
        strategy = pool.strategy
        if u_holdout < holdout:
            chosen = fallback_idx
            reasons.append("HOLDOUT")
            strategy = pool.fallback
        elif u_explore < explore:
            chosen = min(int(u_pick * n), n - 1)
            reasons.append("EXPLORE")
        else:
            # one best rep (the rule): ``draw_index`` of a one-hot ``dist`` is its index
            chosen = winner if winner is not None else draw_index(dist, u_pick)
        decision = self._decision(
            front,
            chosen,
            strategy=strategy,
            reasons=reasons,
            candidates=decision_candidates(ids, p, price, dist, chosen, None)
            if order is None
            else _candidates(ids, p, price, order, chosen),
            # ``route``'s live_dist at ``chosen``: elementwise numpy = the same float steps
            propensity=holdout * (1.0 if chosen == fallback_idx else 0.0)
            + (1 - holdout) * (explore / n + (1 - explore) * float(dist[chosen])),
            served=served,
            p_convert=float(p[chosen]),
            confidence=confidence,
            model_version=version,
        )
        return decision, inputs

    def _guard(
        self,
        prices: Any,
        pool: Pool,
        now: datetime,
        in_pool: NDArray[np.bool_],
        daily: NDF,
        eligible: NDI,
    ) -> NDArray[np.bool_] | None:
        """``guard_mask`` of the eligible reps, as ``Predictive`` calls it (the compiled
        loop when numba is loaded: the same mask)."""
        end = prices.get(WINDOW_END)
        if end is None:
            return None
        at = self._member_at(pool)[eligible]
        if not self.kernels:
            ids = self.ids[eligible].tolist()
            load = self._load(pool, now, in_pool)
            return guard_mask(prices, self.policy, load, daily[in_pool], ids, at=at)
        if not predictive_module.FAIRNESS_GUARD:
            return None
        _members, _caps, share, members = self._fixed(pool, in_pool)
        low, high = guard_band(self.policy.fairness.band)
        keep = np.empty(len(at), dtype=bool)
        kept = fast_kernels.guard(
            self._window(pool, now), members, share, self.cap_day, daily, at,
            float(low), float(high), float(end), float(prices.get(LATER_DAYS, 0.0)),
            float(prices.get(DAY_END, end)), float(prices.get(WINDOW_END_HIGH, end)),
            TODAY_CAUTION, LATER_CAUTION, TODAY_LOW_Z, keep,
        )  # fmt: skip
        return keep if kept else None

    def _lean(self, scorer: Any, lead: Lead) -> tuple[Any, int, NDI] | None:
        """A batch that holds ``lead`` and gives its log-odds before calibration
        (``ModelBatchScores.shrunk_at``), the lead's row and each roster rep's column
        (-1: not scored, i.e. inactive, never eligible); ``None``: ask the scorer."""
        if not isinstance(scorer, PrecomputedScorer):
            return None
        batch = scorer.scores
        if not hasattr(batch, "shrunk_at"):
            return None
        row = scorer.row_of(lead)
        if row is None:
            return None
        found = self.scorer_cols
        if found is None or found[0] is not scorer:
            cols = scorer.columns([r.rep_id for r in self.roster])
            found = self.scorer_cols = (scorer, cols)
        scorer.hits += 1
        return batch, row, found[1]


def _candidates(
    ids: list[str], p: NDF, price: NDF, order: NDI, chosen: int
) -> tuple[Candidate, ...]:
    """``decision_candidates(ids, p, price, dist, chosen, None)`` given the first
    ``TOP_CANDIDATES`` of its order (``fast_kernels.choose``'s): the chosen rep first, then
    the best others, each with its score ``p - price`` (elementwise: the same bits)."""
    picked = [chosen, *[i for i in order.tolist() if i != chosen][: TOP_CANDIDATES - 1]]
    ps, prs = p[picked], price[picked]
    return tuple(
        _candidate(ids[i], p_i, price_i, score_i)
        for i, p_i, price_i, score_i in zip(
            picked, ps.tolist(), prs.tolist(), (ps - prs).tolist(), strict=True
        )
    )


def _rotation_picked(n: int, pick: int, chosen: int) -> list[int]:
    """The candidates' places of ``decision_candidates(ids, None, dist, dist, chosen)``
    for ``n`` reps and the one-hot ``dist`` at ``pick``: its stable descending order is
    ``pick``, then the others in their order; the chosen rep first, then the first others
    of that order, ``TOP_CANDIDATES`` in all."""
    if pick < TOP_CANDIDATES:
        first = [pick, *[i for i in range(min(TOP_CANDIDATES, n)) if i != pick]]
    else:
        first = [pick, *range(min(TOP_CANDIDATES - 1, n))]
    return [chosen, *[i for i in first if i != chosen][: TOP_CANDIDATES - 1]]


def _confidence(
    shrunk: NDF, calibrate: Callable[[NDF], NDF], p: NDF, dist: NDF, fallback: int
) -> float:
    """``choice_confidence(calibrate(shrunk[1:]), p, dist, fallback)`` bit for bit, reading
    only the columns of the chosen reps and the fallback's: per chosen rep, the bags' spread
    of its difference to the fallback's pick with numpy's steps for ``std(axis=0, ddof=1)``
    of a (bags, reps) array (a sum down the rows in order, divided by the count; the squared
    deviations summed the same way, divided by count - 1), then ``ndtr``, as ``beats``."""
    total = 0.0
    k = shrunk.shape[0] - 1
    for i in np.flatnonzero(dist).tolist():
        if i == fallback:
            beat = 1.0
        else:
            diff = float(p[i] - p[fallback])
            sd = 0.0
            if k > 1:
                cols = calibrate(shrunk[1:, [i, fallback]])
                d = (cols[:, 0] - cols[:, 1]).tolist()
                s = d[0]
                for x in d[1:]:
                    s += x
                mean = s / k
                ss = (d[0] - mean) * (d[0] - mean)
                for x in d[1:]:
                    ss += (x - mean) * (x - mean)
                sd = math.sqrt(ss / (k - 1))
            if sd > 0:
                beat = float(ndtr(diff / sd))
            else:
                beat = 1.0 if diff > 0 else (0.0 if diff < 0 else 0.5)
        total += float(dist[i]) * beat
    return total


def _kept(score: NDF, keep: NDArray[np.bool_] | None) -> NDF:
    """``score`` with the reps the fairness guard rules out at ``-inf``."""
    return score if keep is None else np.where(keep, score, -np.inf)


def _guard_acted(score: NDF, keep: NDArray[np.bool_] | None, dist: NDF) -> bool:
    """Whether the fairness guard changed who may get the lead (``Predictive``'s test)."""
    # a guard that keeps everyone leaves the scores, hence the distribution, as they were
    if keep is None or keep.all():
        return False
    return not np.array_equal(dist, argmax_distribution(score))


def _argmax(score: NDF) -> tuple[NDF, int | None]:
    """``argmax_distribution(score)`` and, when one rep has it all, that rep's index."""
    dist = argmax_distribution(score)
    top = np.flatnonzero(dist)
    return dist, (int(top[0]) if len(top) == 1 else None)


def _working_until(rep: Any, now: datetime, now_us: int) -> int:
    """The instant (microseconds) until which ``is_working(rep, t)`` equals its answer at
    ``now`` for every ``t`` from ``now``: the next start or end of a working window on the
    rep's local day (or local midnight), or an hour on, whichever comes first, when the
    zone's UTC offset is the same now and an hour on (then the local clock runs evenly in
    between, as ``_zone_day`` reads it, and no comparison of the local time with a window's
    edge can flip before the next edge); else only ``now``."""
    hours = parse_working_hours(rep.working_hours)
    if hours is ALWAYS:
        return _FOREVER
    zone = rep_zone(rep)
    local = now.astimezone(zone)
    offset = local.utcoffset()
    if offset is None or offset != (now.astimezone(UTC) + _HOUR).astimezone(zone).utcoffset():
        return now_us + 1
    t = local.time()
    edges = [x for window in hours.windows[local.weekday()] for x in window if x > t]
    wall = local.replace(tzinfo=None)
    if edges:
        edge = datetime.combine(wall.date(), min(edges))
    else:
        edge = datetime.combine(wall.date() + timedelta(days=1), time(0))
    return min(now_us + _HOUR_US, now_us + (edge - wall) // _US)


def _zone_day(rep: Any, now: datetime, now_us: int) -> tuple[int, int]:
    """The rep's local date at ``now`` (``local_day``, as an ordinal) and the instant
    (microseconds) until which it holds: the next local midnight, or an hour on, whichever
    comes first, when the zone's UTC offset is the same now and an hour on (no zone changes
    its offset twice within an hour, so it is constant in between); else only ``now``."""
    day = local_day(rep, now).toordinal()
    zone = rep_zone(rep)
    offset = now.astimezone(zone).utcoffset()
    if offset is None or offset != (now.astimezone(UTC) + _HOUR).astimezone(zone).utcoffset():
        return day, now_us + 1
    shift = offset // _US
    midnight = ((now_us + shift) // _DAY_US + 1) * _DAY_US - shift
    return day, min(now_us + _HOUR_US, midnight)


def _rotated(pool: Pool) -> bool:
    """Whether the pool's strategy is the built-in plain ``round_robin`` or
    ``load_balanced`` with the plain ``round_robin`` as fallback (no scores, no prices)."""
    main, fallback = STRATEGIES.get(pool.strategy), STRATEGIES.get(pool.fallback)
    return (
        type(main) in (RoundRobin, LoadBalanced)
        and main.name in ("round_robin", "load_balanced")
        and not main.weighted
        and type(fallback) is RoundRobin
        and not fallback.weighted
        and fallback.name == "round_robin"
    )


@dataclass(slots=True)  # not frozen: a plain __init__ (one per lead)
class _Front:
    """What the lane found about one lead before its pool's strategy chooses: its view,
    grade and lane, the pool (and its reasons), each rep's exclusion code (0: eligible)
    and the eligible reps' places in the roster."""

    lead: Lead
    now: datetime
    view: LeadView
    qualification: Qualification
    lane: Lane
    pool: Pool
    pool_reasons: list[str]
    code: NDI
    eligible: NDI
    shift_start: datetime | None = None  # the eligible reps' shift starts then (soonest)


def _covered(pool: Pool) -> bool:
    """Whether the lane knows the pool's strategies: the built-in ``predictive`` with the
    plain ``round_robin`` as fallback."""
    main, fallback = STRATEGIES.get(pool.strategy), STRATEGIES.get(pool.fallback)
    return (
        type(main) is Predictive
        and type(fallback) is RoundRobin
        and not main.weighted
        and not fallback.weighted
        and fallback.name == "round_robin"
    )
