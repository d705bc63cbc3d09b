"""Reps' feedback on fit, summarised: the share of leads rated a poor fit, overall, by how
the rep got the lead (routing strategy), per rep and per segment, with Wilson intervals,
and the reasons given. ``GET /v1/feedback``; the shadow report and the weekly review read
the same rows (:func:`poor_fit_by_lead`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from scipy.stats import binomtest

from leadpilot.policy.scoring import segment_of
from leadpilot.service.kpis import RateKPI
from leadpilot.service.schemas import EventCreate
from leadpilot.store.leads import lead_from_fields

__all__ = [
    "FIT_REASON_CHARS",
    "FeedbackGroup",
    "FeedbackReport",
    "feedback_report",
    "fit_rating_event",
    "poor_fit_by_lead",
]

FIT_REASON_CHARS = 200  # of a rating's reason, kept on every form that rates fit


def fit_rating_event(
    event_id: str, lead_id: str, rep_id: str, form: Mapping[str, str]
) -> EventCreate | None:
    """The ``fit_feedback`` event a rating form posts (``fit`` good or poor, an optional
    ``reason``), or None when ``fit`` is neither. The console's decision page and the rep's
    accept/decline page both record ratings through it, so they cannot drift apart."""
    fit, reason = form.get("fit", ""), form.get("reason", "").strip()[:FIT_REASON_CHARS]
    if fit not in ("good", "poor"):
        return None
    return EventCreate(
        event_id=event_id,
        type="fit_feedback",
        lead_id=lead_id,
        rep_id=rep_id,
        fit=fit,
        reason=reason or None,
    )


def _rate(k: int, n: int) -> RateKPI:
    """k of n with its Wilson 95% interval (as the KPI table's rates)."""
    if n == 0:
        return RateKPI(numerator=k, denominator=n, rate=None, low=None, high=None)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return RateKPI(numerator=k, denominator=n, rate=k / n, low=ci.low, high=ci.high)


class FeedbackGroup(BaseModel):
    """Poor-fit ratings among the ratings of one group (a strategy, a rep, a segment)."""

    key: str
    poor: RateKPI


class FeedbackReport(BaseModel):
    """Reps' fit ratings in ``[since, until]``."""

    since: datetime | None
    until: datetime
    ratings: int
    poor: RateKPI
    by_strategy: list[FeedbackGroup]
    by_rep: list[FeedbackGroup]
    by_segment: list[FeedbackGroup]
    reasons: list[dict[str, Any]]
    statement: str


def _groups(
    rows: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str | None]
) -> list[FeedbackGroup]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        k = key(row) or "(unknown)"
        counts[k][0] += row["fit"] == "poor"
        counts[k][1] += 1
    return [FeedbackGroup(key=k, poor=_rate(p, n)) for k, (p, n) in sorted(counts.items())]


def _statement(by_strategy: list[FeedbackGroup]) -> str:
    """The review's line: 'reps flagged 18% of predictive assignments as poor fit, against
    9% for round-robin' (with intervals), or why it cannot be said."""
    parts = [
        f"{g.poor.rate:.0%} of {g.key.replace('_', '-')} assignments "
        f"(95% interval {g.poor.low:.0%}-{g.poor.high:.0%}, {g.poor.denominator} rated)"
        for g in by_strategy
        if g.poor.rate is not None and g.poor.low is not None and g.poor.high is not None
    ]
    if not parts:
        return "No fit feedback from reps in this window."
    return "Reps flagged " + ", against ".join(parts) + " as a poor fit."


def feedback_report(
    rows: Sequence[Mapping[str, Any]],
    segments: Mapping[str, tuple[float, float]],
    *,
    since: datetime | None,
    until: datetime,
) -> FeedbackReport:
    """Summarise feedback rows (``store.feedback.feedback_rows``); ``segments``: the
    active policy's segments."""

    def segment(row: Mapping[str, Any]) -> str | None:
        return segment_of(lead_from_fields(row["fields"]), segments)

    by_strategy = _groups(rows, lambda r: r["strategy"])
    reasons = Counter(
        (r["reason"] or "(no reason)").strip().lower() for r in rows if r["fit"] == "poor"
    )
    return FeedbackReport(
        since=since,
        until=until,
        ratings=len(rows),
        poor=_rate(sum(r["fit"] == "poor" for r in rows), len(rows)),
        by_strategy=by_strategy,
        by_rep=_groups(rows, lambda r: r["rep_id"]),
        by_segment=_groups(rows, segment),
        reasons=[{"reason": k, "count": n} for k, n in reasons.most_common(10)],
        statement=_statement(by_strategy),
    )


def poor_fit_by_lead(rows: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """The latest rating of each lead: True for poor fit (the shadow report's input)."""
    return {str(r["lead_id"]): r["fit"] == "poor" for r in rows}
