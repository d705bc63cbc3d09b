"""The reads behind the routing KPIs (``service.kpis``), over a window of time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, duplicate_intakes, leads

__all__ = ["assignment_counts", "duplicate_count", "window_leads"]


def window_leads(conn: sa.Connection, *, since: datetime | None, until: datetime) -> list[Any]:
    """Leads received in ``[since, until]`` (history excluded): ``lead_id``, ``lane``,
    ``reassignments``, ``first_touch_at``, ``meeting_at`` and ``routed_at``, the time of
    their first decision that gave them a rep (``None`` if none did)."""
    window = [leads.c.received_at <= until, leads.c.status != "history"]
    if since is not None:
        window.append(leads.c.received_at >= since)
    first_decision = (
        sa.select(decisions.c.lead_id, sa.func.min(decisions.c.decided_at).label("routed_at"))
        .where(decisions.c.rep_id.is_not(None))
        .group_by(decisions.c.lead_id)
        .subquery()
    )
    return list(
        conn.execute(
            sa.select(
                leads.c.lead_id,
                leads.c.lane,
                leads.c.reassignments,
                leads.c.first_touch_at,
                leads.c.meeting_at,
                first_decision.c.routed_at,
            )
            .select_from(
                leads.outerjoin(first_decision, first_decision.c.lead_id == leads.c.lead_id)
            )
            .where(*window)
        ).all()
    )


def duplicate_count(conn: sa.Connection, *, since: datetime | None, until: datetime) -> int:
    """Repeat intakes received in ``[since, until]``."""
    query = sa.select(sa.func.count()).where(duplicate_intakes.c.received_at <= until)
    if since is not None:
        query = query.where(duplicate_intakes.c.received_at >= since)
    return int(conn.execute(query).scalar_one())


def assignment_counts(
    conn: sa.Connection, *, since: datetime | None, until: datetime
) -> list[tuple[str | None, str, int]]:
    """``(pool, rep_id, n)``: decisions in ``[since, until]`` that gave a rep a lead."""
    query = (
        sa.select(decisions.c.pool, decisions.c.rep_id, sa.func.count().label("n"))
        .where(decisions.c.rep_id.is_not(None), decisions.c.decided_at <= until)
        .group_by(decisions.c.pool, decisions.c.rep_id)
    )
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    return [(row.pool, row.rep_id, int(row.n)) for row in conn.execute(query)]
