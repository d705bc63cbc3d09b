"""The routing policy file (``policy.yaml``): pydantic models, loading, and clear errors.

Every validation error becomes a :class:`~leadpilot.errors.PolicyError` whose message names
the key path (``pools[1].strategy``) and says what is allowed there.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from leadpilot.errors import PolicyError
from leadpilot.policy.alert_settings import AlertsSettings
from leadpilot.policy.policy_errors import PathError, policy_error
from leadpilot.policy.registry import RULES as RULE_REGISTRY
from leadpilot.policy.registry import STRATEGIES as STRATEGY_REGISTRY
from leadpilot.policy.retrain_settings import RetrainSettings
from leadpilot.policy.review_targets import ReviewTargets
from leadpilot.schema import Rep

__all__ = [
    "Availability",
    "Condition",
    "Development",
    "Eligibility",
    "ExceptionRule",
    "Fairness",
    "Holds",
    "Lane",
    "OutOfOffice",
    "Policy",
    "Pool",
    "Predictive",
    "RampStep",
    "RepOverride",
    "ScoreRule",
    "Scoring",
    "SeniorityRule",
    "Switchback",
    "default_policy",
    "default_segments",
    "fallback_names",
    "load_policy",
    "parse_policy",
    "parse_policy_text",
    "strategy_names",
]

Scalar = str | float | bool


def strategy_names() -> tuple[str, ...]:
    """Every registered strategy (the values ``strategy:`` allows)."""
    return STRATEGY_REGISTRY.names()


def fallback_names() -> tuple[str, ...]:
    """The registered strategies that need no model (the values ``fallback:`` allows)."""
    return tuple(s.name for s in STRATEGY_REGISTRY if not s.needs_scorer)


def _one_of(value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        quoted = [repr(a) for a in allowed]
        listed = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
        raise ValueError(f"got {value!r}; allowed values: {listed}")
    return value


StrategyName = Annotated[str, AfterValidator(lambda v: _one_of(v, strategy_names()))]
FallbackName = Annotated[str, AfterValidator(lambda v: _one_of(v, fallback_names()))]

# Operators a condition may use; exactly one per condition.
OPERATORS: tuple[str, ...] = (
    "equals",
    "in",
    "not_in",
    "at_least",
    "at_most",
    "between",
    "contains_any",
    "is_set",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """A test on one field of the lead (or a derived field: ``fit``, ``intent``, ``grade``,
    ``segment``, ``account_tier``, ``account_id``). Exactly one operator is given."""

    field: str = Field(min_length=1)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    at_least: float | None = None
    at_most: float | None = None
    between: tuple[float, float] | None = None
    contains_any: list[str] | None = None
    is_set: bool | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op for op in OPERATORS if _field_name(op) in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(
                f"a condition on {self.field!r} needs exactly one operator, got "
                f"{len(given)} ({', '.join(given) or 'none'}); allowed: {', '.join(OPERATORS)}"
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"between: low {self.between[0]} is above high {self.between[1]}")
        return self

    @property
    def operator(self) -> str:
        """The one operator this condition uses."""
        return next(op for op in OPERATORS if _field_name(op) in self.model_fields_set)


def _field_name(op: str) -> str:
    return "in_" if op == "in" else op


class ScoreRule(Condition):
    """A condition worth ``points`` when it holds (ICP fit or intent scoring)."""

    points: float


class Scoring(_Strict):
    """ICP fit and intent: sums of rule points; ``grades`` maps a grade to its minimum fit."""

    fit: list[ScoreRule] = Field(default_factory=list)
    intent: list[ScoreRule] = Field(default_factory=list)
    grades: dict[str, float] = Field(default_factory=lambda: {"A": 70.0, "B": 40.0, "C": 20.0})
    lowest_grade: str = "D"


class _Matcher(_Strict):
    """Something selected by conditions: all of ``when`` and at least one of ``when_any``."""

    when: list[Condition] = Field(default_factory=list)
    when_any: list[Condition] = Field(default_factory=list)

    @property
    def unconditional(self) -> bool:
        """True if this entry matches every lead."""
        return not self.when and not self.when_any


class Lane(_Matcher):
    """A response lane. Lanes are tried in order; the first that matches wins."""

    name: str = Field(min_length=1)
    sla_minutes: int | None = Field(default=None, gt=0)
    assign: bool = True  # False: no rep (e.g. nurture goes back to marketing)
    require_available_now: bool = False  # True: only reps inside working hours now
    # Working hours hold in every lane unless switched off here (a 24/7 lane).
    working_hours: bool = True
    # Nobody of the pool on shift: give the lead to the rep whose shift starts soonest, or
    # queue it until someone is on shift. Default: queue where require_available_now,
    # else soonest.
    off_shift: Literal["soonest", "queue"] | None = None
    # How the SLA clock runs: wall-clock minutes, or the assigned rep's working minutes.
    sla_clock: Literal["wall", "business"] = "wall"

    @property
    def off_shift_action(self) -> Literal["soonest", "queue"]:
        """What happens when nobody of the pool is on shift (see ``off_shift``)."""
        if self.off_shift is not None:
            return self.off_shift
        return "queue" if self.require_available_now else "soonest"


class Holds(_Strict):
    """Ownership holds: a known account's owner keeps its leads."""

    enabled: bool = True
    touch_within_days: int = Field(default=90, ge=0)
    open_opportunity: bool = True
    use_backup_rep: bool = True
    backup_pool: str | None = None


