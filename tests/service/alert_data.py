"""Rows written straight into the store for the alert rule tests: leads with their live
decision, duplicate intakes and webhook deliveries, at chosen times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.store.engine import write_transaction
from leadpilot.store.tables import decisions, duplicate_intakes, leads, webhook_deliveries


def add_lead(
    engine: sa.Engine,
    lead_id: str,
    at: datetime,
    *,
    rep_id: str | None = "rep-01",
    pool: str = "all",
    lane: str = "standard",
    meeting: bool = False,
    reassignments: int = 0,
    sla_deadline: datetime | None = None,
    first_touch_at: datetime | None = None,
    model_version: str | None = None,
    grade: str | None = None,
    p_convert: float | None = None,
    won: bool | None = None,
    fields: dict[str, Any] | None = None,
) -> None:
    """A lead received at ``at`` and its one live intake decision, made at ``at``."""
    with write_transaction(engine) as conn:
        insert_lead(conn, lead_id, at, rep_id=rep_id, pool=pool, lane=lane, meeting=meeting,
                    reassignments=reassignments, sla_deadline=sla_deadline,
                    first_touch_at=first_touch_at, model_version=model_version, grade=grade,
                    p_convert=p_convert, won=won, fields=fields)  # fmt: skip


def add_leads(engine: sa.Engine, leads_at: list[tuple[str, datetime]], **values: Any) -> None:
    """Many leads as ``add_lead`` makes them (same ``values``), in one transaction."""
    with write_transaction(engine) as conn:
        for lead_id, at in leads_at:
            insert_lead(conn, lead_id, at, **values)


def insert_lead(
    conn: sa.Connection,
    lead_id: str,
    at: datetime,
    *,
    rep_id: str | None = "rep-01",
    pool: str = "all",
    lane: str = "standard",
    meeting: bool = False,
    reassignments: int = 0,
    sla_deadline: datetime | None = None,
    first_touch_at: datetime | None = None,
    model_version: str | None = None,
    grade: str | None = None,
    p_convert: float | None = None,
    won: bool | None = None,
    fields: dict[str, Any] | None = None,
) -> None:
    """``add_lead`` on an open write connection."""
    conn.execute(
        leads.insert().values(
            lead_id=lead_id,
            fields=fields or {"lead_id": lead_id},
            created_at=at,
            received_at=at,
            status="routed" if rep_id else "queued",
            rep_id=rep_id,
            lane=lane,
            reassignments=reassignments,
            first_touch_at=first_touch_at,
            meeting_at=at if meeting else None,
            closed_won=won,
        )
    )
    conn.execute(
        decisions.insert().values(
            lead_id=lead_id,
            seq=1,
            live=True,
            trigger="intake",
            rep_id=rep_id,
            pool=pool,
            lane=lane,
            strategy="round_robin",
            reasons=[],
            candidates=[],
            exclusions={},
            decided_at=at,
            sla_deadline=sla_deadline,
            mode="live",
            model_version=model_version,
            grade=grade,
            p_convert=p_convert,
        )
    )


def add_duplicate(engine: sa.Engine, lead_id: str, at: datetime) -> None:
    """A repeat intake of ``lead_id`` at ``at``."""
    with write_transaction(engine) as conn:
        conn.execute(
            duplicate_intakes.insert().values(
                lead_id=lead_id, matched_on="email", payload={}, received_at=at
            )
        )


def add_delivery(
    engine: sa.Engine, url: str, at: datetime, *, status: str, attempts: int, error: str
) -> int:
    """A webhook delivery whose last attempt was at ``at``."""
    with write_transaction(engine) as conn:
        delivery_id: int = conn.execute(
            webhook_deliveries.insert()
            .values(
                url=url,
                payload={"text": "x"},
                status=status,
                attempts=attempts,
                next_attempt_at=at,
                last_error=error,
                created_at=at,
            )
            .returning(webhook_deliveries.c.id)
        ).scalar_one()
    return delivery_id


def set_lead(engine: sa.Engine, lead_id: str, **values: Any) -> None:
    """Change stored columns of a lead."""
    with write_transaction(engine) as conn:
        conn.execute(leads.update().where(leads.c.lead_id == lead_id).values(**values))
