"""Data contracts: canonical column names, Lead / Rep / Account / Decision, company-size bands.

Every intake (CSV presets, CRM exports, the API) maps onto these names. Inside the library,
tabular data is a pandas DataFrame with the canonical columns (see ``HISTORY_COLUMNS`` and the
dtypes documented there); single records are the frozen dataclasses below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy only types the scorer protocol; `leadpilot --help` must not load it
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ACCOUNT_COLUMNS",
    "HISTORY_COLUMNS",
    "OBJECTIVES",
    "REP_COLUMNS",
    "SIZE_BANDS",
    "TARGETS",
    "Account",
    "BatchScorer",
    "BatchScores",
    "Candidate",
    "CandidateScores",
    "ColumnScores",
    "Decision",
    "Lead",
    "Rep",
    "Scorer",
    "ValueEstimates",
    "ValueModel",
    "size_band_midpoint",
    "size_band_of",
]

# Canonical history / lead columns, in canonical order. A canonical frame produced by
# ``leadpilot.ingest`` always has every one of these columns (missing ones are all-NA), plus
# ``source_row`` (1-based line number in the source file, for messages). Dtypes:
#   lead_id, email, company, domain, source, industry, size_band, region, country, state,
#   product, rep_id, external_id, title, language  -> object (str or None)
#   created_at, first_contact_at, converted_at, closed_at -> datetime64[ns, UTC] (NaT if unknown)
#   company_size (employees, a band's midpoint when only a band is known), annual_revenue,
#   engagement_score, time_to_contact_hours, deal_value -> float64 (NaN if unknown)
#   converted, closed_won -> pandas nullable "boolean" (<NA> while the outcome is open/unknown)
# File order stands for time when created_at is entirely missing (the seed-prompt export).
HISTORY_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "created_at",
    "email",
    "company",
    "domain",
    "source",
    "industry",
    "company_size",
    "size_band",
    "annual_revenue",
    "region",
    "country",
    "state",
    "product",
    "engagement_score",
    "title",
    "language",
    "external_id",
    "rep_id",
    "first_contact_at",
    "time_to_contact_hours",
    "converted",
    "converted_at",
    "closed_won",
    "closed_at",
    "deal_value",
)

# The outcomes a model can learn and an audit can measure (columns of HISTORY_COLUMNS).
TARGETS: tuple[str, ...] = ("converted", "closed_won")

# Rep roster columns. regions / industries / products / languages are ';'-separated lists in
# CSV and tuples in ``Rep``. working_hours looks like "Mon-Fri 09:00-17:30".
REP_COLUMNS: tuple[str, ...] = (
    "rep_id",
    "name",
    "email",
    "pool",
    "role",
    "regions",
    "industries",
    "products",
    "languages",
    "max_leads_per_day",
    "max_open_leads",
    "timezone",
    "working_hours",
    "active",
    "start_date",
    "backup_rep_id",
)

ACCOUNT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "name",
    "domain",
    "owner_rep_id",
    "has_open_opportunity",
    "last_touch_at",
    "tier",
)

# Company-size bands by employee count: (label, lowest, highest, midpoint used when only the
# band is known). The top band's midpoint is a conventional representative value.
SIZE_BANDS: tuple[tuple[str, int, float, float], ...] = (
    ("1-10", 1, 10, 5.5),
    ("11-50", 11, 50, 30.5),
    ("51-200", 51, 200, 125.5),
    ("201-500", 201, 500, 350.5),
    ("501-1000", 501, 1000, 750.5),
    ("1001-5000", 1001, 5000, 3000.5),
    ("5000+", 5001, math.inf, 10000.0),
)


def size_band_of(employees: float | None) -> str | None:
    """Return the size-band label for an employee count (``None`` for unknown or < 1).

    >>> size_band_of(120)
    '51-200'
    """
    if employees is None or (isinstance(employees, float) and math.isnan(employees)):
        return None
    if employees < 1:
        return None
    for label, _low, high, _mid in SIZE_BANDS:
        if employees <= high:
            return label
    return SIZE_BANDS[-1][0]  # pragma: no cover - the last band is unbounded


def size_band_midpoint(label: str) -> float:
    """Return the representative employee count of a canonical size band."""
    for name, _low, _high, mid in SIZE_BANDS:
        if name == label:
            return mid
    allowed = ", ".join(b[0] for b in SIZE_BANDS)
    raise ValueError(f"unknown size band {label!r}; allowed: {allowed}")


@dataclass(frozen=True, slots=True)
class Lead:
    """One inbound lead in canonical form. ``attributes`` holds any further fields (e.g.
    ``demo_request``, ``pricing_page_visit``) that policy rules may refer to by name."""

    lead_id: str
    created_at: datetime | None = None
    email: str | None = None
    company: str | None = None
    domain: str | None = None
    source: str | None = None
    industry: str | None = None
    company_size: float | None = None
    size_band: str | None = None
    annual_revenue: float | None = None
    region: str | None = None
    country: str | None = None
    state: str | None = None
    product: str | None = None
    engagement_score: float | None = None
    title: str | None = None
    language: str | None = None
    external_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """Return a canonical field or an extra attribute by name (``None`` if absent)."""
        if name in _LEAD_FIELDS:
            return getattr(self, name)
        return self.attributes.get(name)


_LEAD_FIELDS = frozenset(f for f in Lead.__dataclass_fields__ if f != "attributes")


@dataclass(frozen=True, slots=True)
class Rep:
    """One sales rep of the roster. ``segments`` (the company-size segments or account
    tiers the rep covers) and ``seniority`` come from the roster's optional columns of those
    names; ``out_of_office`` holds ``(start, end)`` ranges (the service's, with timezone;
    naive ones are read in the rep's timezone). ``attributes``: any further roster column."""

    rep_id: str
    name: str | None = None
    email: str | None = None
    pool: str | None = None
    role: str | None = None
    regions: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    max_leads_per_day: int | None = None
    max_open_leads: int | None = None
    timezone: str = "UTC"
    working_hours: str | None = None
    active: bool = True
    start_date: date | None = None
    backup_rep_id: str | None = None
    segments: tuple[str, ...] = ()
    seniority: str | None = None
    out_of_office: tuple[tuple[datetime, datetime], ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    """A known account (company) with its owner, for ownership holds and exceptions."""

    account_id: str
    name: str | None = None
    domain: str | None = None
    owner_rep_id: str | None = None
    has_open_opportunity: bool = False
    last_touch_at: datetime | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rep the router scored for a lead: model probability, capacity price, final score."""

    rep_id: str
    p_convert: float | None = None
    price: float | None = None
    score: float | None = None
    # E(value | lead, rep) under a value objective (score = p_convert * value - price).
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The full record of one routing decision, as logged and as evaluation needs it.

    ``rep_id`` is ``None`` when nobody could take the lead (``reasons`` says why).
    ``propensity`` is the probability the chosen rep had under the policy, for unbiased
    off-policy evaluation. ``exclusions`` maps each considered-but-excluded rep to its code.
    """

    lead_id: str
    rep_id: str | None
    pool: str | None
    lane: str | None
    strategy: str
    reasons: tuple[str, ...]
    decided_at: datetime
    candidates: tuple[Candidate, ...] = ()
    exclusions: Mapping[str, str] = field(default_factory=dict)
    p_convert: float | None = None
    confidence: float | None = None
    propensity: float | None = None
    model_version: str | None = None
    policy_version: str | None = None
    sla_deadline: datetime | None = None
    mode: str = "live"
    shadow_rep_id: str | None = None
    fit_score: float | None = None
    intent_score: float | None = None
    grade: str | None = None
    # What committing this decision changes in the routing state (see
    # ``leadpilot.policy.state``): the rep-local calendar day the lead counts against for
    # ``max_leads_per_day``, and the new rotation credits of the pool's reps.
    rep_local_day: date | None = None
    rotation_update: Mapping[str, float] = field(default_factory=dict)
    # E(value | lead, chosen rep) under a value objective (also in its candidate's record).
    expected_value: float | None = None
    # The lead's policy segment: committing counts the lead in the pool's window of that
    # segment too, what a development share restricted to segments is counted on.
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class CandidateScores:
    """What a scorer says about one lead and a list of candidate reps.

    ``p`` has shape ``(n_reps,)``: P(convert | lead, rep) for each rep, in the order given.
    ``confidence`` in [0, 1] says how sure the scorer is that its top rep really beats the
    pool average. ``sufficiency`` (optional, shape ``(n_reps,)``, in [0, 1]) says how much
    history backs each rep's score. ``draws`` (optional, shape ``(n_draws, n_reps)``) are the
    scorer's own uncertainty: P(convert) under each of its bags; the router's confidence (the
    probability that its choice converts better than the fallback's pick, see
    :func:`leadpilot.model.confidence.beats`) comes from them, and is certain without them.
    """

    p: NDArray[np.float64]
    confidence: float
    sufficiency: NDArray[np.float64] | None = None
    draws: NDArray[np.float64] | None = None


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores one lead against many reps: the trained conversion model, or the
    synthetic world's ground truth (an oracle used to test the router)."""

    @property
    def version(self) -> str:
        """An identifier logged with every decision (model version id)."""
        ...

    def score_candidates(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> CandidateScores:
        """Score ``lead`` for each rep in ``rep_ids``; ``expected_response_hours`` (shape
        ``(n_reps,)``) is each rep's expected time to first contact given the current load."""
        ...


@runtime_checkable
class BatchScores(Protocol):
    """A scorer's answer for many leads x many reps at once (one vectorised model call):
    ``candidates(row, cols)`` is exactly what ``score_candidates(leads[row], [rep_ids[c] for c
    in cols])`` returns at the batch's response hours; ``p`` (n_leads, n_reps) is every lead's
    P(convert) with the whole roster as the candidates."""

    @property
    def p(self) -> NDArray[np.float64]:
        """P(convert) of every lead with every rep, shape ``(n_leads, n_reps)``."""
        ...

    def candidates(self, row: int, cols: Sequence[int]) -> CandidateScores:
        """The scores of lead ``row`` against the reps in columns ``cols``."""
        ...


@runtime_checkable
class BatchScorer(Scorer, Protocol):
    """A :class:`Scorer` that can also score a batch of leads against a roster in one call."""

    def score_batch(
        self,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> BatchScores:
        """Every (lead, rep) pair; ``expected_response_hours`` (shape ``(n_reps,)``) as in
        :meth:`Scorer.score_candidates`, the same for every lead."""
        ...


@dataclass(frozen=True, slots=True)
class ColumnScores:
    """Batch scores of a scorer whose score of a rep does not depend on the other candidates
    and whose confidence is fixed (the oracle, a table): ``p`` has shape (n_leads, n_reps)."""

    p: NDArray[np.float64]
    confidence: float = 1.0
    sufficiency: NDArray[np.float64] | None = None  # (n_reps,)

    def candidates(self, row: int, cols: Sequence[int]) -> CandidateScores:
        """``p`` of lead ``row`` in columns ``cols`` (numpy fancy indexing: a copy)."""
        idx = list(cols)
        suff = None if self.sufficiency is None else self.sufficiency[idx]
        return CandidateScores(p=self.p[row, idx], confidence=self.confidence, sufficiency=suff)


# What the predictive router maximises (the policy's ``objective``): expected conversions,
# expected pipeline value (P(convert) x E(deal size)) or expected won revenue
# (P(convert) x P(win | opportunity) x E(deal size)).
OBJECTIVES: tuple[str, ...] = ("conversions", "pipeline_value", "won_revenue")


@dataclass(frozen=True, slots=True)
class ValueEstimates:
    """E(value | converted lead, rep) for each candidate rep under a value objective, with a
    95% interval of that expected value (``low``, ``high``); all shape ``(n_reps,)``."""

    mean: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]


@runtime_checkable
class ValueModel(Protocol):
    """What a converted lead is worth with each rep: the learnt deal-value model
    (``model.value``) or a synthetic world's true deal values. ``objective`` is
    ``pipeline_value`` (the opportunity's amount) or ``won_revenue`` (P(win | opportunity)
    x amount); the router's score under that objective is ``p_convert x mean``."""

    @property
    def version(self) -> str:
        """An identifier of the fitted values (part of the shadow-price cache key)."""
        ...

    def values(self, lead: Lead, rep_ids: Sequence[str], objective: str) -> ValueEstimates:
        """E(value) of ``lead`` with each rep of ``rep_ids``, with its interval."""
        ...

    def value_batch(
        self, leads: Sequence[Lead], rep_ids: Sequence[str], objective: str
    ) -> NDArray[np.float64]:
        """E(value) of every lead with every rep, shape ``(n_leads, n_reps)``."""
        ...

    def typical_value(self, objective: str) -> float:
        """The average E(value) of a converted lead (the scale of a value objective: the
        fairness band's penalty, in expected conversions, is multiplied by it)."""
        ...