class ExceptionRule(_Matcher):
    """Leads matching these conditions go to a fixed pool (strategic accounts, partners)."""

    name: str = Field(min_length=1)
    pool: str


class SeniorityRule(_Matcher):
    """Leads matching the conditions need a rep of at least ``min_level`` seniority."""

    min_level: str


class Eligibility(BaseModel):
    """Which eligibility rules the pool applies, one key per rule registered in
    :data:`leadpilot.policy.registry.RULES` (``territory`` on by default; ``product``,
    ``language``, ``industry``, ``segment``, ``seniority`` rules, ``account_tier``...; a
    rep listing nothing covers everything)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_rules(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"eligibility must be a mapping of rule: setting, got {data!r}")
        rules = {rule.key: rule for rule in RULE_REGISTRY}
        out: dict[str, Any] = {}
        for key, value in data.items():
            rule = rules.get(str(key))
            if rule is None:
                guess = difflib.get_close_matches(str(key), list(rules), n=1)
                hint = f" (did you mean {guess[0]!r}?)" if guess else ""
                raise ValueError(
                    f"unknown eligibility rule {key!r}{hint}; allowed keys: {', '.join(rules)}"
                )
            out[key] = _setting_adapter(rule.setting).validate_python(value)
        for key, rule in rules.items():
            out.setdefault(key, rule.default)
        return out

    def setting(self, key: str) -> Any:
        """The pool's setting of the rule ``key`` (the rule's default when not given)."""
        extra = self.__pydantic_extra__ or {}
        if key in extra:
            return extra[key]
        return RULE_REGISTRY.get(key).default


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _setting_adapter(setting: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(setting)
    if adapter is None:
        adapter = _ADAPTERS[setting] = TypeAdapter(setting)
    return adapter


class Pool(_Matcher):
    """A pool of reps and how to pick one inside it. Members: explicit ``members`` rep ids,
    and/or reps whose roster ``pool`` is in ``member_pools`` or ``role`` in ``roles``;
    none of the three means every rep."""

    name: str = Field(min_length=1)
    members: list[str] | None = None
    member_pools: list[str] | None = None
    roles: list[str] | None = None
    strategy: StrategyName = "predictive"
    fallback: FallbackName = "round_robin"
    weights: dict[str, float] = Field(default_factory=dict)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    accept_within_minutes: int | None = Field(default=None, gt=0)
    # Pools tried in order when none of this pool's reps can take the lead now
    # (reason OVERFLOW:<pool>).
    overflow: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights_positive(self) -> Pool:
        bad = {k: v for k, v in self.weights.items() if not v > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return self

    def includes(self, rep: Rep) -> bool:
        """Whether ``rep`` belongs to this pool (activity is checked elsewhere)."""
        if self.members is None and self.member_pools is None and self.roles is None:
            return True
        return (
            (self.members is not None and rep.rep_id in self.members)
            or (self.member_pools is not None and rep.pool in self.member_pools)
            or (self.roles is not None and rep.role in self.roles)
        )


class RepOverride(_Strict):
    """Per-rep settings that override or extend the roster."""

    max_leads_per_day: int | None = Field(default=None, ge=0)
    max_open_leads: int | None = Field(default=None, ge=0)
    seniority: str | None = None
    segments: list[str] | None = None


class Fairness(_Strict):
    """Fairness band on each rep's fairness index over a rolling window of days: leads per
    rep over the rep's fair share of the pool's leads. By default shares are equal, which is
    the practitioners' 'leads per rep / pool average' (target 0.9-1.1); ``shares: capacity``
    makes them proportional to each rep's daily capacity instead. A soft constraint:
    each lead outside the band costs ``penalty`` (in expected conversions) in the shadow-price
    LP, so the band holds whenever it can, and the LP stays feasible when it cannot."""

    band: tuple[float, float] = (0.9, 1.1)
    window_days: int = Field(default=28, ge=1)
    penalty: float = Field(default=1.0, ge=0)
    shares: Literal["capacity", "equal"] = "equal"  # fair share per rep

    @model_validator(mode="after")
    def _band_brackets_one(self) -> Fairness:
        low, high = self.band
        if not (0 <= low <= 1 <= high):
            raise ValueError(f"band must satisfy 0 <= low <= 1 <= high, got [{low}, {high}]")
        return self


class RampStep(_Strict):
    """From ``from_day`` days after the rep's ``start_date``: at least ``min_share`` of the
    pool's leads."""

    from_day: int = Field(default=0, ge=0)
    min_share: float = Field(ge=0, le=1)


