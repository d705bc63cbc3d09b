"""The reads behind the weekly review report (``service.weekly``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import alerts, decisions, leads

__all__ = ["alerts_in", "closed_with_scores"]


def closed_with_scores(conn: sa.Connection, *, since: datetime, until: datetime) -> list[Any]:
    """Leads whose outcome arrived in ``[since, until)`` (a meeting booked, or the deal
    closed) and whose live decision carried a model probability:
    ``lead_id``, ``rep_id``, ``p_convert``, ``won`` (a meeting or a won deal), ``closed_at``,
    ``model_version`` and the lead's ``fields``."""
    won = sa.or_(leads.c.meeting_at.is_not(None), leads.c.closed_won.is_(True))
    query = (
        sa.select(
            leads.c.lead_id,
            decisions.c.rep_id,
            decisions.c.p_convert,
            sa.case((won, True), else_=False).label("won"),
            leads.c.closed_at,
            decisions.c.model_version,
            leads.c.fields,
        )
        .select_from(
            leads.join(decisions, sa.and_(decisions.c.lead_id == leads.c.lead_id, decisions.c.live))
        )
        .where(
            sa.or_(
                sa.and_(leads.c.meeting_at >= since, leads.c.meeting_at < until),
                sa.and_(leads.c.closed_at >= since, leads.c.closed_at < until),
            ),
            decisions.c.p_convert.is_not(None),
        )
    )
    return list(conn.execute(query).all())


def alerts_in(conn: sa.Connection, *, since: datetime, until: datetime) -> list[Any]:
    """Alerts raised in ``[since, until)`` or still open: newest first."""
    query = (
        sa.select(
            alerts.c.kind, alerts.c.message, alerts.c.severity, alerts.c.status, alerts.c.created_at
        )
        .where(
            sa.or_(
                sa.and_(alerts.c.created_at >= since, alerts.c.created_at < until),
                alerts.c.status == "open",
            )
        )
        .order_by(alerts.c.created_at.desc())
        .limit(50)
    )
    return list(conn.execute(query).all())
