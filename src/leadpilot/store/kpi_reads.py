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


def window_leads(
    conn: sa.Connection, *, since: datetime | None, until: datetime, pool: str | None = None
) -> list[Any]:
    """Leads received in ``[since, until]`` (history excluded): ``lead_id``, ``lane``,
    ``status``, ``reassignments``, ``first_touch_at``, ``meeting_at``, ``opportunity_at``,
    and of their first decision that gave them a rep (all ``None`` if none did):
    ``routed_at`` (its time), ``pool``, ``strategy``, ``reasons`` (its JSON text) and
    ``sla_deadline``.
    ``pool``: only leads whose first assignment was in that pool."""
    window = [leads.c.received_at <= until, leads.c.status != "history"]
    if since is not None:
        window.append(leads.c.received_at >= since)
    first_id, first = _first_assignment(since)
    if pool is not None:
        window.append(first.c.pool == pool)
    return list(
        conn.execute(
            sa.select(
                leads.c.lead_id,
                leads.c.lane,
                leads.c.status,
                leads.c.reassignments,
                leads.c.first_touch_at,
                leads.c.meeting_at,
                leads.c.opportunity_at,
                first.c.decided_at.label("routed_at"),
                first.c.pool,
                first.c.strategy,
                # As text: the KPIs look for two codes in it, and decoding 100,000 JSON
                # lists would take longer than the query.
                sa.cast(first.c.reasons, sa.Text).label("reasons"),
                first.c.sla_deadline,
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
