"""The routing KPIs of the seed playbook, computed from the store over a time window.

Speed to first touch (median minutes route -> first contact), fairness index (leads per rep
/ pool average), reassignment rate, duplicate rate, conversion to meeting (meetings / routed
hot leads) and to opportunity, meeting rate by routing method, SLA attainment, leads routed
per hour and the queue length. Rates carry Wilson 95% intervals; with no data a KPI is
``None``, not zero. The dashboard shows exactly these numbers (``service.console``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel
from scipy.stats import binomtest

from leadpilot.store.kpi_reads import queue_length
from leadpilot.store.kpi_rollups import LeadGroup, window_totals

__all__ = [
    "KPIReport",
    "MethodRate",
    "RateKPI",
    "compute_kpis",
    "fairness_rows",
    "rate_kpi",
    "routing_method",
]


class RateKPI(BaseModel):
    """A proportion with its Wilson 95% interval (``None`` when ``n`` is 0)."""

    numerator: int
    denominator: int
    rate: float | None
    low: float | None
    high: float | None


class FairnessRow(BaseModel):
    """One rep's share of its pool: leads / pool average (target 0.9-1.1). New reps on a
    development share (``policy.development``) are shown separately: ``new_rep``, their
    ``min_share`` and actual ``share`` of the pool's leads; the pool average (and so every
    experienced rep's index) leaves them out, as their volume is set by the ramp."""

    rep_id: str
    pool: str | None
    leads: int
    fairness_index: float | None
    new_rep: bool = False
    min_share: float | None = None
    share: float | None = None


class SpeedKPI(BaseModel):
    """Median minutes from routing to first touch, over leads touched in the window."""

    median_minutes: float | None
    median_minutes_hot: float | None
    touched: int
    routed: int


class MethodRate(BaseModel):
    """Meeting rate of the routed leads first assigned by one routing method."""

    method: str
    meeting_rate: RateKPI


class KPIReport(BaseModel):
    """The KPI table for ``[since, until]`` (leads first assigned in ``pool`` when set)."""

    since: datetime | None
    until: datetime
    pool: str | None = None
    speed_to_first_touch: SpeedKPI
    fairness: list[FairnessRow]
    reassignment_rate: RateKPI
    duplicate_rate: RateKPI
    conversion_to_meeting: RateKPI
    conversion_to_opportunity: RateKPI
    conversion_by_method: list[MethodRate]
    sla_attainment: RateKPI
    leads_per_hour: float | None
    queue_length: int


def routing_method(strategy: str | None, reasons: Sequence[str] | str) -> str:
    """How a decision chose its rep: ``holdout`` (randomised control), ``predictive`` (the
    model's choice, exploration included), ``fallback`` (the model declined: low confidence
    or none) or the rule-based strategy's name (e.g. ``round_robin``). ``reasons``: the
    codes, or their stored JSON text."""
    codes = json.loads(reasons) if isinstance(reasons, str) else reasons
    if "HOLDOUT" in codes:
        return "holdout"
    if any(r.endswith("_FALLBACK") for r in codes):
        return "fallback"
    return strategy or "unknown"


def rate_kpi(k: int, n: int) -> RateKPI:
    """``k`` of ``n`` as a rate with its Wilson 95% interval (``None`` when ``n`` is 0)."""
    if n == 0:
        return RateKPI(numerator=k, denominator=n, rate=None, low=None, high=None)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return RateKPI(numerator=k, denominator=n, rate=k / n, low=ci.low, high=ci.high)


