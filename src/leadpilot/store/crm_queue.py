"""SQL of the CRM inbox (webhook events waiting to be routed), the owner write-back outbox
and the named cursors. Rows are claimed with a lease (and ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and committed before any HTTP call, so no lock is held while a CRM answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from leadpilot.store.alerts import record_alert
from leadpilot.store.crm_tables import crm_cursors, crm_inbox, crm_outbox
from leadpilot.store.tables import decisions, leads

__all__ = [
    "add_inbox_event",
    "assignments_after",
    "claim_inbox",
    "claim_writes",
    "enqueue_write",
    "finish_inbox",
    "get_cursor",
    "inbox_failed",
    "last_decision_id",
    "owner_decisions_after",
    "set_cursor",
    "write_dead",
    "write_retry",
    "write_sent",
]


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def add_inbox_event(
    conn: sa.Connection,
    *,
    crm: str,
    event_id: str,
    kind: str,
    record_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Store one webhook event unless its id was seen before; True if it is new."""
    stmt = (
        _insert(conn, crm_inbox)
        .values(
            crm=crm,
            event_id=event_id,
            kind=kind,
            record_id=record_id,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["crm", "event_id"])
        .returning(crm_inbox.c.id)
    )
    # RETURNING, not rowcount: psycopg reports a row for a skipped conflicting insert.
    return conn.execute(stmt).first() is not None


