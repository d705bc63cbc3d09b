"""Alerts (failed notifications, breaches nobody could take) and webhook deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadpilot.store.tables import alerts, webhook_deliveries
from leadpilot.store.types import utcnow

__all__ = [
    "claim_due_deliveries",
    "enqueue_webhook",
    "lease_deliveries",
    "list_alerts",
    "mark_delivered",
    "mark_failed_attempt",
    "record_alert",
    "record_alert_once",
]


def record_alert(
    conn: sa.Connection,
    kind: str,
    message: str,
    *,
    lead_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store an alert for operators (shown by the API and the dashboard)."""
    conn.execute(
        alerts.insert().values(
            kind=kind, message=message, lead_id=lead_id, details=details or {}, created_at=utcnow()
        )
    )


def list_alerts(conn: sa.Connection, limit: int = 100) -> list[Any]:
    """The newest alerts first."""
    return list(conn.execute(sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)).all())


def enqueue_webhook(
    conn: sa.Connection, url: str, payload: dict[str, Any], *, now: datetime | None = None
) -> None:
    """Queue a webhook delivery due at ``now`` (sent by the worker, retried with backoff)."""
    now = now or utcnow()
    conn.execute(
        webhook_deliveries.insert().values(
            url=url,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def claim_due_deliveries(conn: sa.Connection, now: datetime, limit: int = 20) -> list[Any]:
    """Pending deliveries due by ``now``; on PostgreSQL rows locked by another replica are
    skipped (``FOR UPDATE SKIP LOCKED``) so each delivery is attempted by one worker."""
    query = (
        sa.select(webhook_deliveries)
        .where(
            webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now
        )
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).all())


def lease_deliveries(conn: sa.Connection, delivery_ids: list[int], until: datetime) -> None:
    """Hold claimed deliveries until ``until`` (their next attempt), so that no other worker
    sends them while this one does, without a lock held during HTTP."""
    if delivery_ids:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id.in_(delivery_ids))
            .values(next_attempt_at=until)
        )


def mark_delivered(conn: sa.Connection, delivery_id: int) -> None:
    """Record a successful delivery."""
    conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status="delivered", delivered_at=utcnow(), attempts=webhook_deliveries.c.attempts + 1
        )
    )


def mark_failed_attempt(
    conn: sa.Connection,
    row: Any,
    error: str,
    *,
    max_attempts: int,
    backoff_seconds: float,
    now: datetime,
) -> bool:
    """Record a failed attempt: schedule the next with exponential backoff, or give up after
    ``max_attempts`` and raise an alert. Returns True when it gave up."""
    attempts = row.attempts + 1
    gave_up = attempts >= max_attempts
    conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == row.id)
        .values(
            attempts=attempts,
            last_error=error[:2000],
            status="failed" if gave_up else "pending",
            next_attempt_at=now + timedelta(seconds=backoff_seconds * 2 ** (attempts - 1)),
        )
    )
    if gave_up:
        record_alert(
            conn,
            "webhook_failed",
            f"webhook to {row.url} failed {attempts} times: {error[:300]}",
            lead_id=(row.payload or {}).get("lead_id"),
            details={"delivery_id": row.id, "url": row.url},
        )
    return gave_up


def record_alert_once(
    conn: sa.Connection, kind: str, message: str, *, details: dict[str, Any] | None = None
) -> None:
    """``record_alert`` unless an alert of ``kind`` with this exact message exists (replicas
    that find the same problem raise it once)."""
    seen = conn.execute(
        sa.select(alerts.c.id).where(alerts.c.kind == kind, alerts.c.message == message).limit(1)
    ).first()
    if seen is None:
        record_alert(conn, kind, message, details=details)
