"""The read behind ``leadpilot retrain``: every lead created since a time, with its owner,
milestones and the live decision that placed it (strategy, propensity, model version)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, leads

__all__ = ["has_leads_between", "leads_for_training"]


def has_leads_between(conn: sa.Connection, *, since: datetime, until: datetime) -> bool:
    """Whether any lead was created in ``[since, until)`` (a retrain has something to learn
    from)."""
    query = (
        sa.select(leads.c.lead_id)
        .where(leads.c.created_at >= since, leads.c.created_at < until)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def leads_for_training(conn: sa.Connection, *, since: datetime) -> list[Any]:
    """Rows of ``leads`` created at or after ``since`` (history and routed alike), oldest
    first, with ``d_strategy``, ``d_propensity`` and ``d_model_version`` of their live
    decision (``None`` for history leads)."""
    live = sa.and_(decisions.c.lead_id == leads.c.lead_id, decisions.c.live)
    query = (
        sa.select(
            leads.c.lead_id,
            leads.c.fields,
            leads.c.created_at,
            leads.c.received_at,
            leads.c.status,
            leads.c.rep_id,
            leads.c.first_touch_at,
            leads.c.meeting_at,
            leads.c.opportunity_at,
            leads.c.closed_at,
            leads.c.closed_won,
            decisions.c.strategy.label("d_strategy"),
            decisions.c.propensity.label("d_propensity"),
            decisions.c.model_version.label("d_model_version"),
        )
        .select_from(leads.outerjoin(decisions, live))
        .where(leads.c.created_at >= since)
        .order_by(leads.c.created_at, leads.c.lead_id)
    )
    return list(conn.execute(query).all())