def _claim(
    conn: sa.Connection, table: sa.Table, due: list[Any], limit: int, lease: dict[str, Any]
) -> list[Any]:
    """The oldest ``limit`` rows matching ``due``, leased by writing ``lease`` on them.

    On PostgreSQL the rows are locked with SKIP LOCKED, so two workers never take the same
    row; SQLite serialises writers on its own."""
    query = sa.select(table).where(*due).order_by(table.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(conn.execute(query).all())
    if rows:
        conn.execute(table.update().where(table.c.id.in_([r.id for r in rows])).values(**lease))
    return rows


def claim_inbox(conn: sa.Connection, now: datetime, *, lease: timedelta, limit: int) -> list[Any]:
    """Pending inbox events due by ``now``, leased until ``now + lease`` (an event whose
    worker died is taken up again when the lease runs out)."""
    due = [crm_inbox.c.status == "pending", crm_inbox.c.next_attempt_at <= now]
    return _claim(conn, crm_inbox, due, limit, {"next_attempt_at": now + lease})


def finish_inbox(
    conn: sa.Connection, event_row_id: int, *, lead_id: str | None, now: datetime
) -> None:
    """The event was routed (or needed nothing): done."""
    conn.execute(
        crm_inbox.update()
        .where(crm_inbox.c.id == event_row_id)
        .values(status="done", lead_id=lead_id, processed_at=now, attempts=crm_inbox.c.attempts + 1)
    )


def inbox_failed(
    conn: sa.Connection, row: Any, error: str, *, next_at: datetime | None, now: datetime
) -> None:
    """A failed attempt: retry at ``next_at``, or (``None``) give up with an alert."""
    attempts = row.attempts + 1
    conn.execute(
        crm_inbox.update()
        .where(crm_inbox.c.id == row.id)
        .values(
            attempts=attempts,
            last_error=error[:2000],
            status="pending" if next_at else "failed",
            next_attempt_at=next_at or now,
            processed_at=None if next_at else now,
        )
    )
    if next_at is None:
        record_alert(
            conn,
            "crm_intake_failed",
            f"{row.crm} event {row.event_id} (record {row.record_id}) could not be routed "
            f"after {attempts} attempts: {error[:300]}",
            details={"crm": row.crm, "event_id": row.event_id, "record_id": row.record_id},
            key=f"crm_intake_failed:{row.crm}:{row.event_id}",
            now=now,
        )


def get_cursor(conn: sa.Connection, name: str) -> str | None:
    """A stored cursor's value, or ``None``."""
    value: str | None = conn.execute(
        sa.select(crm_cursors.c.value).where(crm_cursors.c.name == name)
    ).scalar()
    return value


def set_cursor(conn: sa.Connection, name: str, value: str, now: datetime) -> None:
    """Store a cursor's value."""
    stmt = _insert(conn, crm_cursors).values(name=name, value=value, updated_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
    )


def last_decision_id(conn: sa.Connection) -> int:
    """The newest decision's id (0 when none)."""
    return int(conn.execute(sa.select(sa.func.max(decisions.c.id))).scalar() or 0)


def assignments_after(conn: sa.Connection, after_id: int, limit: int) -> list[Any]:
    """Decisions that gave a lead an owner, newer than ``after_id``, oldest first, with the
    lead's company and CRM id: what a new-lead notice says."""
    query = (
        sa.select(
            decisions.c.id,
            decisions.c.lead_id,
            decisions.c.rep_id,
            decisions.c.pool,
            decisions.c.trigger,
            decisions.c.reasons,
            decisions.c.sla_deadline,
            leads.c.company,
            leads.c.external_id,
        )
        .join(leads, leads.c.lead_id == decisions.c.lead_id)
        .where(decisions.c.id > after_id, decisions.c.rep_id.is_not(None))
        .order_by(decisions.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def owner_decisions_after(conn: sa.Connection, after_id: int, limit: int) -> list[Any]:
    """Decisions with an owner, newer than ``after_id``, of leads that came from a CRM
    (``external_id`` ``hubspot:...`` or ``salesforce:...``): ``id, lead_id, rep_id,
    external_id``, oldest first."""
    query = (
        sa.select(decisions.c.id, decisions.c.lead_id, decisions.c.rep_id, leads.c.external_id)
        .join(leads, leads.c.lead_id == decisions.c.lead_id)
        .where(
            decisions.c.id > after_id,
            decisions.c.rep_id.is_not(None),
            sa.or_(leads.c.external_id.like("hubspot:%"), leads.c.external_id.like("salesforce:%")),
        )
        .order_by(decisions.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def enqueue_write(
    conn: sa.Connection,
    *,
    crm: str,
    record_id: str,
    lead_id: str,
    decision_id: int,
    rep_id: str,
    owner_id: str | None,
    now: datetime,
) -> int:
    """Queue setting the record's owner; an unsent earlier write to the same record is
    superseded (only the latest decision reaches the CRM). Returns how many it replaced."""
    replaced = conn.execute(
        crm_outbox.update()
        .where(
            crm_outbox.c.crm == crm,
            crm_outbox.c.record_id == record_id,
            crm_outbox.c.status == "pending",
        )
        .values(status="superseded", last_error=f"superseded by decision {decision_id}")
    ).rowcount
    conn.execute(
        crm_outbox.insert().values(
            crm=crm,
            record_id=record_id,
            lead_id=lead_id,
            decision_id=decision_id,
            rep_id=rep_id,
            owner_id=owner_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return int(replaced)


def claim_writes(conn: sa.Connection, now: datetime, *, lease: timedelta, limit: int) -> list[Any]:
    """Pending writes due by ``now`` whose lease (if any) ran out, leased to this worker."""
    due = [
        crm_outbox.c.status == "pending",
        crm_outbox.c.next_attempt_at <= now,
        sa.or_(crm_outbox.c.lease_until.is_(None), crm_outbox.c.lease_until <= now),
    ]
    return _claim(conn, crm_outbox, due, limit, {"lease_until": now + lease})


def write_sent(conn: sa.Connection, row_id: int, now: datetime) -> None:
    """The CRM accepted the write."""
    conn.execute(
        crm_outbox.update()
        .where(crm_outbox.c.id == row_id)
        .values(
            status=sa.case((crm_outbox.c.status == "pending", "sent"), else_=crm_outbox.c.status),
            sent_at=now,
            lease_until=None,
            attempts=crm_outbox.c.attempts + 1,
        )
    )


def write_retry(conn: sa.Connection, row: Any, error: str, next_at: datetime) -> None:
    """A failed attempt, to be tried again at ``next_at``."""
    conn.execute(
        crm_outbox.update()
        .where(crm_outbox.c.id == row.id)
        .values(
            attempts=crm_outbox.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=next_at,
            lease_until=None,
        )
    )


def write_dead(conn: sa.Connection, row: Any, error: str, now: datetime) -> None:
    """Give up on a write (dead letter) and raise an alert for the operators."""
    conn.execute(
        crm_outbox.update()
        .where(crm_outbox.c.id == row.id)
        .values(
            status="dead",
            attempts=crm_outbox.c.attempts + 1,
            last_error=error[:2000],
            lease_until=None,
        )
    )
    record_alert(
        conn,
        "crm_writeback_dead",
        (
            f"e-mailing rep {row.rep_id} about lead {row.lead_id}"
            if row.crm == "email"
            else f"setting the owner of {row.crm} record {row.record_id} (lead {row.lead_id}) "
            f"to rep {row.rep_id}"
        )
        + f" failed after {row.attempts + 1} attempts: {error[:300]}",
        lead_id=row.lead_id,
        details={"crm": row.crm, "record_id": row.record_id, "outbox_id": row.id},
        key=f"crm_writeback_dead:{row.id}",
        now=now,
    )
