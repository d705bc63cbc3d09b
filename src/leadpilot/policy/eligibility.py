"""Who may take a lead: pool membership, the pool's eligibility rules (registered in
:data:`leadpilot.policy.registry.RULES`: territory, product, language, segment, seniority...),
activity, availability and capacity, each failure named by an exclusion code."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.availability import (
    ALWAYS,
    is_away,
    local_day,
    parse_working_hours,
    rep_zone,
)
from leadpilot.policy.capacity import Capacity, capacity_of
from leadpilot.policy.policy_file import Lane, Policy, Pool
from leadpilot.policy.registry import RULES, EligibilityRule
from leadpilot.policy.scoring import LeadView
from leadpilot.policy.state import RoutingState
from leadpilot.schema import Lead, Rep

if TYPE_CHECKING:
    from leadpilot.policy.roster_memo import PoolRows, RosterMemo, ScreenRow
    from leadpilot.policy.tally import Tally

__all__ = [
    "AVAILABILITY_TEXT",
    "CAPACITY",
    "TEMPORARY",
    "Capacity",
    "Checker",
    "RuleInput",
    "Screen",
    "active_rules",
    "capacity_of",
    "covers",
    "covers_territory",
    "rep_segments",
    "seniority_level",
    "why_nobody",
]

_GLOBAL = frozenset({"*", "all", "global", "any"})
# The screen works with numpy over the roster from this many reps (its fixed cost is some
# 30 us more than the per-rep loop's; measured even at ~150 reps, 30% less at 500).
ARRAY_SCREEN_MIN_REPS = 128
# Codes that mean "would be eligible but is away or full right now" (the lead may queue).
TEMPORARY = frozenset({"OUT_OF_OFFICE", "OUTSIDE_WORKING_HOURS", "AT_DAILY_CAP", "AT_OPEN_CAP"})
CAPACITY = frozenset({"AT_DAILY_CAP", "AT_OPEN_CAP"})


def why_nobody(codes: set[str]) -> str:
    """Why a pool had nobody, from its exclusion codes: everyone at a cap, everyone away or
    full (temporary), or nobody eligible at all (members outside the pool or inactive do not
    count)."""
    codes = codes - {"NOT_IN_POOL", "INACTIVE"}
    if codes and codes <= CAPACITY:
        return "ALL_AT_CAPACITY"
    if codes and codes <= TEMPORARY:
        return "ALL_AWAY_OR_FULL"
    return "NONE_ELIGIBLE"


# The codes that do not come from an eligibility rule, with their explanations.
AVAILABILITY_TEXT: dict[str, str] = {
    "NOT_IN_POOL": "is not a member of the pool",
    "OUT_OF_OFFICE": "is out of office or on holiday",
    "OUTSIDE_WORKING_HOURS": "is outside working hours",
    "AT_DAILY_CAP": "already has the maximum leads for today",
    "AT_OPEN_CAP": "already has the maximum open leads",
    "INACTIVE": "is inactive",
    "DECLINED_BEFORE": "declined this lead before",
    "UNKNOWN_REP": "is not in the roster",
}


def covers(rep_values: Sequence[str], lead_values: Sequence[str | None]) -> bool:
    """Whether a rep's list covers the lead's values: a rep listing nothing (or a global
    value such as ``*``) covers everything, and a lead with no value cannot be checked."""
    if not rep_values:
        return True
    wanted = {v.casefold() for v in rep_values}
    if wanted & _GLOBAL:
        return True
    given = [v for v in lead_values if v]
    return not given or any(v.casefold() in wanted for v in given)


def covers_territory(rep: Rep, lead: Lead, policy: Policy) -> bool:
    """Whether the rep's regions (expanded by ``policy.territories``) cover the lead's
    region, country or state."""
    regions: Sequence[str] = rep.regions
    if policy.territories and regions:
        regions = [*regions, *(c for r in regions for c in policy.territories.get(r, ()))]
    return covers(regions, (lead.region, lead.country, lead.state))


def seniority_level(rep: Rep, policy: Policy) -> int:
    """The rep's index in ``policy.seniority_levels`` (the policy's per-rep override, else
    the roster's ``seniority``, else the role); -1 when unknown (fails every seniority
    rule)."""
    levels = policy.seniority_levels
    override = policy.reps.get(rep.rep_id)
    for name in (override.seniority if override else None, rep.seniority, rep.role):
        if isinstance(name, str) and name in levels:
            return levels.index(name)
    return -1


def rep_segments(rep: Rep, policy: Policy) -> tuple[str, ...]:
    """The segments a rep covers: the policy's per-rep override, else the roster's."""
    override = policy.reps.get(rep.rep_id)
    if override is not None and override.segments:
        return tuple(override.segments)
    return rep.segments


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What an eligibility rule checks: one rep against one lead (``view``: the lead and
    its derived fields) under ``policy``, with the pool's ``setting`` of the rule."""

    policy: Policy
    setting: Any
    rep: Rep
    view: LeadView


