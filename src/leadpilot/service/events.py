"""Lead and rep events (first touch, accept, decline, milestones...), idempotent by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.errors import DataValidationError
from leadpilot.schema import Candidate, Decision
from leadpilot.service.core import RoutingService, require
from leadpilot.service.errors import NotFoundError
from leadpilot.service.schemas import EventCreate, EventPublic
from leadpilot.store import timers
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.leads import get_lead_row
from leadpilot.store.reps import add_out_of_office, get_rep
from leadpilot.store.tables import events, leads
from leadpilot.store.types import as_utc

__all__ = ["handle_event"]

_MILESTONES = {
    "meeting_booked": "meeting_at",
    "opportunity_created": "opportunity_at",
}


def handle_event(service: RoutingService, body: EventCreate) -> tuple[int, EventPublic]:
    """Apply one event; a repeated ``event_id`` returns the first outcome (200, duplicate)."""
    now = service.clock()
    occurred = as_utc(body.occurred_at) if body.occurred_at else now
    with service.with_lock() as conn:
        seen = conn.execute(sa.select(events).where(events.c.event_id == body.event_id)).first()
        if seen is not None:
            return 200, EventPublic(
                event_id=seen.event_id,
                type=seen.type,
                duplicate=True,
                lead_id=seen.lead_id,
                outcome=seen.outcome,
            )
        outcome = _apply(service, conn, body, occurred, now)
        conn.execute(
            events.insert().values(
                event_id=body.event_id,
                type=body.type,
                lead_id=body.lead_id,
                rep_id=body.rep_id or outcome.get("acting_rep"),
                occurred_at=occurred,
                received_at=now,
                payload=body.model_dump(mode="json"),
                outcome=outcome,
            )
        )
    return 201, EventPublic(
        event_id=body.event_id,
        type=body.type,
        duplicate=False,
        lead_id=body.lead_id,
        outcome=outcome,
    )


def _apply(
    service: RoutingService,
    conn: sa.Connection,
    body: EventCreate,
    occurred: datetime,
    now: datetime,
) -> dict[str, Any]:
    if body.type == "rep_out_of_office":
        rep_id = require(body.rep_id, "rep_id", body.type)
        start = as_utc(require(body.starts_at, "starts_at", body.type))
        end = as_utc(require(body.ends_at, "ends_at", body.type))
        if end <= start:
            raise DataValidationError(
                "ends_at must be after starts_at",
                hint="swap or fix the two times",
                details={"field": "ends_at"},
            )
        if get_rep(conn, rep_id) is None:
            raise NotFoundError(f"no rep {rep_id!r}", details={"field": "rep_id"})
        add_out_of_office(conn, rep_id, start, end, body.reason)
        return {"rep_id": rep_id, "out_of_office": [start.isoformat(), end.isoformat()]}

    lead_id = require(body.lead_id, "lead_id", body.type)
    row = get_lead_row(conn, lead_id, for_update=True)
    if row is None:
        raise NotFoundError(
            f"no lead {lead_id!r}",
            hint="POST the lead to /v1/leads first",
            details={"field": "lead_id"},
        )
    where = leads.c.lead_id == lead_id

    if body.type in {"first_touch", "accepted"}:
        column = "first_touch_at" if body.type == "first_touch" else "accepted_at"
        stopped = timers.cancel_timers(conn, lead_id, ("sla", "acceptance"))
        if getattr(row, column) is None:
            values: dict[str, Any] = {column: occurred}
            if body.type == "accepted" and row.first_touch_at is None:
                values = {column: occurred}
            conn.execute(leads.update().where(where).values(**values))
        return {"timers_stopped": stopped, "rep_id": row.rep_id, "acting_rep": row.rep_id}

    if body.type in _MILESTONES:
        if getattr(row, _MILESTONES[body.type]) is None:
            conn.execute(leads.update().where(where).values({_MILESTONES[body.type]: occurred}))
        return {"rep_id": row.rep_id}

    if body.type in {"closed_won", "closed_lost"}:
        if row.status == "closed":
            return {"already_closed": True}
        if row.status == "routed" and row.rep_id:
            DbRoutingState(conn).release(row.rep_id)
        timers.cancel_timers(conn, lead_id, ("sla", "acceptance"))
        conn.execute(
            leads.update()
            .where(where)
            .values(status="closed", closed_at=occurred, closed_won=body.type == "closed_won")
        )
        return {"rep_id": row.rep_id, "closed_won": body.type == "closed_won"}

    if body.type == "declined":
        decliner = body.rep_id or row.rep_id
        if row.status != "routed" or decliner != row.rep_id:
            raise DataValidationError(
                f"lead {lead_id} is not currently offered to {decliner!r} "
                f"(status {row.status}, owner {row.rep_id!r})",
                hint="only the current owner can decline a lead",
                details={"field": "rep_id"},
            )
        outcome = service.reassign(
            conn,
            lead_id,
            reason="DECLINED_REASSIGN",
            now=now,
            also_exclude=frozenset({decliner}),
        )
        return {**outcome, "acting_rep": decliner}

    # reassigned: the CRM (or a manager) moved the lead to another rep.
    new_rep = require(body.rep_id, "rep_id", body.type)
    rep = get_rep(conn, new_rep)
    if rep is None:
        raise NotFoundError(f"no rep {new_rep!r}", details={"field": "rep_id"})
    decision = Decision(
        lead_id=lead_id,
        rep_id=new_rep,
        pool=rep.pool,
        lane=row.lane,
        strategy="manual",
        reasons=("MANUAL_REASSIGN",) + ((body.reason,) if body.reason else ()),
        decided_at=now,
        candidates=(Candidate(rep_id=new_rep),),
        propensity=None,
    )
    service.apply_manual(conn, row, decision, now=now)
    return {"from_rep": row.rep_id, "rep_id": new_rep}
