"""Reps' feedback on fit (``fit_feedback``): recording it and reading it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import decisions, fit_feedback, leads

__all__ = ["feedback_rows", "record_feedback", "was_assigned"]


def was_assigned(conn: sa.Connection, lead_id: str, rep_id: str) -> bool:
    """Whether any decision of the lead gave it to ``rep_id``."""
    query = sa.select(decisions.c.id).where(
        decisions.c.lead_id == lead_id, decisions.c.rep_id == rep_id
    )
    return conn.execute(query.limit(1)).first() is not None


def record_feedback(
    conn: sa.Connection,
    *,
    event_id: str,
    lead_id: str,
    rep_id: str,
    fit: str,
    reason: str | None,
    occurred_at: datetime,
) -> dict[str, Any]:
    """Store one rep's feedback on a lead, with how the rep got it (the lead's live
    decision's strategy and pool); returns the stored row's fields."""
    live = conn.execute(
        sa.select(decisions.c.strategy, decisions.c.pool).where(
            decisions.c.lead_id == lead_id, decisions.c.live
        )
    ).first()
    row = {
        "event_id": event_id,
        "lead_id": lead_id,
        "rep_id": rep_id,
        "fit": fit,
        "reason": reason,
        "strategy": live.strategy if live is not None else None,
        "pool": live.pool if live is not None else None,
        "occurred_at": occurred_at,
    }
    conn.execute(fit_feedback.insert().values(**row))
    return row


def feedback_rows(
    conn: sa.Connection, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every feedback row in ``[since, until]`` with its lead's stored fields (for the
    segment), oldest first."""
    query = sa.select(
        fit_feedback.c.lead_id,
        fit_feedback.c.rep_id,
        fit_feedback.c.fit,
        fit_feedback.c.reason,
        fit_feedback.c.strategy,
        fit_feedback.c.pool,
        fit_feedback.c.occurred_at,
        leads.c.fields,
    ).join(leads, leads.c.lead_id == fit_feedback.c.lead_id)
    if since is not None:
        query = query.where(fit_feedback.c.occurred_at >= since)
    if until is not None:
        query = query.where(fit_feedback.c.occurred_at <= until)
    return [dict(r._mapping) for r in conn.execute(query.order_by(fit_feedback.c.id))]