def active_rules(pool: Pool) -> list[tuple[EligibilityRule, Any]]:
    """The pool's switched-on rules with their settings, in rule order."""
    return [(rule, s) for rule in RULES if (s := pool.eligibility.setting(rule.key))]


@dataclass(slots=True)
class Screen:
    """The outcome of screening a roster for one lead."""

    eligible: list[Rep] = field(default_factory=list)
    exclusions: dict[str, str] = field(default_factory=dict)
    # the eligible reps' ids, when the screen wrote them out (``None``: read ``eligible``)
    ids: list[str] | None = None
    # the reps excluded at a cap (``CAPACITY``), in roster order, when the screen wrote
    # them out (``None``: read ``exclusions``)
    at_capacity: list[str] | None = None
    # the array screen's eligible reps' local days, written into ``local_days`` when read
    # (nothing on the decision's path reads them): each zone's day and their zones
    pending_days: tuple[NDArray[np.object_], NDArray[np.intp]] | None = None
    days: dict[str, date] | None = None

    @property
    def local_days(self) -> dict[str, date]:
        """Each eligible rep's local day now."""
        found = self.days
        if found is None:
            found = self.days = {}
            if self.pending_days is not None and self.ids is not None:
                days, at = self.pending_days
                found.update(zip(self.ids, days[at].tolist(), strict=True))
        return found

    def capacity_skips(self) -> list[str]:
        """The reps excluded at a cap, in roster order."""
        if self.at_capacity is not None:
            return self.at_capacity
        return [r for r, c in self.exclusions.items() if c in CAPACITY]

    def codes(self) -> set[str]:
        """The distinct exclusion codes."""
        return set(self.exclusions.values())


