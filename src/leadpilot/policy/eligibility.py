"""Who may take a lead: pool membership, territory/product/language/segment/seniority rules,
activity, availability and capacity, each failure named by an exclusion code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from leadpilot.policy.availability import is_away, is_working, local_day
from leadpilot.policy.policy_file import Lane, Policy, Pool
from leadpilot.policy.scoring import LeadView, matches
from leadpilot.policy.state import RoutingState
from leadpilot.schema import Lead, Rep

__all__ = ["Capacity", "Checker", "Screen", "capacity_of", "covers_territory"]

_GLOBAL = frozenset({"*", "all", "global", "any"})
# Codes that mean "would be eligible but is away or full right now" (the lead may queue).
TEMPORARY = frozenset({"OUT_OF_OFFICE", "OUTSIDE_WORKING_HOURS", "AT_DAILY_CAP", "AT_OPEN_CAP"})
CAPACITY = frozenset({"AT_DAILY_CAP", "AT_OPEN_CAP"})


@dataclass(frozen=True, slots=True)
class Capacity:
    """A rep's effective caps (``None``: no cap)."""

    max_leads_per_day: int | None
    max_open_leads: int | None


def capacity_of(rep: Rep, policy: Policy) -> Capacity:
    """Caps from the policy's per-rep override, else the roster, else the policy default."""
    override = policy.reps.get(rep.rep_id) if policy.reps else None
    daily = override.max_leads_per_day if override else None
    open_ = override.max_open_leads if override else None
    # Spelled out rather than a generic first-not-None: this runs for every rep of every
    # decision.
    if daily is None:
        daily = (
            rep.max_leads_per_day if rep.max_leads_per_day is not None else policy.max_leads_per_day
        )
    if open_ is None:
        open_ = rep.max_open_leads if rep.max_open_leads is not None else policy.max_open_leads
    return Capacity(daily, open_)


def _covers(rep_values: Sequence[str], lead_values: Sequence[str | None]) -> bool:
    """A rep listing nothing covers everything; a lead with no value cannot be checked."""
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
    return _covers(regions, (lead.region, lead.country, lead.state))


def _listed(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(";") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


@dataclass(slots=True)
class Screen:
    """The outcome of screening a roster for one lead."""

    eligible: list[Rep] = field(default_factory=list)
    exclusions: dict[str, str] = field(default_factory=dict)
    local_days: dict[str, date] = field(default_factory=dict)

    def codes(self) -> set[str]:
        """The distinct exclusion codes."""
        return set(self.exclusions.values())


class Checker:
    """Screens reps for one lead at one moment (caches nothing across leads)."""

    def __init__(
        self,
        *,
        policy: Policy,
        state: RoutingState,
        now: datetime,
        lane: Lane,
        declined: frozenset[str],
    ) -> None:
        self.policy = policy
        self.state = state
        self.now = now
        self.lane = lane
        self.declined = declined
        self._caps: dict[str, Capacity] = {}

    def capacity(self, rep: Rep) -> Capacity:
        """``capacity_of(rep, policy)``, memoised for this decision (asked for every rep
        by the screen and again by the pricing)."""
        cap = self._caps.get(rep.rep_id)
        if cap is None:
            cap = self._caps[rep.rep_id] = capacity_of(rep, self.policy)
        return cap

    def rule_block(self, rep: Rep, pool: Pool, view: LeadView) -> str | None:
        """The first pool rule (territory, product, language, segment, seniority) the rep
        fails for this lead, or ``None``."""
        rules = pool.eligibility
        lead = view.lead
        if rules.territory and not covers_territory(rep, lead, self.policy):
            return "OUT_OF_TERRITORY"
        if rules.product and not _covers(rep.products, (lead.product,)):
            return "PRODUCT_MISMATCH"
        if rules.language and not _covers(rep.languages, (lead.language,)):
            return "LANGUAGE_MISMATCH"
        if rules.industry and not _covers(rep.industries, (lead.industry,)):
            return "SEGMENT_MISMATCH"
        if rules.segment:
            override = self.policy.reps.get(rep.rep_id)
            segs = (override.segments if override and override.segments else None) or _listed(
                rep.attributes.get("segments")
            )
            if not _covers(tuple(segs), (view.get("segment"),)):
                return "SEGMENT_MISMATCH"
        for rule in rules.seniority:
            if matches(rule.when, rule.when_any, view) and self._level(rep) < (
                self.policy.seniority_levels.index(rule.min_level)
            ):
                return "SENIORITY_TOO_LOW"
        return None

    def _level(self, rep: Rep) -> int:
        """The rep's seniority index (-1 when unknown: fails every seniority rule)."""
        levels = self.policy.seniority_levels
        override = self.policy.reps.get(rep.rep_id)
        for name in (
            override.seniority if override else None,
            rep.attributes.get("seniority") if rep.attributes else None,
            rep.role,
        ):
            if isinstance(name, str) and name in levels:
                return levels.index(name)
        return -1

    def availability_block(self, rep: Rep, *, require_working: bool | None = None) -> str | None:
        """Inactive, declined, away, outside hours (hot lanes) or full, else ``None``."""
        if not rep.active:
            return "INACTIVE"
        if rep.rep_id in self.declined:
            return "DECLINED_BEFORE"
        away = is_away(rep, self.now, self.policy.availability)
        if away:
            return away
        working = self.lane.require_available_now if require_working is None else require_working
        if working and not is_working(rep, self.now):
            return "OUTSIDE_WORKING_HOURS"
        cap = self.capacity(rep)
        if cap.max_leads_per_day is not None and (
            self.state.daily_count(rep.rep_id, local_day(rep, self.now)) >= cap.max_leads_per_day
        ):
            return "AT_DAILY_CAP"
        if cap.max_open_leads is not None and (
            self.state.open_count(rep.rep_id, self.now) >= cap.max_open_leads
        ):
            return "AT_OPEN_CAP"
        return None

    def screen(self, reps: Sequence[Rep], pool: Pool, view: LeadView) -> Screen:
        """Every rep of the roster: eligible for this lead in ``pool`` now, or excluded
        with the first code that applies."""
        out = Screen()
        for rep in reps:
            if not pool.includes(rep):
                code: str | None = "NOT_IN_POOL"
            elif not rep.active:
                code = "INACTIVE"
            else:
                code = self.rule_block(rep, pool, view) or self.availability_block(rep)
            if code is None:
                out.eligible.append(rep)
                out.local_days[rep.rep_id] = local_day(rep, self.now)
            else:
                out.exclusions[rep.rep_id] = code
        return out
