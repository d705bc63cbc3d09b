"""The raw reads behind the routing KPIs (``service.kpis``) over a span of time.

``store.kpi_rollups`` keeps the same aggregates per UTC day; these reads compute a span from
the source tables (the partial days at the edges of a window, days whose rollup is being
rebuilt, and the rollups themselves). A span is ``[start, end)``, or ``[start, end]`` with
``end_inclusive``; ``start`` ``None`` means from the beginning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, duplicate_intakes, leads

__all__ = ["assignment_counts", "duplicate_pools", "lead_facts", "queue_length"]


def _first_assignment_id(lead_id: Any) -> Any:
    """The id of the lead's first decision that gave it a rep: a walk of the decisions'
    ``(lead_id, seq)`` index per lead, so a span costs what its own leads cost. (Written as
    ``ORDER BY seq LIMIT 1``, not ``min(id)``: with stale statistics PostgreSQL turned the
    ``min`` into a scan of the primary key filtered by lead, once per lead. ``seq`` and
    ``id`` grow together within a lead: both are assigned under the routing lock.)"""
    earlier = decisions.alias("earlier")
    return (
        sa.select(earlier.c.id)
        .where(earlier.c.lead_id == lead_id, earlier.c.rep_id.is_not(None))
        .order_by(earlier.c.seq)
        .limit(1)
        .scalar_subquery()
    )


def _milliseconds_between(conn: sa.Connection, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in whole milliseconds, computed by the database (SQLite: from
    Julian days, whose float is good to ~50 microseconds, so rounding to the millisecond
    gives the same integer for the same pair of timestamps every time)."""
    if conn.dialect.name == "sqlite":
        millis = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86_400_000.0
        return sa.cast(sa.func.round(millis), sa.BigInteger)
    return sa.cast(sa.func.round(sa.extract("epoch", later - earlier) * 1000), sa.BigInteger)


def _flag(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def _span(column: Any, start: datetime | None, end: datetime, end_inclusive: bool) -> list[Any]:
    where = [column <= end if end_inclusive else column < end]
    if start is not None:
        where.append(column >= start)
    return where


def lead_facts(
    conn: sa.Connection, start: datetime | None, end: datetime, *, end_inclusive: bool = False
) -> list[Any]:
    """Leads received in the span (history excluded), one row each, computed in the database
    so no timestamp or JSON is decoded here: ``lane``, ``reassignments``, ``meeting`` and
    ``opportunity`` (0/1), and about their first decision that gave them a rep: ``routed``
    (0/1), ``pool``, ``method`` (``holdout`` if its reasons hold ``HOLDOUT``, ``fallback`` if
    one ends in ``_FALLBACK``, else its strategy; see ``service.kpis.routing_method``),
    ``wait_ms`` (from it to the first touch; ``None`` if untouched), ``touched``,
    ``sla_deadline`` and ``sla_met`` (touched by the deadline)."""
    first = decisions.alias("first_decision")
    reasons = sa.cast(first.c.reasons, sa.Text)
    touched = leads.c.first_touch_at.is_not(None)
    deadline = first.c.sla_deadline
    return list(
        conn.execute(
            sa.select(
                leads.c.lane,
                leads.c.reassignments,
                _flag(leads.c.meeting_at.is_not(None)).label("meeting"),
                _flag(leads.c.opportunity_at.is_not(None)).label("opportunity"),
                _flag(first.c.id.is_not(None)).label("routed"),
                first.c.pool,
                sa.case(
                    (first.c.id.is_(None), None),
                    (reasons.like('%"HOLDOUT"%'), "holdout"),
                    (reasons.like('%\\_FALLBACK"%', escape="\\"), "fallback"),
                    else_=first.c.strategy,
                ).label("method"),
                _milliseconds_between(conn, leads.c.first_touch_at, first.c.decided_at).label(
                    "wait_ms"
                ),
                _flag(touched).label("touched"),
                deadline.label("sla_deadline"),
                _flag(sa.and_(touched, leads.c.first_touch_at <= deadline)).label("sla_met"),
            )
            .select_from(
                leads.outerjoin(first, first.c.id == _first_assignment_id(leads.c.lead_id))
            )
            .where(
                leads.c.status != "history",
                *_span(leads.c.received_at, start, end, end_inclusive),
            )
        ).all()
    )


def queue_length(conn: sa.Connection) -> int:
    """Leads waiting in the queue now."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(leads).where(leads.c.status == "queued")
        ).scalar_one()
    )


def duplicate_pools(
    conn: sa.Connection, start: datetime | None, end: datetime, *, end_inclusive: bool = False
) -> list[tuple[str | None, int]]:
    """``(pool, n)``: repeat intakes received in the span, by the pool of their lead's first
    assignment (``None``: the lead never had a rep)."""
    first = decisions.alias("first_decision")
    query = (
        sa.select(first.c.pool, sa.func.count().label("n"))
        .select_from(
            duplicate_intakes.outerjoin(
                first, first.c.id == _first_assignment_id(duplicate_intakes.c.lead_id)
            )
        )
        .where(*_span(duplicate_intakes.c.received_at, start, end, end_inclusive))
        .group_by(first.c.pool)
    )
    return [(row.pool, int(row.n)) for row in conn.execute(query)]


def assignment_counts(
    conn: sa.Connection, start: datetime | None, end: datetime, *, end_inclusive: bool = False
) -> list[tuple[str | None, str, int]]:
    """``(pool, rep_id, n)``: decisions in the span that gave a rep a lead."""
    query = (
        sa.select(decisions.c.pool, decisions.c.rep_id, sa.func.count().label("n"))
        .where(
            decisions.c.rep_id.is_not(None),
            *_span(decisions.c.decided_at, start, end, end_inclusive),
        )
        .group_by(decisions.c.pool, decisions.c.rep_id)
    )
    return [(row.pool, row.rep_id, int(row.n)) for row in conn.execute(query)]
