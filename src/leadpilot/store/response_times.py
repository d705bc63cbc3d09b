"""Reps' contact times as stored: history leads' ``time_to_contact_hours`` (as loaded) and
the hours from intake to first touch of leads routed by the service."""

from __future__ import annotations

import sqlalchemy as sa

from leadpilot.schema import Lead
from leadpilot.store.tables import leads
from leadpilot.store.types import as_utc

__all__ = ["contact_times"]

_HISTORY_HOURS = leads.c.fields[("attributes", "time_to_contact_hours")].as_float()


def contact_times(conn: sa.Connection, *, limit: int = 20_000) -> list[Lead]:
    """The most recent ``limit`` history leads with a rep and a contact time, then every
    routed lead touched since, each as a ``Lead`` whose attributes hold ``rep_id`` and
    ``time_to_contact_hours`` (what ``policy.response_times.response_hours_of`` reads)."""
    history = conn.execute(
        sa.select(leads.c.lead_id, leads.c.rep_id, _HISTORY_HOURS)
        .where(leads.c.status == "history", leads.c.rep_id.is_not(None))
        .where(_HISTORY_HOURS.is_not(None))
        .order_by(leads.c.created_at.desc())
        .limit(limit)
    ).all()
    touched = conn.execute(
        sa.select(leads.c.lead_id, leads.c.rep_id, leads.c.created_at, leads.c.first_touch_at)
        .where(leads.c.status != "history", leads.c.rep_id.is_not(None))
        .where(leads.c.first_touch_at.is_not(None))
        .order_by(leads.c.created_at.desc())
        .limit(limit)
    ).all()
    out = [
        Lead(lead_id, attributes={"rep_id": rep, "time_to_contact_hours": float(hours)})
        for lead_id, rep, hours in history
    ]
    for lead_id, rep, created, touched_at in touched:
        hours = (as_utc(touched_at) - as_utc(created)).total_seconds() / 3600.0
        out.append(Lead(lead_id, attributes={"rep_id": rep, "time_to_contact_hours": hours}))
    return out
