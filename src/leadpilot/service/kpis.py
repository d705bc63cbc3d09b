"""The routing KPIs of the seed playbook, computed from the store over a time window.

Speed to first touch (median minutes route -> first contact), fairness index (leads per rep
/ pool average), reassignment rate, duplicate rate and conversion to meeting (meetings / routed
hot leads). Rates carry Wilson 95% intervals; with no data a KPI is ``None``, not zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from statistics import median

import sqlalchemy as sa
from pydantic import BaseModel
from scipy.stats import binomtest

from leadpilot.store.kpi_reads import assignment_counts, duplicate_count, window_leads

__all__ = ["KPIReport", "RateKPI", "compute_kpis"]


class RateKPI(BaseModel):
    """A proportion with its Wilson 95% interval (``None`` when ``n`` is 0)."""

    numerator: int
    denominator: int
    rate: float | None
    low: float | None
    high: float | None


class FairnessRow(BaseModel):
    """One rep's share of its pool: leads / pool average (target 0.9-1.1)."""

    rep_id: str
    pool: str | None
    leads: int
    fairness_index: float | None


class SpeedKPI(BaseModel):
    """Median minutes from routing to first touch, over leads touched in the window."""

    median_minutes: float | None
    median_minutes_hot: float | None
    touched: int
    routed: int


class KPIReport(BaseModel):
    """The KPI table for ``[since, until]``."""

    since: datetime | None
    until: datetime
    speed_to_first_touch: SpeedKPI
    fairness: list[FairnessRow]
    reassignment_rate: RateKPI
    duplicate_rate: RateKPI
    conversion_to_meeting: RateKPI


def _rate(k: int, n: int) -> RateKPI:
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
) -> KPIReport:
    """Compute the KPIs over leads received in ``[since, until]``; ``members`` lists each
    pool's reps for the fairness index."""
    rows = window_leads(conn, since=since, until=until)
    routed = [r for r in rows if r.routed_at is not None]
    waits = [
        ((r.first_touch_at - r.routed_at).total_seconds() / 60.0, r.lane)
        for r in routed
        if r.first_touch_at is not None
    ]
    hot_waits = [w for w, lane in waits if lane == "hot"]
    speed = SpeedKPI(
        median_minutes=median(w for w, _ in waits) if waits else None,
        median_minutes_hot=median(hot_waits) if hot_waits else None,
        touched=len(waits),
        routed=len(routed),
    )
    reassigned = sum(1 for r in routed if r.reassignments > 0)
    hot = [r for r in routed if r.lane == "hot"]
    meetings = sum(1 for r in hot if r.meeting_at is not None)

    duplicates = duplicate_count(conn, since=since, until=until)

    return KPIReport(
        since=since,
        until=until,
        speed_to_first_touch=speed,
        fairness=_fairness(conn, since=since, until=until, members=members or {}),
        reassignment_rate=_rate(reassigned, len(routed)),
        duplicate_rate=_rate(duplicates, duplicates + len(rows)),
        conversion_to_meeting=_rate(meetings, len(hot)),
    )


def _fairness(
    conn: sa.Connection,
    *,
    since: datetime | None,
    until: datetime,
    members: Mapping[str, Sequence[str]],
) -> list[FairnessRow]:
    """Leads per rep over the window (every decision that gave a rep a lead counts) divided
    by the pool's average, per decision pool. ``members`` lists each pool's active reps (from
    the active policy), so a rep who got nothing counts as 0 rather than being left out."""
    counts: dict[str | None, dict[str, int]] = defaultdict(dict)
    for pool, rep_id, n in assignment_counts(conn, since=since, until=until):
        counts[pool][rep_id] = n
    out: list[FairnessRow] = []
    for pool in sorted(set(counts) | set(members), key=lambda p: p or ""):
        got = counts.get(pool, {})
        reps_in_pool = sorted(set(members.get(pool or "", ())) | set(got))
        if not reps_in_pool:
            continue
        average = sum(got.values()) / len(reps_in_pool)
        for rep_id in reps_in_pool:
            n = got.get(rep_id, 0)
            out.append(
                FairnessRow(
                    rep_id=rep_id,
                    pool=pool,
                    leads=n,
                    fairness_index=(n / average) if average > 0 else None,
                )
            )
    return out
