"""Lead and rep events (first touch, accept, decline, milestones...), idempotent by id.

Each event type has one handler in ``HANDLERS`` (type -> handler); a handler applies the
event in the caller's routing transaction and returns what it did (logged as the event's
outcome). A new event type is one handler registered here and one name in
``schemas.EventType``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadpilot.errors import DataValidationError
from leadpilot.schema import Candidate, Decision
from leadpilot.service.core import RoutingService, require
from leadpilot.service.errors import ConflictError, NotFoundError
from leadpilot.service.outcomes import EventOutcome
from leadpilot.service.schemas import EventCreate
from leadpilot.store import timers
from leadpilot.store.counters import release_open_lead
from leadpilot.store.engine import LockedConn
from leadpilot.store.events import find_event, record_event
from leadpilot.store.feedback import record_feedback, was_assigned
from leadpilot.store.leads import get_lead_row, update_lead
from leadpilot.store.reps import add_out_of_office, get_rep
from leadpilot.store.types import as_utc

__all__ = ["HANDLERS", "EventContext", "handle_event"]


@dataclass(frozen=True, slots=True)
class EventContext:
    """One event being applied: the body, when it happened and when it arrived, in a
    routing transaction of ``service``."""

    service: RoutingService
    conn: LockedConn
    body: EventCreate
    occurred: datetime
    now: datetime

    def lead_row(self) -> Any:
        """The event's lead as stored, locked for the transaction (404 when unknown)."""
        lead_id = require(self.body.lead_id, "lead_id", self.body.type)
        row = get_lead_row(self.conn, lead_id, for_update=True)
        if row is None:
            raise NotFoundError(
                f"no lead {lead_id!r}",
                hint="POST the lead to /v1/leads first",
                details={"field": "lead_id"},
            )
        return row


EventHandler = Callable[[EventContext], dict[str, Any]]


def handle_event(service: RoutingService, body: EventCreate) -> EventOutcome:
    """Apply one event; a repeated ``event_id`` returns the first outcome (``duplicate``),
    or a 409 when the content differs."""
    now = service.clock()
    occurred = as_utc(body.occurred_at) if body.occurred_at else now
    with service.routing_transaction() as conn:
        seen = find_event(conn, body.event_id)
        if seen is not None:
            if seen.payload != body.model_dump(mode="json"):
                # A retry repeats the event; different content under the same id is a client
                # bug that would otherwise silently drop the new event.
                raise ConflictError(
                    f"event_id {body.event_id!r} was already used for a different event",
                    hint="give each event its own event_id; repeat an id only to retry the "
                    "same event",
                    details={"field": "event_id"},
                )
            return EventOutcome(
                event_id=seen.event_id,
                type=seen.type,
                duplicate=True,
                lead_id=seen.lead_id,
                outcome=seen.outcome,
            )
        outcome = HANDLERS[body.type](EventContext(service, conn, body, occurred, now))
        record_event(
            conn,
            event_id=body.event_id,
            type=body.type,
            lead_id=body.lead_id,
            rep_id=body.rep_id or outcome.get("acting_rep"),
            occurred_at=occurred,
            received_at=now,
            payload=body.model_dump(mode="json"),
            outcome=outcome,
        )
    return EventOutcome(
        event_id=body.event_id,
        type=body.type,
        duplicate=False,
        lead_id=body.lead_id,
        outcome=outcome,
    )


def _out_of_office(event: EventContext) -> dict[str, Any]:
    body = event.body
    rep_id = require(body.rep_id, "rep_id", body.type)
    start = as_utc(require(body.starts_at, "starts_at", body.type))
    end = as_utc(require(body.ends_at, "ends_at", body.type))
    if end <= start:
        raise DataValidationError(
            "ends_at must be after starts_at",
            hint="swap or fix the two times",
            details={"field": "ends_at"},
        )
    if get_rep(event.conn, rep_id) is None:
        raise NotFoundError(f"no rep {rep_id!r}", details={"field": "rep_id"})
    add_out_of_office(event.conn, rep_id, start, end, body.reason)
    return {"rep_id": rep_id, "out_of_office": [start.isoformat(), end.isoformat()]}


def _stops_timers(column: str) -> EventHandler:
    """first_touch / accepted: stop the lead's SLA and acceptance timers and note the first
    time it happened in ``column``."""

    def handle(event: EventContext) -> dict[str, Any]:
        row = event.lead_row()
        stopped = timers.cancel_timers(event.conn, row.lead_id, ("sla", "acceptance"))
        if getattr(row, column) is None:
            update_lead(event.conn, row.lead_id, {column: event.occurred})
        return {"timers_stopped": stopped, "rep_id": row.rep_id, "acting_rep": row.rep_id}

    return handle