class Checker:
    """Screens reps for one lead at one moment. Across leads it remembers only what a
    ``memo`` (:class:`~leadpilot.policy.roster_memo.RosterMemo` of the same policy and
    roster) holds: caps, who is never away and the rules' verdicts per lead key."""

    def __init__(
        self,
        *,
        policy: Policy,
        state: RoutingState,
        now: datetime,
        lane: Lane,
        declined: frozenset[str],
        memo: RosterMemo | None = None,
    ) -> None:
        self.policy = policy
        self.state = state
        self.now = now
        self.lane = lane
        self.declined = declined
        self.memo = memo if memo is not None and memo.policy is policy else None
        self._caps: dict[str, Capacity] = self.memo.caps if self.memo is not None else {}
        self._never_away = self.memo.never_away if self.memo is not None else frozenset()
        # the pools' active rules: the memo's (one policy) or this decision's
        self._rules: dict[str, list[tuple[EligibilityRule, Any]]] = (
            self.memo.rules if self.memo is not None else {}
        )
        self._days: dict[str | None, date] = {}
        self._open: dict[str, int] = {}
        self._working: dict[tuple[str | None, str | None], bool] = {}
        self._local: dict[str | None, datetime] = {}  # ``now`` in each timezone asked
        self._tally: Tally | bool | None = False  # False: not asked yet
        # the last eligible list the array screen made, with its reps' roster positions
        self._screened: tuple[list[Rep], NDArray[np.intp]] | None = None

    def tally(self) -> Tally | None:
        """The state's live counts of the memo's roster as arrays (``state.tally``), or
        ``None`` (no memo, a roster repeating a rep id, or a state without one: read rep by
        rep)."""
        found = self._tally
        if found is False:
            ask = getattr(self.state, "tally", None)
            memo = self.memo
            found = self._tally = (
                ask(memo.ids) if memo is not None and memo.unique_ids and ask is not None else None
            )
        return found  # type: ignore[return-value]

    def positions(self, eligible: Sequence[Rep]) -> NDArray[np.intp] | None:
        """The roster positions of ``eligible`` when it is the list this checker's array
        screen made (``None`` otherwise)."""
        screened = self._screened
        return screened[1] if screened is not None and screened[0] is eligible else None

    def _today(self, tally: Tally) -> tuple[NDArray[np.float64], NDArray[np.object_]]:
        """Each roster rep's leads on its local day today, and each zone's day (the memo's
        ``zones``; a rep's is at its ``zone_of``), each zone's day asked once; read-only,
        remembered by the memo for this tally's version and ``now`` (a decision asks for
        them three times: the screen, the fairness guard and the pricing)."""
        memo = self.memo
        assert memo is not None
        found = memo.today
        if (
            found is not None
            and found[0] is tally
            and found[1] == tally.version
            and found[2] == self.now
        ):
            return found[3], found[4]
        arrays = memo.arrays(self.capacity)
        zone_days = np.empty(len(arrays.zones), dtype=object)
        zone_days[:] = [self.local_day(rep) for rep in arrays.zones]
        first = zone_days[0] if len(zone_days) else None
        if all(day == first for day in zone_days.tolist()):  # the usual: one day
            today = tally.day(first).copy() if first is not None else np.zeros(0)
        else:
            zone_of = arrays.zone_of
            today = np.zeros(len(zone_of))
            for day in dict.fromkeys(zone_days.tolist()):
                at = (zone_days == day)[zone_of]
                today[at] = tally.day(day)[at]
        today.flags.writeable = False
        zone_days.flags.writeable = False
        memo.today = (tally, tally.version, self.now, today, zone_days)
        return today, zone_days

    def is_working(self, rep: Rep) -> bool:
        """``is_working(rep, now)``, once per (working hours, timezone) for this decision
        (a roster shares a few of each)."""
        key = (rep.working_hours, rep.timezone)
        working = self._working.get(key)
        if working is None:
            hours = parse_working_hours(rep.working_hours)
            if hours is ALWAYS:
                working = True
            else:  # the local time once per timezone (a roster has a few shifts in each)
                local = self._local.get(rep.timezone)
                if local is None:
                    local = self._local[rep.timezone] = self.now.astimezone(rep_zone(rep))
                working = hours.contains(local)
            self._working[key] = working
        return working

    def local_day(self, rep: Rep) -> date:
        """The rep's local date now (per timezone, for this decision)."""
        day = self._days.get(rep.timezone)
        if day is None:
            day = self._days[rep.timezone] = local_day(rep, self.now)
        return day

    def open_count(self, rep: Rep) -> int:
        """The rep's open leads now (read once per decision: the screen and the expected
        response time both ask)."""
        count = self._open.get(rep.rep_id)
        if count is None:
            count = self._open[rep.rep_id] = self.state.open_count(rep.rep_id, self.now)
        return count

    def capacity(self, rep: Rep) -> Capacity:
        """``capacity_of(rep, policy)``, memoised for this decision (asked for every rep
        by the screen and again by the pricing), or for the memo's roster."""
        cap = self._caps.get(rep.rep_id)
        if cap is None:
            cap = self._caps[rep.rep_id] = capacity_of(rep, self.policy)
        return cap

    def may_be_away(self, rep: Rep) -> bool:
        """False when the memo knows the rep has no out-of-office range or holiday."""
        return rep.rep_id not in self._never_away

    def static_codes(
        self, reps: Sequence[Rep], pool: Pool, view: LeadView
    ) -> dict[str, str | None] | None:
        """Every rep's code that does not depend on the moment (``NOT_IN_POOL``,
        ``INACTIVE`` or the first failing rule; ``None``: passes), from the memo; ``None``
        without a memo for ``reps`` or when one of the pool's rules has no ``lead_key``."""
        memo = self.memo
        if memo is None or reps is not memo.reps:
            return None
        rules = self._active(pool)
        if any(rule.lead_key is None for rule, _ in rules):
            return None
        key: Hashable = (pool.name, *(rule.lead_key(view, s) for rule, s in rules))  # type: ignore[misc]
        return memo.verdict(key, lambda: {r.rep_id: self._static(r, pool, view) for r in reps})

    def _static(self, rep: Rep, pool: Pool, view: LeadView) -> str | None:
        if not pool.includes(rep):
            return "NOT_IN_POOL"
        if not rep.active:
            return "INACTIVE"
        return self.rule_block(rep, pool, view)

    def _active(self, pool: Pool) -> list[tuple[EligibilityRule, Any]]:
        rules = self._rules.get(pool.name)
        if rules is None:
            rules = self._rules[pool.name] = active_rules(pool)
        return rules

    def rule_block(self, rep: Rep, pool: Pool, view: LeadView) -> str | None:
        """The code of the first of the pool's eligibility rules (see
        :data:`leadpilot.policy.registry.RULES`) the rep fails for this lead, or ``None``."""
        rule = self.failing_rule(rep, pool, view)
        return rule.code if rule is not None else None

    def failing_rule(self, rep: Rep, pool: Pool, view: LeadView) -> EligibilityRule | None:
        """The first of the pool's eligibility rules the rep fails for this lead."""
        for rule, setting in self._active(pool):
            if not rule.check(RuleInput(self.policy, setting, rep, view)):
                return rule
        return None

    def away_block(self, rep: Rep) -> str | None:
        """Inactive, or out of office / on holiday, else ``None`` (no hours, no caps)."""
        if not rep.active:
            return "INACTIVE"
        return is_away(rep, self.now, self.policy.availability)

    def availability_block(self, rep: Rep, *, require_working: bool | None = None) -> str | None:
        """Inactive, declined, away, outside working hours (every lane unless it turns
        ``working_hours`` off) or full, else ``None``."""
        if not rep.active:
            return "INACTIVE"
        if rep.rep_id in self.declined:
            return "DECLINED_BEFORE"
        if self.may_be_away(rep):
            away = is_away(rep, self.now, self.policy.availability)
            if away:
                return away
        if require_working is None:
            working = self.lane.working_hours or self.lane.require_available_now
        else:
            working = require_working
        if working and not self.is_working(rep):
            return "OUTSIDE_WORKING_HOURS"
        cap = self.capacity(rep)
        if cap.max_leads_per_day is not None and (
            self.state.daily_count(rep.rep_id, self.local_day(rep)) >= cap.max_leads_per_day
        ):
            return "AT_DAILY_CAP"
        if cap.max_open_leads is not None and (self.open_count(rep) >= cap.max_open_leads):
            return "AT_OPEN_CAP"
        return None

    def _screen_known(
        self, reps: Sequence[Rep], static: dict[str, str | None], out: Screen
    ) -> None:
        """The screen's loop when every rep's static code is known (``reps`` is the memo's
        roster): a rep who passes them gets :meth:`availability_block`'s checks written out
        in the loop, in its order, reading the memo's per-rep row and this decision's
        per-zone answers from local names (the router screens the whole roster for every
        lead, so per-rep method calls were most of a decision at 500 reps)."""
        assert self.memo is not None  # static codes come from the memo
        declined = self.declined
        working = self.lane.working_hours or self.lane.require_available_now
        availability, now = self.policy.availability, self.now
        daily_count = self.state.daily_count
        open_counts, state_open = self._open, self.state.open_count
        working_of, day_of = self._working, self._days
        eligible, exclusions, local_days = out.eligible, out.exclusions, out.local_days
        for (
            rep,
            rep_id,
            active,
            may_be_away,
            hours_key,
            zone,
            day_cap,
            open_cap,
        ) in self.memo.screen_rows(self.capacity):
            found = static[rep_id]
            if found is None:
                if not active:
                    found = "INACTIVE"
                elif rep_id in declined:
                    found = "DECLINED_BEFORE"
                elif may_be_away and (away := is_away(rep, now, availability)):
                    found = away
                else:
                    if working:
                        at_work = working_of.get(hours_key)
                        if at_work is None:
                            at_work = self.is_working(rep)
                        if not at_work:
                            exclusions[rep_id] = "OUTSIDE_WORKING_HOURS"
                            continue
                    day = day_of.get(zone)
                    if day is None:
                        day = self.local_day(rep)
                    if day_cap is not None and daily_count(rep_id, day) >= day_cap:
                        found = "AT_DAILY_CAP"
                    else:
                        if open_cap is not None:
                            opened = open_counts.get(rep_id)
                            if opened is None:
                                opened = open_counts[rep_id] = state_open(rep_id, now)
                            if opened >= open_cap:
                                exclusions[rep_id] = "AT_OPEN_CAP"
                                continue
                        eligible.append(rep)
                        local_days[rep_id] = day
                        continue
            exclusions[rep_id] = found

    def _screen_arrays(self, static: dict[str, str | None], out: Screen, tally: Tally) -> None:
        """``_screen_known`` with numpy over the roster: the same checks in the same order
        (static codes, inactive, declined, away, working hours, daily cap, open cap: the
        first that applies), with today's and open counts from the state's ``tally``.
        Per rep in Python only: who may be away and declined, the eligible list and the
        exclusions written out."""
        memo = self.memo
        assert memo is not None
        arrays = memo.arrays(self.capacity)
        rows = memo.screen_rows(self.capacity)
        code, passes = memo.static_codes(static)
        code = code.copy()
        left = passes & arrays.active
        code[passes & ~arrays.active] = "INACTIVE"
        for rep_id in self.declined:
            i = tally.index.get(rep_id)
            if i is not None and left[i]:
                code[i], left[i] = "DECLINED_BEFORE", False
        availability, now = self.policy.availability, self.now
        for i in arrays.may_be_away:
            if left[i]:
                away = is_away(rows[i][0], now, availability)
                if away:
                    code[i], left[i] = away, False
        if self.lane.working_hours or self.lane.require_available_now:
            shift_of = arrays.shift_of
            asked = np.bincount(shift_of[left], minlength=len(arrays.shifts))
            off = np.zeros(len(arrays.shifts), dtype=bool)
            for k in np.flatnonzero(asked).tolist():
                off[k] = not self.is_working(arrays.shifts[k])
            if off.any():
                away_now = left & off[shift_of]
                code[away_now] = "OUTSIDE_WORKING_HOURS"
                left &= ~away_now
        today, zone_days = self._today(tally)
        full_day = left & (today >= arrays.day_caps)
        code[full_day] = "AT_DAILY_CAP"
        left &= ~full_day
        full_open = left & (tally.open >= arrays.open_caps)
        code[full_open] = "AT_OPEN_CAP"
        left &= ~full_open
        eligible = np.flatnonzero(left)
        out.ids = arrays.ids[eligible].tolist()
        out.eligible = arrays.reps[eligible].tolist()
        excluded = ~left
        ids, codes = arrays.ids[excluded].tolist(), code[excluded].tolist()
        out.exclusions = dict(zip(ids, codes, strict=True))
        capped = full_day | full_open
        ruled = memo.static_in(static, CAPACITY)  # a rule's own code may read as a cap's
        out.at_capacity = arrays.ids[capped if ruled is None else capped | ruled].tolist()
        out.pending_days = (zone_days, arrays.zone_of[eligible])
        self._screened = (out.eligible, eligible)

    def used_today(self, rows: PoolRows | Sequence[ScreenRow]) -> NDArray[np.float64]:
        """Each row's rep's leads today (its local day), each zone's day asked once; a
        pool's rows (``PoolRows``) read from the state's tally when it has one."""
        if hasattr(rows, "member_of"):  # a PoolRows
            tally = self.tally()
            if tally is not None:
                return self._today(tally)[0][rows.at]  # type: ignore[union-attr]
            rows = rows.rows  # type: ignore[union-attr]
        days = self._days
        daily_count = self.state.daily_count
        used = np.empty(len(rows))
        for i, (rep, rep_id, _, _, _, zone, _, _) in enumerate(rows):
            day = days.get(zone)
            if day is None:
                day = self.local_day(rep)
            used[i] = daily_count(rep_id, day)
        return used

    def response_hours(
        self,
        eligible: Sequence[Rep],
        typical: Mapping[str, float],
        per_lead: float,
        fallback: float,
    ) -> NDArray[np.float64]:
        """``expected_response_hours`` of the predictive strategy for ``eligible`` with this
        decision's caps and open counts: each rep's typical hours (``fallback`` when unknown)
        plus ``per_lead`` hours per open lead beyond the daily cap, read from local names
        (one pass per lead over every eligible rep; with numpy for the list the array
        screen made)."""
        at = self.positions(eligible)
        tally = self.tally() if at is not None else None
        if at is not None and tally is not None and self.memo is not None:
            row = self.memo.typical_row(typical, fallback)[at]
            caps_of = self.memo.arrays(self.capacity).day_caps[at]
            open_of = tally.open[at]
            behind = open_of > caps_of  # never with no cap (inf)
            row[behind] += (open_of[behind] - caps_of[behind]) * per_lead
            return row
        caps, capacity = self._caps, self.capacity
        open_counts, state_open, now = self._open, self.state.open_count, self.now
        out = np.empty(len(eligible))
        for i, rep in enumerate(eligible):
            rep_id = rep.rep_id
            cap = caps.get(rep_id)
            if cap is None:
                cap = capacity(rep)
            hours = typical.get(rep_id, fallback)
            day_cap = cap.max_leads_per_day
            if day_cap is not None:
                opened = open_counts.get(rep_id)
                if opened is None:
                    opened = open_counts[rep_id] = state_open(rep_id, now)
                if opened > day_cap:
                    hours += (opened - day_cap) * per_lead
            out[i] = hours
        return out

    def screen(self, reps: Sequence[Rep], pool: Pool, view: LeadView) -> Screen:
        """Every rep of the roster: eligible for this lead in ``pool`` now, or excluded
        with the first code that applies."""
        out = Screen()
        static = self.static_codes(reps, pool, view)
        if static is not None:
            tally = self.tally() if len(reps) >= ARRAY_SCREEN_MIN_REPS else None
            if tally is not None:
                self._screen_arrays(static, out, tally)
            else:
                self._screen_known(reps, static, out)
            return out
        for rep in reps:
            if not pool.includes(rep):
                code: str | None = "NOT_IN_POOL"
            elif not rep.active:
                code = "INACTIVE"
            else:
                code = self.rule_block(rep, pool, view) or self.availability_block(rep)
            if code is None:
                out.eligible.append(rep)
                out.local_days[rep.rep_id] = self.local_day(rep)
            else:
                out.exclusions[rep.rep_id] = code
        return out
