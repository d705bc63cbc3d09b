"""What the service worker has to do: one cheap read of whether any work is due."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from leadpilot.store.tables import leads, sla_timers, webhook_deliveries

__all__ = ["pending_work"]

_DUE_TIMER = (
    sa.select(sla_timers.c.id)
    .where(sla_timers.c.status == "pending", sla_timers.c.due_at <= sa.bindparam("now"))
    .limit(1)
)
_QUEUED_LEAD = sa.select(leads.c.lead_id).where(leads.c.status == "queued").limit(1)
_DUE_WEBHOOK = (
    sa.select(webhook_deliveries.c.id)
    .where(
        webhook_deliveries.c.status == "pending",
        webhook_deliveries.c.next_attempt_at <= sa.bindparam("now"),
    )
    .limit(1)
)
_PENDING_WORK = sa.select(
    sa.exists(_DUE_TIMER.scalar_subquery()),
    sa.exists(_QUEUED_LEAD.scalar_subquery()),
    sa.exists(_DUE_WEBHOOK.scalar_subquery()),
)


def pending_work(conn: sa.Connection, now: datetime) -> tuple[bool, bool, bool]:
    """Whether any timer is due by ``now``, any lead is queued, any webhook is due: one
    query, built once, needing no lock."""
    timers_due, queued, webhooks_due = conn.execute(_PENDING_WORK, {"now": now}).one()
    return bool(timers_due), bool(queued), bool(webhooks_due)
