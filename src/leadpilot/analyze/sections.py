"""The audit's report sections as typed records: what every renderer reads.

Sections are dataclasses (one per report section); the rows inside them (rate tables, matches,
speed bins, rules, actions) are ``TypedDict`` records, because the charts and the JSON take
them as they are. ``to_dict`` gives the JSON document; an optional field whose value is
``None`` (``omit_none``) is left out of it rather than written as ``null``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

__all__ = [
    "Action",
    "DataQuality",
    "Heatmap",
    "HeatmapCell",
    "Lift",
    "Match",
    "Methods",
    "Overall",
    "RateRow",
    "Recommendations",
    "ReportSections",
    "Rule",
    "SpeedBin",
    "TimeToContact",
    "Trend",
    "Verdict",
    "jsonable",
    "plain",
]

# field metadata: left out of the JSON while the value is None
OMIT_NONE: dict[str, bool] = {"omit_none": True}


class RateRow(TypedDict, total=False):
    """One row of the conversion-by-rep or by-source table (keyed by ``rep`` or ``source``)."""

    rep: str
    source: str
    leads: int
    converted: int
    rate: float
    ci_low: float
    ci_high: float
    won: int
    win_rate: float | None
    median_days_to_convert: float | None
    shrunk_rate: float


class Match(TypedDict):
    """A rep x segment cell that beats its segment's average at the FDR level."""

    rep: str
    dimension: str
    segment: str
    leads: int
    converted: int
    rate: float
    shrunk_rate: float
    ci_low: float
    ci_high: float
    segment_rate: float
    lift: float
    affinity: float
    p_value: float
    q_value: float


class HeatmapCell(TypedDict):
    """One rep x segment cell of a heat map."""

    leads: int
    rate: float
    shrunk: float
    lift: float | None
    significant: bool
    thin: bool


class Heatmap(TypedDict):
    """Rep x segment grid, biggest reps and segments first."""

    reps: list[str]
    segments: list[str]
    cells: list[list[HeatmapCell | None]]


class SpeedBin(TypedDict):
    """Leads first contacted within one time range, and how they converted."""

    range: str
    leads: int
    converted: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


class TimeToContact(TypedDict, total=False):
    """The speed-to-lead section (``available`` False with a ``reason`` when it cannot run)."""

    available: bool
    leads_with_time: int
    reason: str
    negative_times_ignored: int
    median_hours: float
    bins: list[SpeedBin]
    caution: str
    fit: dict[str, Any] | None
    correlation: dict[str, float] | None
    by_rep: list[dict[str, Any]]
    by_source: list[dict[str, Any]]


class Trend(TypedDict, total=False):
    """Conversion and speed-to-lead by month (``available`` False with a ``reason`` without
    creation dates): ``months`` rows with intervals, ``conversion_slope`` the odds ratio per
    month."""

    available: bool
    reason: str
    months: list[dict[str, Any]]
    undated_leads: int
    conversion_slope: dict[str, float] | None
    has_speed: bool


class Rule(TypedDict):
    """A routing rule for one segment with its projected gain."""

    segment: str
    segment_leads: int
    route_to: list[dict[str, Any]]
    round_robin_rate: float
    planned_rate: float
    projected_extra_conversions: float
    ci_low: float
    ci_high: float
    per_month: float | None
    text: str


class Action(TypedDict, total=False):
    """One prioritised action."""

    priority: int
    title: str
    detail: str
    evidence: str
    projected_extra_conversions: float | None
    caveat: str | None


@dataclass
class Lift:
    """A projected lift with its 95% interval (all ``None`` when not computable)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    baseline: str | None = field(default=None, metadata=OMIT_NONE)

    @property
    def computable(self) -> bool:
        """Whether the audit could project a lift at all."""
        return self.value is not None


@dataclass
class Overall:
    """Leads with a known outcome, how many converted, and the rate."""

    leads: int
    converted: int
    rate: float


@dataclass
class DataQuality:
    """The data-quality header: rows, outcomes, reps, missing values and the date range."""

    rows: int
    rows_used: int
    outcome_unknown: int
    outcome_unknown_share: float
    target: str
    outcome_rate: float
    reps: int
    leads_without_rep: int
    missing_share: dict[str, float]
    has_dates: bool = False
    date_range: list[str] | None = field(default=None, metadata=OMIT_NONE)
    months_of_history: float | None = field(default=None, metadata=OMIT_NONE)
    validate: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    validate_summary: str | None = field(default=None, metadata=OMIT_NONE)
    has_reps: bool | None = field(default=None, metadata=OMIT_NONE)


@dataclass
class Methods:
    """How each figure was computed, in words, plus notes about this history."""

    target: str
    notes: list[str]
    rates: str
    shrinkage: str
    best_matches: str
    time_to_contact: str
    heterogeneity: str
    recommendations: str
    limitations: str
    seed: int
    min_leads: int


@dataclass
class Verdict:
    """Does the history support predictive routing, and a 15%+ improvement?"""

    supports_predictive_routing: bool
    projected_lift: Lift
    reason: str
    supports_15pct_improvement: str
    statement_15pct: str
    tests: list[dict[str, Any]]


@dataclass
class Recommendations:
    """The capacity-respecting plan: its projected lift and the rules it implies."""

    statement: str
    method: str
    rules: list[Rule]
    capacity_source: str
    projected_lift: Lift
    projected_lift_vs_history: Lift
    segments: int | None = field(default=None, metadata=OMIT_NONE)
    reps: int | None = field(default=None, metadata=OMIT_NONE)
    leads: int | None = field(default=None, metadata=OMIT_NONE)
    expected_conversions: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)
    in_sample_lift: float | None = field(default=None, metadata=OMIT_NONE)
    probability_lift_positive: float | None = field(default=None, metadata=OMIT_NONE)
    probability_lift_15pct: float | None = field(default=None, metadata=OMIT_NONE)
    rules_total: int | None = field(default=None, metadata=OMIT_NONE)
    plan: list[dict[str, Any]] | None = field(default=None, metadata=OMIT_NONE)
    rules_considered: list[Rule] | None = field(default=None, metadata=OMIT_NONE)
    model: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    # the plan's pipeline value against round-robin's, in deal_value's units (value, ci_low,
    # ci_high, plan, round_robin, per_month, deals); None when the export has too few
    # deal values (analyze.revenue)
    projected_revenue: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)


@dataclass
class ReportSections:
    """Every section of the audit, in report order."""

    leadpilot_version: str
    provenance: dict[str, Any]
    data_quality: DataQuality
    methods: Methods
    overall: Overall
    conversion_by_rep: list[RateRow]
    conversion_by_source: list[RateRow]
    best_matches: list[Match]
    segment_heatmaps: dict[str, Heatmap]
    time_to_contact: TimeToContact
    trend: Trend
    recommendations: Recommendations
    verdict: Verdict
    actions: list[Action]
    narrative: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)

    @property
    def has_won(self) -> bool:
        """Whether the rate tables carry won deals (a win rate) next to conversions."""
        first = (self.conversion_by_rep or self.conversion_by_source or [RateRow()])[0]
        return "win_rate" in first


def plain(value: Any) -> Any:
    """Dataclasses to dicts (``omit_none`` fields dropped while ``None``), recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = plain(item)
        return out
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """Plain JSON types all the way down: numpy scalars unwrapped, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