class Development(_Strict):
    """A development share: reps who are learning (named in ``reps``, or every rep whose
    roster ``start_date`` is less than ``started_within_days`` ago) get at least their
    ``schedule``'s share of each pool's leads over the fairness window, each rep on its own.
    ``segments``: the share is counted on (and met from) the pool's leads of these segments
    only. A constraint of the shadow-price LP (so it is priced), and a rule of the router
    that holds it exactly (``policy.development``; reason ``DEVELOPMENT:<name>``); capacity
    caps and eligibility still come first."""

    name: str = Field(min_length=1)
    reps: list[str] | None = None
    started_within_days: int | None = Field(default=None, ge=1)
    segments: list[str] | None = None
    schedule: list[RampStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _who_and_order(self) -> Development:
        if self.reps is None and self.started_within_days is None:
            raise ValueError("name the reps (reps: [...]) or give started_within_days, or both")
        days = [step.from_day for step in self.schedule]
        if days != sorted(set(days)):
            raise ValueError(f"schedule from_day values must increase, got {days}")
        return self


class Switchback(_Strict):
    """The time-based holdout design: predictive routing ON or OFF in alternating blocks of
    ``block_minutes`` (each block OFF with probability ``holdout``, drawn from ``seed``), so
    treated and control leads never compete for the same reps' capacity at once. Leads in
    the first ``washout_minutes`` after a switch are routed but left out of the lift."""

    block_minutes: int = Field(default=60, ge=1)
    washout_minutes: int = Field(default=15, ge=0)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _washout_inside_block(self) -> Switchback:
        if self.washout_minutes >= self.block_minutes:
            raise ValueError(
                f"washout_minutes ({self.washout_minutes}) must be shorter than block_minutes "
                f"({self.block_minutes}), or no lead of a block would count"
            )
        return self


class Predictive(_Strict):
    """Settings of the predictive strategy and of measurement (exploration, holdout).

    ``holdout`` is the share of leads (``holdout_design: per_lead``) or of time blocks
    (``holdout_design: switchback``, see ``Switchback``) routed by the fallback strategy as
    the randomized control group."""

    min_confidence: float = Field(default=0.0, ge=0, le=1)
    explore: float = Field(default=0.0, ge=0, le=1)
    holdout: float = Field(default=0.0, ge=0, le=1)
    holdout_design: Literal["per_lead", "switchback"] = "per_lead"
    switchback: Switchback = Field(default_factory=Switchback)
    minutes_per_open_lead: float = Field(default=20.0, ge=0)
    queue_aware: bool = True  # pass each rep's expected response time (queue) to the scorer
    shadow_prices: bool = True
    refresh_every: int = Field(default=10, ge=1)


class OutOfOffice(_Strict):
    """One out-of-office range of a rep (partial-day or multi-day), times with timezone;
    naive times are read in the rep's timezone."""

    rep: str
    start: datetime
    end: datetime
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OutOfOffice:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Holiday(_Strict):
    """A day off (in each rep's local calendar) for everyone or for listed reps/regions."""

    date: date
    name: str | None = None
    reps: list[str] | None = None
    regions: list[str] | None = None


class Availability(_Strict):
    """Out-of-office ranges and holidays on top of the roster's working hours."""

    out_of_office: list[OutOfOffice] = Field(default_factory=list)
    holidays: list[Holiday] = Field(default_factory=list)


def _default_lanes() -> list[Lane]:
    return [Lane(name="standard", sla_minutes=240)]


def default_segments() -> dict[str, tuple[float, float]]:
    """The segments by employee count when a policy names none."""
    return {"SMB": (1, 200), "MidMarket": (201, 1000), "Enterprise": (1001, math.inf)}


class FallbackOwner(_Strict):
    """The owner of last resort: a rep (``rep: rep-07``; assigned past capacity caps,
    reason FALLBACK_OWNER) or a queue (``queue: triage``; the lead waits there, reason
    FALLBACK_QUEUE, with an alert). Exactly one of the two."""

    rep: str | None = Field(default=None, min_length=1)
    queue: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> FallbackOwner:
        if (self.rep is None) == (self.queue is None):
            raise ValueError("give exactly one of 'rep' (a rep id) or 'queue' (a queue name)")
        return self


class Policy(_Strict):
    """A whole routing policy. See ``examples/policy.yaml`` for every feature in use."""

    version: str | None = None
    mode: Literal["live", "shadow"] = "live"
    # What the predictive strategy maximises: expected conversions, or a value objective
    # (P(convert) x E(deal value | lead, rep) from a value model; see policy.objective).
    objective: Literal["conversions", "pipeline_value", "won_revenue"] = "conversions"
    scoring: Scoring = Field(default_factory=Scoring)
    lanes: list[Lane] = Field(default_factory=_default_lanes, min_length=1)
    holds: Holds = Field(default_factory=Holds)
    exceptions: list[ExceptionRule] = Field(default_factory=list)
    pools: list[Pool] = Field(min_length=1)
    reps: dict[str, RepOverride] = Field(default_factory=dict)
    fairness: Fairness = Field(default_factory=Fairness)
    predictive: Predictive = Field(default_factory=Predictive)
    availability: Availability = Field(default_factory=Availability)
    segments: dict[str, tuple[float, float]] = Field(default_factory=default_segments)
    # Territory names a rep may list, with the countries/states they include, so a rep
    # covering "NA" also covers a lead known only by its country "United States".
    territories: dict[str, list[str]] = Field(default_factory=dict)
    seniority_levels: list[str] = Field(default_factory=lambda: ["junior", "mid", "senior"])
    max_leads_per_day: int | None = Field(default=None, ge=0)
    max_open_leads: int | None = Field(default=None, ge=0)
    notify_url: str | None = None
    max_reassignments: int = Field(default=3, ge=0)
    # Who gets a lead that no pool (nor overflow) can place: a rep, or a named queue.
    fallback_owner: FallbackOwner | None = None
    # Development shares of new reps (``policy.development``).
    development: list[Development] = Field(default_factory=list)
    # Alert rules and thresholds (``policy.alert_settings``); None: every rule's defaults.
    alerts: AlertsSettings | None = None
    # When the service retrains (``policy.retrain_settings``); None: monthly and on drift.
    retrain: RetrainSettings | None = None
    # Targets of the weekly review (``policy.review_targets``); None: the defaults.
    targets: ReviewTargets | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> Policy:
        pools = [p.name for p in self.pools]
        _unique("pools", pools)
        _unique("lanes", [lane.name for lane in self.lanes])
        _unique("exceptions", [e.name for e in self.exceptions])
        for i, exc in enumerate(self.exceptions):
            _known(f"exceptions[{i}].pool", exc.pool, pools, "pool")
        for i, pool in enumerate(self.pools):
            for j, name in enumerate(pool.overflow):
                _known(f"pools[{i}].overflow[{j}]", name, pools, "pool")
        if self.holds.backup_pool is not None:
            _known("holds.backup_pool", self.holds.backup_pool, pools, "pool")
        for i, pool in enumerate(self.pools):
            for j, rule in enumerate(pool.eligibility.setting("seniority") or ()):
                _known(
                    f"pools[{i}].eligibility.seniority[{j}].min_level",
                    rule.min_level,
                    self.seniority_levels,
                    "seniority level",
                )
        for rep_id, override in self.reps.items():
            if override.seniority is not None:
                _known(
                    f"reps.{rep_id}.seniority",
                    override.seniority,
                    self.seniority_levels,
                    "seniority level",
                )
            for seg in override.segments or []:
                _known(f"reps.{rep_id}.segments", seg, list(self.segments), "segment")
        _unique("development", [d.name for d in self.development])
        for i, dev in enumerate(self.development):
            for seg in dev.segments or []:
                _known(f"development[{i}].segments", seg, list(self.segments), "segment")
        if self.predictive.explore + self.predictive.holdout > 1:
            raise PathError(
                "predictive", "explore + holdout must be at most 1 (they are shares of leads)"
            )
        return self

    @property
    def retrain_settings(self) -> RetrainSettings:
        """The ``retrain:`` section, or its defaults (monthly, and on drift)."""
        return self.retrain or RetrainSettings()

    @property
    def review_targets(self) -> ReviewTargets:
        """The ``targets:`` section, or its defaults (SLA 90%, first touch in 60 min)."""
        return self.targets or ReviewTargets()

    @property
    def alert_settings(self) -> AlertsSettings:
        """The ``alerts:`` section, or every rule's defaults."""
        return self.alerts or AlertsSettings()

    @cached_property
    def policy_hash(self) -> str:
        """A short content hash: the policy version logged with every decision."""
        # Without ``alerts`` when unset, so policies written before it keep their version.
        # Likewise the objective at its default (policies written before it).
        unset = {k for k in ("alerts", "retrain", "targets") if getattr(self, k) is None}
        if self.objective == "conversions":
            unset.add("objective")
        if not self.development:
            unset.add("development")
        data = self.model_dump(mode="json", by_alias=True, exclude=unset or None)
        # Likewise the holdout design, when left at its defaults.
        predictive = data["predictive"]
        if predictive["holdout_design"] == "per_lead" and predictive["switchback"] == (
            Switchback().model_dump(mode="json")
        ):
            del predictive["holdout_design"], predictive["switchback"]
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def pool(self, name: str) -> Pool:
        """Return the pool called ``name``."""
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise PolicyError(f"unknown pool {name!r}", details={"path": "pools"})


def _unique(path: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise PathError(f"{path}[{i}].name", f"duplicate name {name!r}; names must be unique")
        seen.add(name)


def _known(path: str, value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise PathError(
            path, f"unknown {what} {value!r}; allowed: {', '.join(map(str, allowed)) or '(none)'}"
        )


def parse_policy(data: Any, *, source: str = "policy") -> Policy:
    """Validate a parsed policy document; raise ``PolicyError`` naming the key path."""
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}: the policy must be a mapping of keys (got {type(data).__name__})",
            hint="Start from examples/policy.yaml.",
            details={"path": ""},
        )
    try:
        return Policy.model_validate(data)
    except PathError as exc:  # pragma: no cover - pydantic wraps it; kept for safety
        raise PolicyError(f"{source}: {exc.path}: {exc}", details={"path": exc.path}) from None
    except ValidationError as exc:
        raise policy_error(exc, source, Policy) from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a ``policy.yaml`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(
            f"cannot read policy file {p}: {exc.strerror}",
            hint="Check the path; start from examples/policy.yaml.",
            details={"path": ""},
        ) from None
    except UnicodeDecodeError:
        raise PolicyError(
            f"{p} is not UTF-8 text, so not a policy file",
            hint="Pass a YAML file saved as UTF-8; start from examples/policy.yaml.",
            details={"path": ""},
        ) from None
    return parse_policy_text(text, source=str(p))


def parse_policy_text(text: str, *, source: str = "the policy") -> Policy:
    """Parse and validate a policy's YAML text (``PolicyError`` names the key path)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(
            f"{source} is not valid YAML: {exc}",
            hint="Check indentation and quoting near the line shown.",
            details={"path": ""},
        ) from None
    return parse_policy(data, source=source)


def default_policy(reps: Sequence[Rep]) -> Policy:
    """The policy used when none is given: one pool of all active reps, predictive with the
    roster's capacities and the default fairness band, no exploration and no holdout (the
    router falls back to round-robin when there is no scorer)."""
    del reps  # every rep of the roster is a member; capacities come from the roster
    return Policy(
        pools=[
            Pool(
                name="all",
                strategy="predictive",
                fallback="round_robin",
                eligibility=Eligibility.model_validate({"territory": False}),
            )
        ]
    )