def compute_kpis(
    conn: sa.Connection,
    *,
    since: datetime | None,
    until: datetime,
    members: Mapping[str, Sequence[str]] | None = None,
    pool: str | None = None,
    development: Mapping[str, float] | None = None,
) -> KPIReport:
    """Compute the KPIs over leads received in ``[since, until]``; ``members`` lists each
    pool's reps for the fairness index; ``pool`` keeps the leads first assigned in that pool
    (the queue length is always the whole queue, now). ``development``: each new rep's
    development share (shown separately in the fairness rows). Whole days come from the
    daily rollups (``store.kpi_rollups``), which are exact; the rest is read raw."""
    totals = window_totals(conn, since, until)
    routed = LeadGroup()  # every lead in ``leads``; the other counts are over routed ones
    hot = LeadGroup()
    waits_hot: list[int] = []
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (in_pool, lane, method), group in totals.leads.items():
        if pool is not None and in_pool != pool:
            continue
        routed.add(group)
        if lane == "hot":
            hot.routed += group.routed
            hot.meetings += group.meetings
            waits_hot.extend(group.waits)
        if group.routed:
            counts = by_method[method or "unknown"]
            counts[0] += group.meetings
            counts[1] += group.routed
    waits = routed.waits
    speed = SpeedKPI(
        median_minutes=_median_minutes(waits),
        median_minutes_hot=_median_minutes(waits_hot),
        touched=len(waits),
        routed=routed.routed,
    )
    # SLA attainment over the leads whose promise is decided: touched in time, touched late,
    # or still untouched after the deadline (an untouched lead with time left is not counted).
    decided = routed.sla_touched + routed.sla_open_due
    hours = (until - since).total_seconds() / 3600 if since is not None else 0.0
    by_pool = totals.duplicates
    duplicates = sum(by_pool.values()) if pool is None else by_pool.get(pool, 0)
    fairness = _fairness(
        totals.assignments, members=members or {}, pool=pool, development=development or {}
    )
    return KPIReport(
        since=since,
        until=until,
        pool=pool,
        speed_to_first_touch=speed,
        fairness=fairness,
        reassignment_rate=rate_kpi(routed.reassigned, routed.routed),
        duplicate_rate=rate_kpi(duplicates, duplicates + routed.leads),
        conversion_to_meeting=rate_kpi(hot.meetings, hot.routed),
        conversion_to_opportunity=rate_kpi(routed.opportunities, routed.routed),
        conversion_by_method=[
            MethodRate(method=m, meeting_rate=rate_kpi(k, n))
            for m, (k, n) in sorted(by_method.items())
        ],
        sla_attainment=rate_kpi(routed.sla_met, decided),
        leads_per_hour=routed.routed / hours if hours > 0 else None,
        queue_length=queue_length(conn),
    )


def _median_minutes(waits_ms: list[int]) -> float | None:
    """The median wait in minutes (numpy's partition, not a full sort of every touched lead
    in the window; the mean of the two middle integers is exact in float64)."""
    if not waits_ms:
        return None
    return float(np.median(np.asarray(waits_ms, dtype=np.int64))) / 60_000


def fairness_rows(
    conn: sa.Connection,
    *,
    since: datetime | None,
    until: datetime,
    members: Mapping[str, Sequence[str]],
    pool: str | None,
    development: Mapping[str, float],
) -> list[FairnessRow]:
    """Leads per rep over the window (every decision that gave a rep a lead counts) divided
    by the pool's average, per decision pool. ``members`` lists each pool's active reps (from
    the active policy), so a rep who got nothing counts as 0 rather than being left out."""
    totals = window_totals(conn, since, until, parts=frozenset({"assignments"}))
    return _fairness(totals.assignments, members=members, pool=pool, development=development)


def _fairness(
    assignments: Mapping[tuple[str | None, str], int],
    *,
    members: Mapping[str, Sequence[str]],
    pool: str | None,
    development: Mapping[str, float],
) -> list[FairnessRow]:
    counts: dict[str | None, dict[str, int]] = defaultdict(dict)
    for (in_pool, rep_id), n in assignments.items():
        if pool is None or in_pool == pool:
            counts[in_pool][rep_id] = n
    pools = set(counts) | set(members) if pool is None else {pool}
    out: list[FairnessRow] = []
    for name in sorted(pools, key=lambda p: p or ""):
        got = counts.get(name, {})
        reps_in_pool = sorted(set(members.get(name or "", ())) | set(got))
        if not reps_in_pool:
            continue
        settled = [r for r in reps_in_pool if r not in development]
        total = sum(got.values())
        average = sum(got.get(r, 0) for r in settled) / len(settled) if settled else 0.0
        for rep_id in reps_in_pool:
            n = got.get(rep_id, 0)
            if rep_id in development:
                out.append(
                    FairnessRow(
                        rep_id=rep_id,
                        pool=name,
                        leads=n,
                        fairness_index=None,
                        new_rep=True,
                        min_share=development[rep_id],
                        share=n / total if total else None,
                    )
                )
                continue
            out.append(
                FairnessRow(
                    rep_id=rep_id,
                    pool=name,
                    leads=n,
                    fairness_index=(n / average) if average > 0 else None,
                )
            )
    return out
