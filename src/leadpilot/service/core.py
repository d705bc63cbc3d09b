"""The routing service's write paths: intake, reassignment, events. No HTTP here.

Every write that touches routing state runs in one transaction holding the routing lock
(see ``store.engine.routing_lock``): the lead, its decision, the capacity counters and the
round-robin cursors commit together or not at all, so replicas cannot over-assign and a
crashed request leaves nothing half-done (its retry with the same Idempotency-Key routes it).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from leadpilot.errors import DataValidationError
from leadpilot.ingest.identity import company_domain
from leadpilot.policy.availability import local_day
from leadpilot.schema import Decision, Lead, Scorer
from leadpilot.service.inputs import RoutingInputs, Snapshot
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.service.notify import reassignment_message
from leadpilot.service.queue_gate import QueueGate
from leadpilot.service.schemas import (
    CandidatePublic,
    DecisionPublic,
    IntakePublic,
    LeadCreate,
    column_length,
    decision_public,
)
from leadpilot.settings import Settings
from leadpilot.store import timers
from leadpilot.store.alerts import enqueue_webhook, record_alert
from leadpilot.store.counters import decision_effects
from leadpilot.store.decisions import (
    decision_row,
    insert_decision,
    live_decision,
    retire_live_decision,
)
from leadpilot.store.engine import routing_lock, write_transaction
from leadpilot.store.idempotency import lookup_response, store_response
from leadpilot.store.intake import IntakeReads, read_for_intake, record_new_lead
from leadpilot.store.leads import duplicate_of, get_lead_row, lead_row
from leadpilot.store.tables import duplicate_intakes, events, leads
from leadpilot.store.types import utcnow

__all__ = ["RoutingService", "lead_from_create"]


_DOMAIN_LENGTH = column_length(leads.c.domain)


def lead_from_create(body: LeadCreate, now: datetime) -> Lead:
    """A canonical ``Lead`` from the intake body (id generated when absent)."""
    data = body.model_dump(exclude={"website", "attributes"})
    data["lead_id"] = body.lead_id or f"lead-{uuid.uuid4().hex[:16]}"
    data["created_at"] = body.created_at or now
    data["domain"] = (body.domain or "").lower() or company_domain(body.email, body.website)
    if len(data["domain"] or "") > _DOMAIN_LENGTH:
        source = "email" if body.email and data["domain"] in body.email.lower() else "website"
        raise DataValidationError(
            f"the {source}'s domain is longer than {_DOMAIN_LENGTH} characters",
            hint="send a real address: a DNS name has at most 253 characters",
            details={"field": source},
        )
    attributes: dict[str, Any] = dict(body.attributes)
    if body.website:
        attributes["website"] = body.website
    return Lead(**data, attributes=attributes)


class RoutingService:
    """Routes leads and keeps their promises, on one engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        settings: Settings,
        metrics: ServiceMetrics,
        scorer: Scorer | None = None,
        clock: Callable[[], datetime] = utcnow,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.inputs = RoutingInputs(scorer=scorer, background_pricing=settings.background_pricing)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.queue_gate = QueueGate()  # the worker's passes over the queue

    # ------------------------------------------------------------------ intake
    def intake(
        self, lead: Lead, *, idempotency_key: str | None = None, fingerprint: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """Dedupe, route and store one lead; returns ``(http_status, IntakePublic body)``."""
        now = self.clock()
        with self.metrics.intake_latency.time(), write_transaction(self.engine) as conn:
            routing_lock(conn)
            if idempotency_key:
                stored = lookup_response(conn, idempotency_key, fingerprint)
                if stored is not None:
                    return stored[0], stored[1]
            # One query for everything else the intake reads (see store.intake).
            reads = read_for_intake(conn, lead, now, window_days=self.inputs.window_days)
            found = duplicate_of(lead, reads.duplicates)
            if found is not None:
                status, body = 200, self._duplicate(conn, lead, found, now)
            else:
                status, body = 201, self._route_new(conn, lead, now, reads)
            if idempotency_key:
                store_response(conn, idempotency_key, fingerprint, status, body)
        return status, body

    def _duplicate(
        self, conn: sa.Connection, lead: Lead, found: tuple[str, str], now: datetime
    ) -> dict[str, Any]:
        lead_id, matched_on = found
        conn.execute(
            duplicate_intakes.insert().values(
                lead_id=lead_id,
                matched_on=matched_on,
                payload={
                    "lead_id": lead.lead_id,
                    "email": lead.email,
                    "external_id": lead.external_id,
                },
                received_at=now,
            )
        )
        self.metrics.duplicates.inc()
        row = get_lead_row(conn, lead_id)
        live = live_decision(conn, lead_id)
        return IntakePublic(
            lead_id=lead_id,
            duplicate=True,
            duplicate_of=lead_id,
            matched_on=matched_on,
            status=row.status,
            account_id=row.account_id,
            decision=_public(live) if live is not None else None,
        ).model_dump(mode="json")

    def _route_new(
        self, conn: sa.Connection, lead: Lead, now: datetime, reads: IntakeReads
    ) -> dict[str, Any]:
        snapshot = self.inputs.load_for_intake(conn, reads)
        account_id = snapshot.link_account(lead)
        decision = self._decide(snapshot, lead, now, declined=frozenset())
        values = _lead_values(decision, _NEW_ROW, now, new_lead=True)
        status = values.pop("status")
        credits, increments = decision_effects(decision)
        decision_id = record_new_lead(
            conn,
            lead_row=lead_row(
                lead, status=status, account_id=account_id, received_at=now, extra=values
            ),
            decision_row=decision_row(decision, trigger="intake", seq=1),
            timer_rows=[
                timers.timer_row(lead_id=lead.lead_id, rep_id=rep_id, kind=kind, due_at=due)
                for rep_id, kind, due in _timers_of(snapshot, decision, now)
            ],
            credits=credits,
            increments=increments,
        )
        snapshot.state.invalidate()
        self._count(decision, "intake")
        public = decision_public_from(decision, decision_id=decision_id, trigger="intake")
        return IntakePublic(
            lead_id=lead.lead_id,
            duplicate=False,
            status=status,
            account_id=account_id,
            decision=public,
        ).model_dump(mode="json")

    # ------------------------------------------------------------ decisions
    def _decide(
        self, snapshot: Snapshot, lead: Lead, now: datetime, *, declined: frozenset[str]
    ) -> Decision:
        with self._rng_lock:
            return snapshot.route(lead, now=now, rng=self._rng, declined=declined)

    def _apply(
        self,
        snapshot: Snapshot,
        lead_id: str,
        decision: Decision,
        *,
        trigger: str,
        now: datetime,
        reassignment: bool = False,
    ) -> int:
        """Record ``decision`` as the stored lead's live decision; update the lead, the
        router's state (counters, rotation) and the timers to match, in the caller's
        transaction. (A new lead's first decision: ``_route_new``.)"""
        conn = snapshot.conn
        row = get_lead_row(conn, lead_id)
        values = _lead_values(decision, row, now, new_lead=False, reassignment=reassignment)
        retire_live_decision(conn, lead_id)
        timers.cancel_timers(conn, lead_id, ("sla", "acceptance"))
        conn.execute(leads.update().where(leads.c.lead_id == lead_id).values(**values))
        decision_id = insert_decision(conn, decision, trigger=trigger)
        self._count(decision, trigger)
        if row.rep_id and row.status == "routed":
            snapshot.state.release(row.rep_id)
        snapshot.state.commit(decision)
        for rep_id, kind, due in _timers_of(snapshot, decision, now):
            timers.start_timer(
                conn, lead_id=lead_id, decision_id=decision_id, rep_id=rep_id, kind=kind, due_at=due
            )
        return decision_id

    def _count(self, decision: Decision, trigger: str) -> None:
        outcome = "assigned" if decision.rep_id else (decision.lane or "queued")
        self.metrics.decisions.labels(trigger=trigger, outcome=outcome).inc()

    def apply_manual(
        self, conn: sa.Connection, row: Any, decision: Decision, now: datetime
    ) -> None:
        """Record a reassignment made outside leadpilot (the ``reassigned`` event)."""
        snapshot = self.inputs.load(conn, now)
        rep = next((r for r in snapshot.reps if r.rep_id == decision.rep_id), None)
        if rep is not None:
            decision = dataclasses.replace(decision, rep_local_day=local_day(rep, now))
        self._apply(snapshot, row.lead_id, decision, trigger="manual", now=now, reassignment=True)

    def decide_for_queue(self, snapshot: Snapshot, lead: Lead, now: datetime) -> Decision | None:
        """Try a queued lead again; records a decision only if a rep can now take it."""
        declined = frozenset(self._decliners(snapshot.conn, lead.lead_id))
        decision = self._decide(snapshot, lead, now, declined=declined)
        if decision.rep_id is None:
            return None
        decision = dataclasses.replace(decision, reasons=("QUEUE_DRAIN", *decision.reasons))
        self._apply(snapshot, lead.lead_id, decision, trigger="queue_drain", now=now)
        return decision

    # ---------------------------------------------------------- reassignment
    def reassign(
        self,
        conn: sa.Connection,
        lead_id: str,
        *,
        reason: str,
        now: datetime,
        also_exclude: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Move a routed lead to the next eligible rep (never one who declined it, nor
        ``also_exclude``), recording ``reason`` first in the decision's reason codes.
        Stops at the policy's ``max_reassignments`` with an alert. Caller holds the lock."""
        row = get_lead_row(conn, lead_id)
        snapshot = self.inputs.load(conn, now)
        limit = snapshot.max_reassignments
        if row.reassignments >= limit:
            record_alert(
                conn,
                "max_reassignments",
                f"lead {lead_id} reached max_reassignments={limit}; it stays with {row.rep_id}",
                lead_id=lead_id,
                details={"reason": reason},
            )
            return {"reassigned": False, "why": "max_reassignments", "rep_id": row.rep_id}
        declined = self._decliners(conn, lead_id) | also_exclude
        lead = snapshot.lead_of(row)
        decision = self._decide(snapshot, lead, now, declined=frozenset(declined))
        decision = dataclasses.replace(decision, reasons=(reason, *decision.reasons))
        if decision.rep_id is None and reason == "SLA_BREACH_REASSIGN":
            # Nobody else can take it now: leave it with its owner rather than unassign a
            # lead someone may still be working, and tell the operators.
            record_alert(
                conn,
                "sla_breach_unassignable",
                f"lead {lead_id} breached its SLA but no other rep is eligible; "
                f"it stays with {row.rep_id}",
                lead_id=lead_id,
                details={"reasons": list(decision.reasons)},
            )
            return {"reassigned": False, "why": "no_eligible_rep", "rep_id": row.rep_id}
        self._apply(
            snapshot, lead_id, decision, trigger=_TRIGGER[reason], now=now, reassignment=True
        )
        url = snapshot.notify_url
        if url:
            enqueue_webhook(
                conn,
                url,
                reassignment_message(
                    lead_id=lead_id,
                    reason=reason,
                    from_rep=row.rep_id,
                    to_rep=decision.rep_id,
                    detail=" ".join(decision.reasons[1:4]),
                ),
                now=now,
            )
        return {
            "reassigned": True,
            "from_rep": row.rep_id,
            "rep_id": decision.rep_id,
            "reasons": list(decision.reasons),
        }

    @staticmethod
    def _decliners(conn: sa.Connection, lead_id: str) -> set[str]:
        rows = conn.execute(
            sa.select(events.c.rep_id).where(
                events.c.lead_id == lead_id,
                events.c.type == "declined",
                events.c.rep_id.is_not(None),
            )
        ).scalars()
        return {r for r in rows if r}

    def with_lock(self) -> Any:
        """A write transaction holding the routing lock (for the worker and events)."""
        return _LockedTransaction(self.engine)


class _NewRow:
    """What ``_apply`` needs to know of a lead inserted in the same transaction."""

    rep_id = None
    status = "queued"
    reassignments = 0
    queued_at = None


_NEW_ROW = _NewRow()


def _lead_values(
    decision: Decision, row: Any, now: datetime, *, new_lead: bool, reassignment: bool = False
) -> dict[str, Any]:
    """The lead's columns that follow from ``decision`` (``row``: the lead as stored)."""
    values: dict[str, Any] = {"lane": decision.lane, "status": _status_of(decision)}
    if reassignment:
        values["reassignments"] = row.reassignments + 1
    if decision.rep_id is not None:
        values.update(rep_id=decision.rep_id, queue_reason=None, queued_at=None)
        if not new_lead:
            values["accepted_at"] = None
    elif values["status"] == "nurture":
        values.update(rep_id=None, queue_reason="NO_ASSIGNMENT_LANE")
    else:
        values.update(
            rep_id=None,
            queue_reason=",".join(decision.reasons)[:256],
            queued_at=row.queued_at or now,
        )
    return values


def _timers_of(
    snapshot: Snapshot, decision: Decision, now: datetime
) -> list[tuple[str, str, datetime]]:
    """The timers a decision starts, as ``(rep_id, kind, due_at)``: its SLA deadline, and
    the pool's acceptance window when it has one."""
    if decision.rep_id is None:
        return []
    out = []
    if decision.sla_deadline is not None:
        out.append((decision.rep_id, "sla", decision.sla_deadline))
    window = snapshot.acceptance_minutes(decision.pool)
    if window:
        out.append((decision.rep_id, "acceptance", now + timedelta(minutes=window)))
    return out


def _status_of(decision: Decision) -> str:
    if decision.rep_id is not None:
        return "routed"
    if "NO_ASSIGNMENT_LANE" in decision.reasons:
        return "nurture"
    return "queued"


def decision_public_from(decision: Decision, *, decision_id: int, trigger: str) -> DecisionPublic:
    """The public form of a decision just recorded as the lead's first (seq 1, live)."""
    return DecisionPublic(
        id=decision_id,
        lead_id=decision.lead_id,
        seq=1,
        live=True,
        trigger=trigger,
        rep_id=decision.rep_id,
        pool=decision.pool,
        lane=decision.lane,
        strategy=decision.strategy,
        reasons=list(decision.reasons),
        candidates=[
            CandidatePublic(rep_id=c.rep_id, p_convert=c.p_convert, price=c.price, score=c.score)
            for c in decision.candidates
        ],
        exclusions=dict(decision.exclusions),
        p_convert=decision.p_convert,
        confidence=decision.confidence,
        propensity=decision.propensity,
        model_version=decision.model_version,
        policy_version=decision.policy_version,
        decided_at=decision.decided_at,
        sla_deadline=decision.sla_deadline,
        mode=decision.mode,
        shadow_rep_id=decision.shadow_rep_id,
        fit_score=decision.fit_score,
        intent_score=decision.intent_score,
        grade=decision.grade,
    )


_TRIGGER = {
    "DECLINED_REASSIGN": "declined",
    "SLA_BREACH_REASSIGN": "sla_breach",
    "ACCEPTANCE_EXPIRED_REASSIGN": "acceptance_expired",
}


class _LockedTransaction:
    def __init__(self, engine: sa.Engine) -> None:
        self._cm = write_transaction(engine)

    def __enter__(self) -> sa.Connection:
        conn = self._cm.__enter__()
        routing_lock(conn)
        return conn

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


def _public(row: Any) -> DecisionPublic:
    return decision_public(row)


def require(value: Any, field: str, event_type: str) -> Any:
    """Raise a 422 naming ``field`` when an event lacks it."""
    if value is None:
        raise DataValidationError(
            f"a {event_type} event needs {field!r}",
            hint=f"add {field} to the event body",
            details={"field": field},
        )
    return value
