"""SLA and acceptance timers: a due queue in the database, polled by the service worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.engine import LockedConn
from leadpilot.store.tables import sla_timers
from leadpilot.store.types import utcnow

__all__ = ["cancel_timers", "claim_due_timers", "finish_timer", "timer_row"]

# Timers are started with their decision, by ``store.record.record_decision``.


def timer_row(*, lead_id: str, rep_id: str, kind: str, due_at: datetime) -> dict[str, Any]:
    """The ``sla_timers`` row of a new pending timer, but its ``decision_id``."""
    return {
        "lead_id": lead_id,
        "rep_id": rep_id,
        "kind": kind,
        "due_at": due_at,
        "status": "pending",
        "created_at": utcnow(),
    }


def cancel_timers(conn: LockedConn, lead_id: str, kinds: tuple[str, ...]) -> int:
    """Stop the lead's pending timers of these kinds; returns how many were stopped."""
    return int(
        conn.execute(
            sla_timers.update()
            .where(
                sla_timers.c.lead_id == lead_id,
                sla_timers.c.status == "pending",
                sla_timers.c.kind.in_(kinds),
            )
            .values(status="cancelled", fired_at=utcnow())
        ).rowcount
    )


def claim_due_timers(conn: LockedConn, now: datetime, limit: int = 20) -> list[Any]:
    """Pending timers due by ``now``, oldest first. On PostgreSQL they are locked with
    ``FOR UPDATE SKIP LOCKED`` so replicas polling at once never act on the same timer."""
    query = (
        sa.select(sla_timers)
        .where(sla_timers.c.status == "pending", sla_timers.c.due_at <= now)
        .order_by(sla_timers.c.due_at, sla_timers.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).all())


def finish_timer(conn: LockedConn, timer_id: int, now: datetime) -> None:
    """Mark a fired timer done."""
    conn.execute(
        sla_timers.update().where(sla_timers.c.id == timer_id).values(status="done", fired_at=now)
    )
