"""Alerts and webhook deliveries.

An alert has a condition key: at most one alert per key is open at a time (the partial
unique index ``uq_alerts_open_condition``), so a condition found again and again is one
alert. Rule alerts (``source='rule'``) are raised and resolved by the worker's alert rules
(``service.alerting``); event alerts (``source='event'``) are raised once by a write path (a
breach nobody could take, a notification that gave up) and resolved when acknowledged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadpilot.store.tables import alerts, webhook_deliveries
from leadpilot.store.types import utcnow

__all__ = [
    "acknowledge_alert",
    "claim_due_deliveries",
    "delivery_failures",
    "enqueue_webhook",
    "get_alert",
    "lease_deliveries",
    "list_alerts",
    "lock_alerts",
    "mark_delivered",
    "mark_failed_attempt",
    "open_alert",
    "open_rule_alerts",
    "record_alert",
    "record_alert_once",
    "redact_url",
    "resolve_alert",
    "touch_alert",
]

# Arbitrary, fixed key of the advisory lock that serialises alert upkeep across replicas.
_ALERTS_LOCK_KEY = 7_311_225_340_196


def redact_url(url: str) -> str:
    """``scheme://host`` of a URL: a Slack or CRM webhook URL carries its secret in the path
    or query, so alerts and logs name the host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" if parts.scheme else "(invalid URL)"


def _open_id(conn: sa.Connection, key: str) -> int | None:
    found: int | None = conn.execute(
        sa.select(alerts.c.id).where(alerts.c.condition_key == key, alerts.c.status == "open")
    ).scalar()
    return found


def record_alert(
    conn: sa.Connection,
    kind: str,
    message: str,
    *,
    lead_id: str | None = None,
    details: dict[str, Any] | None = None,
    key: str | None = None,
    now: datetime,
) -> bool:
    """Store an event alert for operators (shown by the API and the dashboard), unless an
    alert with the same condition ``key`` is open. True if it was stored. ``now`` is the
    caller's clock (the service's, which tests and the demo set), never the wall clock."""
    if key is not None and _open_id(conn, key) is not None:
        return False
    return _insert_open(
        conn,
        kind=kind,
        message=message,
        lead_id=lead_id,
        details=details or {},
        created_at=now,
        last_seen_at=now,
        condition_key=key,
        source="event",
        status="open",
    )


def _insert_open(conn: sa.Connection, **values: Any) -> bool:
    """Insert an open alert unless one with its condition key is open (True if inserted).
    ``ON CONFLICT DO NOTHING`` on the one-open-alert-per-condition index, not a check then an
    insert: intakes of different pools run side by side (per-pool routing locks), and two of
    them finding one condition must not fail the second on that index."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(alerts)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[alerts.c.condition_key], index_where=alerts.c.status == "open"
        )
    )
    return bool(conn.execute(stmt).rowcount)


def open_alert(
    conn: sa.Connection,
    *,
    key: str,
    kind: str,
    severity: str,
    message: str,
    details: dict[str, Any],
    lead_id: str | None,
    now: datetime,
) -> int:
    """Open a rule alert for condition ``key`` (the caller checked none is open)."""
    alert_id: int = conn.execute(
        alerts.insert()
        .values(
            kind=kind,
            message=message,
            lead_id=lead_id,
            details=details,
            created_at=now,
            last_seen_at=now,
            condition_key=key,
            source="rule",
            severity=severity,
            status="open",
        )
        .returning(alerts.c.id)
    ).scalar_one()
    return alert_id


def touch_alert(
    conn: sa.Connection, alert_id: int, *, message: str, details: dict[str, Any], now: datetime
) -> None:
    """The condition of an open alert still holds: refresh its text, figures and time."""
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id)
        .values(message=message, details=details, last_seen_at=now)
    )


def resolve_alert(conn: sa.Connection, alert_id: int, now: datetime) -> None:
    """Mark an open alert resolved (its condition cleared)."""
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id, alerts.c.status == "open")
        .values(status="resolved", resolved_at=now)
    )


def open_rule_alerts(conn: sa.Connection) -> list[Any]:
    """Every open alert raised by a rule."""
    return list(
        conn.execute(
            sa.select(alerts).where(alerts.c.status == "open", alerts.c.source == "rule")
        ).all()
    )


def lock_alerts(conn: sa.Connection) -> None:
    """On PostgreSQL, serialise alert upkeep of several replicas' workers in this
    transaction (SQLite's write transaction already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ALERTS_LOCK_KEY)))


def list_alerts(conn: sa.Connection, limit: int = 100, status: str | None = None) -> list[Any]:
    """The newest alerts first; ``status`` ``open`` or ``resolved`` filters."""
    query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(alerts.c.status == status)
    return list(conn.execute(query).all())


def get_alert(conn: sa.Connection, alert_id: int) -> Any:
    """One alert, or ``None``."""
    return conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()


def acknowledge_alert(conn: sa.Connection, alert_id: int, *, by: str, now: datetime) -> Any:
    """Record that ``by`` has seen the alert; an event alert is resolved by it (a rule
    alert stays open until its condition clears). Returns the row, or ``None``."""
    row = get_alert(conn, alert_id)
    if row is None:
        return None
    values: dict[str, Any] = {"acknowledged_at": now, "acknowledged_by": by}
    if row.source == "event" and row.status == "open":
        values.update(status="resolved", resolved_at=now)
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
    return get_alert(conn, alert_id)


def delivery_failures(conn: sa.Connection, *, since: datetime, min_attempts: int) -> list[Any]:
    """Deliveries that gave up since ``since``, or are pending after ``min_attempts`` or more
    failed attempts: ``url``, ``status``, ``attempts``, ``last_error``."""
    query = sa.select(
        webhook_deliveries.c.url,
        webhook_deliveries.c.status,
        webhook_deliveries.c.attempts,
        webhook_deliveries.c.last_error,
    ).where(
        sa.or_(
            sa.and_(
                webhook_deliveries.c.status == "failed",
                webhook_deliveries.c.next_attempt_at >= since,
            ),
            sa.and_(
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.attempts >= min_attempts,
            ),
        )
    )
    return list(conn.execute(query).all())


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
    host = redact_url(row.url)  # the full URL may hold a secret: never store it in errors
    error = error.replace(row.url, host)
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
            f"webhook to {host} failed {attempts} times: {error[:300]}",
            lead_id=(row.payload or {}).get("lead_id"),
            details={"delivery_id": row.id, "host": host},
            key=f"webhook_failed:{row.id}",
            now=now,
        )
    return gave_up


def record_alert_once(
    conn: sa.Connection,
    kind: str,
    message: str,
    *,
    key: str,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Open a rule-owned alert for condition ``key`` now, unless one is open (replicas that
    find the same problem raise it once); the rule of ``kind`` resolves it when the condition
    clears."""
    if _open_id(conn, key) is None:
        _insert_open(
            conn,
            kind=kind,
            message=message,
            details=details or {},
            created_at=now,
            last_seen_at=now,
            condition_key=key,
            source="rule",
            status="open",
        )
