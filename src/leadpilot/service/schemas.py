"""Request and response bodies, one class per direction (``XCreate`` in, ``XPublic`` out),
and their mappings to and from the domain the service core speaks (``lead_from_create``;
``intake_public``, ``event_public``, ``decision_public`` of ``service.outcomes``)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from leadpilot.errors import DataValidationError
from leadpilot.ingest.identity import company_domain
from leadpilot.ingest.values import parse_company_size
from leadpilot.schema import Lead, size_band_of
from leadpilot.service.outcomes import EventOutcome, IntakeOutcome
from leadpilot.store.decisions import StoredDecision, decision_row
from leadpilot.store.lengths import TEXT_LENGTHS

_DOMAIN_LENGTH = TEXT_LENGTHS["leads"]["domain"]

__all__ = [
    "MAX_ID",
    "AlertPublic",
    "CandidatePublic",
    "DecisionPublic",
    "EventCreate",
    "EventPublic",
    "IntakePublic",
    "LeadCreate",
    "LeadPublic",
    "Moment",
    "OutOfOffice",
    "PolicyActivate",
    "PolicyCreate",
    "PolicyDiff",
    "PolicyHistory",
    "PolicyPublic",
    "PolicyRollback",
    "RepPublic",
    "RepUpdate",
    "decision_public",
    "event_public",
    "intake_public",
    "lead_from_create",
]

_ID_PATTERN = r"^[A-Za-z0-9_.:@\-]+$"
_ID = Field(min_length=1, max_length=128, pattern=_ID_PATTERN)

# Dates the service accepts. Why bounded: window arithmetic near datetime's own limits
# (year 1 or 9999) overflows, and no lead, event or report is that far out.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # naive: UTC


def _check_moment(value: datetime) -> datetime:
    if not EARLIEST <= _aware(value) <= LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Moment = Annotated[datetime, AfterValidator(_check_moment)]
MAX_ID = 2**31 - 1  # the largest Integer key on PostgreSQL (32-bit)


_REPS = TEXT_LENGTHS["reps"]
_EVENTS = TEXT_LENGTHS["events"]
_OOO_REASON = TEXT_LENGTHS["rep_out_of_office"]["reason"]


def _unstorable(value: Any) -> str | None:
    """Why ``value`` (or anything inside it) cannot be stored: a NUL character (PostgreSQL
    text cannot hold one) or a non-finite number (JSON has none)."""
    if isinstance(value, str):
        return "contains a NUL character (\\u0000); remove it" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
        return next((w for w in map(_unstorable, items) if w), None)
    if isinstance(value, list | tuple):
        return next((w for w in map(_unstorable, value) if w), None)
    if isinstance(value, datetime):
        try:
            _check_moment(value)
        except ValueError as exc:
            return str(exc)
    return None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """Every field of every request body: no NUL, no NaN or infinity, dates in range."""
        problem = _unstorable(value)
        if problem:
            raise ValueError(problem)
        return value


class OutOfOffice(_In):
    """A period when a rep takes no leads (UTC or with an offset)."""

    starts_at: datetime
    ends_at: datetime
    reason: str | None = Field(None, max_length=_OOO_REASON)

    @field_validator("ends_at", mode="after")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and _aware(value) <= _aware(starts_at):
            raise ValueError("must be after starts_at")
        return value


class RepPublic(BaseModel):
    """A rep with availability and capacity."""

    rep_id: str
    name: str | None
    email: str | None
    pool: str | None
    role: str | None
    regions: list[str]
    industries: list[str]
    products: list[str]
    languages: list[str]
    max_leads_per_day: int | None
    max_open_leads: int | None
    timezone: str
    working_hours: str | None
    active: bool
    start_date: date | None
    backup_rep_id: str | None
    out_of_office: list[OutOfOffice]
    open_leads: int
    leads_today: int
    problem: str | None = Field(
        None, description="Why routing leaves this rep out (an unreadable timezone or hours)"
    )


class RepUpdate(_In):
    """Fields of a rep to create or replace (PUT). Omitted fields keep their value."""

    name: str | None = Field(None, max_length=_REPS["name"])
    email: str | None = Field(None, max_length=_REPS["email"])
    pool: str | None = Field(None, max_length=_REPS["pool"])
    role: str | None = Field(None, max_length=_REPS["role"])
    regions: list[str] | None = Field(None, max_length=200)
    industries: list[str] | None = Field(None, max_length=200)
    products: list[str] | None = Field(None, max_length=200)
    languages: list[str] | None = Field(None, max_length=50)
    max_leads_per_day: int | None = Field(None, ge=0, le=100_000)
    max_open_leads: int | None = Field(None, ge=0, le=1_000_000)
    timezone: str | None = Field(None, max_length=_REPS["timezone"])
    working_hours: str | None = Field(None, max_length=_REPS["working_hours"])
    active: bool | None = None
    backup_rep_id: str | None = Field(None, max_length=_REPS["backup_rep_id"])
    out_of_office: list[OutOfOffice] | None = Field(None, max_length=500)


_ATTRIBUTE_VALUE = str | int | float | bool | None
_MAX_ATTRIBUTES = 100


class LeadCreate(_In):
    """A lead in leadpilot's canonical fields: the same shape a lead file (``leadpilot route``)
    or a CSV row takes. ``company_size`` is a head count or a band (``51-200``, ``1000+``);
    any other top-level field (e.g. ``demo_request``) is stored in ``attributes``, where
    policy rules find it by name."""

    # Extra top-level fields are folded into ``attributes`` (see ``_fold_custom_fields``),
    # so the schema documents them as allowed scalars rather than forbidden.
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": 1024},
                    {"type": "number"},
                    {"type": "boolean"},
                    {"type": "null"},
                ]
            }
        },
    )

    lead_id: str | None = Field(None, min_length=1, max_length=128, pattern=_ID_PATTERN)
    created_at: datetime | None = None
    email: str | None = Field(None, max_length=320)
    company: str | None = Field(None, max_length=512)
    domain: str | None = Field(None, max_length=256)
    website: str | None = Field(None, max_length=2048)
    source: str | None = Field(None, max_length=128)
    industry: str | None = Field(None, max_length=128)
    company_size: float | None = Field(
        None,
        ge=0,
        le=10_000_000,
        description="employees, or a band such as 51-200 or 1000+ (stored as its midpoint)",
        json_schema_extra={
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 10_000_000},
                {"type": "string", "maxLength": 64, "examples": ["51-200"]},
                {"type": "null"},
            ]
        },
    )
    size_band: str | None = Field(None, max_length=32)
    annual_revenue: float | None = Field(None, ge=0, le=1e13)
    region: str | None = Field(None, max_length=64)
    country: str | None = Field(None, max_length=64)
    state: str | None = Field(None, max_length=64)
    product: str | None = Field(None, max_length=128)
    engagement_score: float | None = Field(None, ge=-1e9, le=1e9)
    title: str | None = Field(None, max_length=256)
    language: str | None = Field(None, max_length=32)
    external_id: str | None = Field(
        None, max_length=256, description="the CRM record id; GET /v1/leads/{id} accepts it"
    )
    attributes: dict[str, _ATTRIBUTE_VALUE] = Field(
        default_factory=dict, max_length=_MAX_ATTRIBUTES
    )

    # The body as received, for ``?format=hubspot|salesforce`` (whose fields are not ours).
    _raw: dict[str, Any] | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _fold_custom_fields(cls, data: Any, handler: ModelWrapValidatorHandler[LeadCreate]) -> Any:
        """Top-level fields that are not canonical go into ``attributes``, as a CSV column
        or a lead file's field does (one intake shape for CSV, CLI and API)."""
        if not isinstance(data, dict):
            return handler(data)
        fields = cls.model_fields  # a class property: looked up once, not once per key
        extra = {k: v for k, v in data.items() if k not in fields}
        folded = data
        given = data.get("attributes")
        if extra and (given is None or isinstance(given, dict)):
            attributes = dict(given or {})
            clash = sorted(str(k) for k in extra if k in attributes)
            if clash:
                raise ValueError(
                    f"field {clash[0]!r} is given both at top level and under attributes; "
                    "send it once"
                )
            folded = {k: v for k, v in data.items() if k in fields}
            folded["attributes"] = {**attributes, **extra}
        model = handler(folded)
        model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The body as received (before custom fields were folded into ``attributes``)."""
        return self._raw if self._raw is not None else self.model_dump(exclude_unset=True)

    @field_validator("company_size", mode="before")
    @classmethod
    def _size_or_band(cls, value: Any) -> Any:
        """A band (``51-200``) becomes its midpoint, read as the CSV intake reads it."""
        if not isinstance(value, str):
            return value
        try:
            employees, _band = parse_company_size(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither an employee count nor a size band "
                "(e.g. 120, 51-200 or 1000+)"
            ) from None
        return employees

    @model_validator(mode="after")
    def _band_from_size(self) -> LeadCreate:
        if self.size_band is None and self.company_size is not None:
            self.size_band = size_band_of(self.company_size)
        return self


class CandidatePublic(BaseModel):
    """A scored candidate rep."""

    rep_id: str
    p_convert: float | None = None
    price: float | None = None
    score: float | None = None
    value: float | None = Field(
        None, description="E(value | lead, rep) under a value objective (the policy's objective)"
    )


class DecisionPublic(BaseModel):
    """One routing decision: who, why (reason codes), who else and why not, with versions."""

    id: int
    lead_id: str
    seq: int
    live: bool
    trigger: str
    rep_id: str | None
    pool: str | None
    lane: str | None
    strategy: str
    reasons: list[str]
    candidates: list[CandidatePublic]
    exclusions: dict[str, str]
    p_convert: float | None
    confidence: float | None
    propensity: float | None
    model_version: str | None
    policy_version: str | None
    decided_at: datetime
    sla_deadline: datetime | None
    mode: str
    shadow_rep_id: str | None
    fit_score: float | None
    intent_score: float | None
    grade: str | None
    expected_value: float | None = Field(
        None,
        description="E(value | lead, chosen rep) under a value objective (pipeline_value: "
        "the deal size if converted; won_revenue: P(win) x deal size); null otherwise",
    )


def decision_public(stored: StoredDecision) -> DecisionPublic:
    """The public form of a logged decision: its stored row (``store.decisions.decision_row``,
    derived from the ``Decision`` fields) with its id and whether it is live."""
    row = stored.row
    if row is None:
        row = decision_row(stored.decision, trigger=stored.trigger, seq=stored.seq)
    return DecisionPublic.model_validate({**row, "id": stored.id, "live": stored.live})


class IntakePublic(BaseModel):
    """The answer to ``POST /v1/leads``: the decision, and whether the lead was a duplicate
    (then the decision is the existing lead's, and nothing was routed again)."""

    lead_id: str
    duplicate: bool
    duplicate_of: str | None = None
    matched_on: str | None = None
    status: str
    account_id: str | None = None
    decision: DecisionPublic | None


def lead_from_create(body: LeadCreate, now: datetime) -> Lead:
    """A canonical ``Lead`` from the intake body (id generated when absent)."""
    data = body.model_dump(exclude={"website", "attributes"})
    data["lead_id"] = body.lead_id or f"lead-{uuid.uuid4().hex[:16]}"
    data["created_at"] = body.created_at or now
    data["domain"] = (body.domain or "").lower() or company_domain(body.email, body.website)
    if len(data["domain"] or "") > _DOMAIN_LENGTH:
        source = "email" if body.email and data["domain"] in body.email.lower() else "website"
        raise DataValidationError(
            f"the {source}'s domain is longer than {_DOMAIN_LENGTH} characters",
            hint="send a real address: a DNS name has at most 253 characters",
            details={"field": source},
        )
    attributes: dict[str, Any] = dict(body.attributes)
    if body.website:
        attributes["website"] = body.website
    return Lead(**data, attributes=attributes)


def intake_public(outcome: IntakeOutcome) -> IntakePublic:
    """The answer to ``POST /v1/leads`` for an intake outcome."""
    return IntakePublic(
        lead_id=outcome.lead_id,
        duplicate=outcome.duplicate,
        duplicate_of=outcome.duplicate_of,
        matched_on=outcome.matched_on,
        status=outcome.status,
        account_id=outcome.account_id,
        decision=decision_public(outcome.decision) if outcome.decision else None,
    )


class AssigneePublic(BaseModel):
    """One rep's spell as the lead's owner; ``lapsed``: the rep breached, let the offer
    expire or declined, and is not offered this lead again."""

    rep_id: str
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None
    ended_by: str | None
    lapsed: bool


class LeadPublic(BaseModel):
    """A stored lead with its status, owner and milestones, every rep who has owned it
    (``assignees``, first first) and every decision about it."""

    lead_id: str
    status: str
    rep_id: str | None
    lane: str | None
    account_id: str | None
    queue_reason: str | None
    queued_at: datetime | None
    reassignments: int
    created_at: datetime
    received_at: datetime
    first_touch_at: datetime | None
    accepted_at: datetime | None
    meeting_at: datetime | None
    opportunity_at: datetime | None
    closed_at: datetime | None
    closed_won: bool | None
    fields: dict[str, Any]
    assignees: list[AssigneePublic]
    decisions: list[DecisionPublic]


EventType = Literal[
    "first_touch",
    "accepted",
    "declined",
    "meeting_booked",
    "opportunity_created",
    "closed_won",
    "closed_lost",
    "reassigned",
    "rep_out_of_office",
    "fit_feedback",
]


class EventCreate(_In):
    """Something that happened to a lead or a rep. ``event_id`` makes it idempotent.

    ``lead_id`` is required for lead events; ``rep_id`` for declined/accepted (who acted),
    reassigned (the new owner) and rep_out_of_office (with ``starts_at``/``ends_at``);
    fit_feedback needs ``fit`` (good / poor; ``rep_id`` defaults to the owner, ``reason``
    says why)."""

    event_id: str = _ID
    type: EventType
    lead_id: str | None = Field(None, max_length=_EVENTS["lead_id"])
    rep_id: str | None = Field(None, max_length=_EVENTS["rep_id"])
    occurred_at: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Stored as the out-of-office range's reason, or in a manual reassignment's reason codes.
    reason: str | None = Field(None, max_length=_OOO_REASON)
    # The deal's value on opportunity_created / closed_won: the lift report's pipeline value.
    amount: float | None = Field(None, ge=0, le=1e13)
    # fit_feedback: the owner's rating of the lead's fit (``reason`` says why).
    fit: Literal["good", "poor"] | None = None


class EventPublic(BaseModel):
    """What the event did."""

    event_id: str
    type: str
    duplicate: bool
    lead_id: str | None
    outcome: dict[str, Any]


def event_public(outcome: EventOutcome) -> EventPublic:
    """The answer to ``POST /v1/events`` for an event outcome."""
    return EventPublic(
        event_id=outcome.event_id,
        type=outcome.type,
        duplicate=outcome.duplicate,
        lead_id=outcome.lead_id,
        outcome=outcome.outcome,
    )


class PolicyCreate(_In):
    """A policy file's YAML text; activated unless ``activate`` is false."""

    policy: str = Field(min_length=1, max_length=500_000)
    activate: bool = True


class PolicyPublic(BaseModel):
    """A stored policy version."""

    version: str
    active: bool
    author: str | None
    created_at: datetime
    text: str


class PolicyActivationPublic(BaseModel):
    """One activation of a version (upload or rollback)."""

    version: str
    action: str
    author: str | None
    activated_at: datetime


class PolicyHistory(BaseModel):
    """Every version and every activation, oldest first."""

    active_version: str | None
    versions: list[PolicyPublic]
    activations: list[PolicyActivationPublic]


class PolicyRollback(_In):
    """Which earlier version to activate again."""

    version: str = Field(min_length=1, max_length=128)


class PolicyActivate(PolicyRollback):
    """Which stored version to activate."""


class PolicyDiff(BaseModel):
    """A unified diff of two versions' text."""

    from_version: str
    to_version: str
    diff: str


class AlertPublic(BaseModel):
    """An operator alert. ``source``: ``rule`` (raised and resolved by an alert rule as its
    condition holds and clears) or ``event`` (raised once, e.g. a breach nobody could take;
    resolved when acknowledged). One alert per ``condition_key`` is open at a time."""

    id: int
    kind: str
    message: str
    lead_id: str | None
    created_at: datetime
    condition_key: str | None = None
    source: str = "event"
    severity: str = "warning"
    status: str = "open"
    last_seen_at: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorDetail(BaseModel):
    """The one error shape's inner object."""

    type: str
    message: str
    hint: str | None = None
    field: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    problems: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {...}}``."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Bad request"),
        (401, "Missing or unknown token"),
        (403, "The token's role may not do this"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body too large"),
        (415, "The body is not JSON (send Content-Type: application/json)"),
        (422, "Invalid input; the error names the field"),
        (503, "Database unavailable"),
    )
}
ERROR_RESPONSES[503]["headers"] = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}
