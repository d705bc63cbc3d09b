"""The reads behind the routing KPIs (``service.kpis``), over a window of time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, duplicate_intakes, leads

__all__ = ["assignment_counts", "duplicate_count", "queue_length", "window_leads"]


def _first_assignment(since: datetime | None = None) -> tuple[Any, Any]:
    """(lead_id -> id of its first decision that gave it a rep, that decision's table).
    ``since``: only decisions from then on, enough for leads received since then (a lead is
    decided at or after it is received), and it lets the database use the time index."""
    query = sa.select(decisions.c.lead_id, sa.func.min(decisions.c.id).label("decision_id")).where(
        decisions.c.rep_id.is_not(None)
    )
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    first_id = query.group_by(decisions.c.lead_id).subquery()
    return first_id, decisions.alias("first_decision")


def _minutes_between(conn: sa.Connection, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in minutes, computed by the database. SQLite: from Julian days,
    rounded to the millisecond (a Julian day's float is only good to ~50 microseconds)."""
    if conn.dialect.name == "sqlite":
        seconds = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
        return sa.func.round(seconds, 3) / 60.0
    return sa.extract("epoch", later - earlier) / 60.0


def _flag(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def window_leads(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> list[Any]:
    """Leads received in ``[since, until]`` (history excluded), one row each, computed in
    the database so that no timestamp or JSON needs decoding here (100,000 leads in well
    under a second): ``lane``, ``reassignments``, ``meeting`` and ``opportunity`` (0/1), and
    about their first decision that gave them a rep: ``routed`` (0/1), ``wait_minutes``
    (from it to the first touch; ``None`` if untouched), ``method`` (``holdout`` if its
    reasons hold ``HOLDOUT``, ``fallback`` if one ends in ``_FALLBACK``, else its strategy;
    see ``service.kpis.routing_method``), ``sla_promised``, ``sla_met`` (touched by the
    deadline) and ``sla_decided`` (touched, or the deadline is before ``until``).
    ``pool``: only leads whose first assignment was in that pool."""
    window = [leads.c.received_at <= until, leads.c.status != "history"]
    if since is not None:
        window.append(leads.c.received_at >= since)
    first_id, first = _first_assignment(since)
    if pool is not None:
        window.append(first.c.pool == pool)
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
                _minutes_between(conn, leads.c.first_touch_at, first.c.decided_at).label(
                    "wait_minutes"
                ),
                sa.case(
                    (reasons.like('%"HOLDOUT"%'), "holdout"),
                    (reasons.like('%\\_FALLBACK"%', escape="\\"), "fallback"),
                    else_=first.c.strategy,
                ).label("method"),
                _flag(deadline.is_not(None)).label("sla_promised"),
                _flag(sa.and_(touched, leads.c.first_touch_at <= deadline)).label("sla_met"),
                _flag(sa.and_(deadline.is_not(None), sa.or_(touched, deadline < until))).label(
                    "sla_decided"
                ),
            )
            .select_from(
                leads.outerjoin(first_id, first_id.c.lead_id == leads.c.lead_id).outerjoin(
                    first, first.c.id == first_id.c.decision_id
                )
            )
            .where(*window)
        ).all()
    )


def queue_length(conn: sa.Connection) -> int:
    """Leads waiting in the queue now."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(leads).where(leads.c.status == "queued")
        ).scalar_one()
    )


def duplicate_count(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> int:
    """Repeat intakes received in ``[since, until]`` (of leads first assigned in ``pool``,
    when given)."""
    query = sa.select(sa.func.count()).where(duplicate_intakes.c.received_at <= until)
    if since is not None:
        query = query.where(duplicate_intakes.c.received_at >= since)
    if pool is not None:
        first_id, first = _first_assignment(since)
        query = query.select_from(
            duplicate_intakes.join(
                first_id, first_id.c.lead_id == duplicate_intakes.c.lead_id
            ).join(first, first.c.id == first_id.c.decision_id)
        ).where(first.c.pool == pool)
    return int(conn.execute(query).scalar_one())


def assignment_counts(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> list[tuple[str | None, str, int]]:
    """``(pool, rep_id, n)``: decisions in ``[since, until]`` that gave a rep a lead (in
    ``pool`` only, when given)."""
    query = (
        sa.select(decisions.c.pool, decisions.c.rep_id, sa.func.count().label("n"))
        .where(decisions.c.rep_id.is_not(None), decisions.c.decided_at <= until)
        .group_by(decisions.c.pool, decisions.c.rep_id)
    )
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    if pool is not None:
        query = query.where(decisions.c.pool == pool)
    return [(row.pool, row.rep_id, int(row.n)) for row in conn.execute(query)]