def _milestone(column: str) -> EventHandler:
    """meeting_booked / opportunity_created: note the first time it happened."""

    def handle(event: EventContext) -> dict[str, Any]:
        row = event.lead_row()
        if getattr(row, column) is None:
            update_lead(event.conn, row.lead_id, {column: event.occurred})
        return {"rep_id": row.rep_id}

    return handle


def _closed(won: bool) -> EventHandler:
    """closed_won / closed_lost: close the lead, free its owner's open slot."""

    def handle(event: EventContext) -> dict[str, Any]:
        row = event.lead_row()
        if row.status == "closed":
            return {"already_closed": True}
        if row.status == "routed" and row.rep_id:
            release_open_lead(event.conn, row.rep_id)
        timers.cancel_timers(event.conn, row.lead_id, ("sla", "acceptance"))
        update_lead(
            event.conn,
            row.lead_id,
            {"status": "closed", "closed_at": event.occurred, "closed_won": won},
        )
        return {"rep_id": row.rep_id, "closed_won": won}

    return handle


def _declined(event: EventContext) -> dict[str, Any]:
    row = event.lead_row()
    decliner = event.body.rep_id or row.rep_id
    if row.status != "routed" or decliner != row.rep_id:
        raise DataValidationError(
            f"lead {row.lead_id} is not currently offered to {decliner!r} "
            f"(status {row.status}, owner {row.rep_id!r})",
            hint="only the current owner can decline a lead",
            details={"field": "rep_id"},
        )
    outcome = event.service.reassign(
        event.conn,
        row.lead_id,
        reason="DECLINED_REASSIGN",
        now=event.now,
        also_exclude=frozenset({decliner}),
    )
    return {**outcome.as_dict(), "acting_rep": decliner}


def _reassigned(event: EventContext) -> dict[str, Any]:
    """The CRM (or a manager) moved the lead to another rep."""
    body = event.body
    row = event.lead_row()
    new_rep = require(body.rep_id, "rep_id", body.type)
    rep = get_rep(event.conn, new_rep)
    if rep is None:
        raise NotFoundError(f"no rep {new_rep!r}", details={"field": "rep_id"})
    decision = Decision(
        lead_id=row.lead_id,
        rep_id=new_rep,
        pool=rep.pool,
        lane=row.lane,
        strategy="manual",
        reasons=("MANUAL_REASSIGN",) + ((body.reason,) if body.reason else ()),
        decided_at=event.now,
        candidates=(Candidate(rep_id=new_rep),),
        propensity=None,
    )
    event.service.apply_manual(event.conn, row, decision, now=event.now)
    return {"from_rep": row.rep_id, "rep_id": new_rep}


def _fit_feedback(event: EventContext) -> dict[str, Any]:
    """The lead's owner rates its fit (good / poor, with a reason)."""
    body = event.body
    row = event.lead_row()
    fit = require(body.fit, "fit", body.type)
    rater = body.rep_id or row.rep_id
    # the owner, or a rep the lead was given to before (a decline is often a poor fit)
    if rater is None or (rater != row.rep_id and not was_assigned(event.conn, row.lead_id, rater)):
        raise DataValidationError(
            f"lead {row.lead_id} was never assigned to {rater!r} (owner {row.rep_id!r})",
            hint="only a rep the lead was assigned to rates its fit",
            details={"field": "rep_id"},
        )
    stored = record_feedback(
        event.conn,
        event_id=body.event_id,
        lead_id=row.lead_id,
        rep_id=rater,
        fit=fit,
        reason=body.reason,
        occurred_at=event.occurred,
    )
    return {"fit": fit, "rep_id": rater, "strategy": stored["strategy"]}


HANDLERS: dict[str, EventHandler] = {
    "first_touch": _stops_timers("first_touch_at"),
    "accepted": _stops_timers("accepted_at"),
    "meeting_booked": _milestone("meeting_at"),
    "opportunity_created": _milestone("opportunity_at"),
    "closed_won": _closed(won=True),
    "closed_lost": _closed(won=False),
    "declined": _declined,
    "reassigned": _reassigned,
    "rep_out_of_office": _out_of_office,
    "fit_feedback": _fit_feedback,
}
