"""The event log: lead and rep events as received, each applied once (by ``event_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import events

__all__ = ["decliners", "find_event", "record_event"]


def find_event(conn: sa.Connection, event_id: str) -> Any:
    """The stored event with ``event_id``, or ``None``."""
    return conn.execute(sa.select(events).where(events.c.event_id == event_id)).first()


def record_event(
    conn: sa.Connection,
    *,
    event_id: str,
    type: str,
    lead_id: str | None,
    rep_id: str | None,
    occurred_at: datetime,
    received_at: datetime,
    payload: dict[str, Any],
    outcome: dict[str, Any],
) -> None:
    """Store an applied event with its outcome (a repeat of ``event_id`` returns it)."""
    conn.execute(
        events.insert().values(
            event_id=event_id,
            type=type,
            lead_id=lead_id,
            rep_id=rep_id,
            occurred_at=occurred_at,
            received_at=received_at,
            payload=payload,
            outcome=outcome,
        )
    )


def decliners(conn: sa.Connection, lead_id: str) -> set[str]:
    """The reps who declined the lead (never offered it again)."""
    rows = conn.execute(
        sa.select(events.c.rep_id).where(
            events.c.lead_id == lead_id,
            events.c.type == "declined",
            events.c.rep_id.is_not(None),
        )
    ).scalars()
    return {r for r in rows if r}
