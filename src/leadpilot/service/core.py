"""The routing service's write paths: intake, reassignment, events. No HTTP here: they
return domain outcomes (``service.outcomes``), which the routes map to public schemas.

Every write that touches routing state runs in one ``store.engine.routing_transaction``
(the functions that write it take its ``LockedConn``): the lead, its decision, the capacity
counters and the round-robin cursors commit together or not at all, so replicas cannot
over-assign and a crashed request leaves nothing half-done (its retry with the same
Idempotency-Key routes it).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from leadpilot.errors import DataValidationError, LeadpilotError
from leadpilot.policy.availability import local_day
from leadpilot.policy.lead_history import LeadHistory
from leadpilot.policy.lock_scope import LockScope
from leadpilot.schema import Decision, Lead, Scorer, ValueModel
from leadpilot.service.inputs import LockPlan, RoutingInputs, Snapshot
from leadpilot.service.metrics import ServiceMetrics
from leadpilot.service.notify import reassignment_message
from leadpilot.service.outcomes import IntakeOutcome, Reassignment
from leadpilot.service.pool_turns import PoolTurns
from leadpilot.service.queue_gate import QueueGate, openings_of
from leadpilot.settings import Settings
from leadpilot.store.alerts import enqueue_webhook, record_alert
from leadpilot.store.assignees import lapsed_reps
from leadpilot.store.counters import (
    ALL_POOLS,
    Prefetched,
    bump_generations,
    decision_effects,
    generation_key,
    generation_writes,
)
from leadpilot.store.decisions import StoredDecision, live_decision
from leadpilot.store.engine import (
    LockedConn,
    RoutingLocks,
    is_postgres,
    lock_wait_seconds,
    locked_pools,
    pool_keys_held,
    routing_transaction,
)
from leadpilot.store.events import decliners
from leadpilot.store.idempotency import lookup_response, store_response
from leadpilot.store.intake import (
    CounterCache,
    IntakeReads,
    PoolCounterCache,
    PoolCounters,
    intake_identities,
    read_for_intake,
)
from leadpilot.store.leads import (
    duplicate_of,
    get_lead_row,
    lead_row,
    record_duplicate_intake,
)
from leadpilot.store.record import DecisionRecord, TimerStart, record_decision
from leadpilot.store.types import utcnow

__all__ = ["IntakeRequest", "RevokedTokenError", "RoutingService"]

log = logging.getLogger("leadpilot.service")
# The counters an intake leaves for the next one: SQLite's (``CounterCache.store``'s
# arguments), PostgreSQL's (``PoolCounters``), or none.
_LeftCounters = tuple[dict[str, Any], float, Prefetched] | PoolCounters | None


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
        value_model: ValueModel | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.inputs = RoutingInputs(
            scorer=scorer,
            background_pricing=settings.background_pricing,
            value_model=value_model,
            clock=clock,
        )
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.queue_gate = QueueGate()  # the worker's passes over the queue
        # SQLite has one writer at a time: per-pool locks would change nothing there.
        self._per_pool = is_postgres(engine)
        # SQLite: the counter rows as this process's last intake left them (store.intake).
        self.counters = CounterCache()
        self.pool_counters = PoolCounterCache()  # PostgreSQL's (see store.intake)
        self._turns = PoolTurns()  # PostgreSQL: one intake per pool key at a time, in process
        self._rehearsing = False  # rehearse_intake runs: count nothing

    # ------------------------------------------------------------------ intake
    def intake(
        self,
        lead: Lead,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        token_hash: str | None = None,
    ) -> IntakeOutcome:
        """Dedupe, route and store one lead (a retried ``idempotency_key`` gets the stored
        outcome, ``replayed``). ``token_hash``: the caller's API token
        (``store.tokens.hash_token``), checked live in the intake's transaction before
        anything is written (``RevokedTokenError`` otherwise).

        On PostgreSQL the intake locks only the pools its decision may reach, worked out
        before the lock from the policy and roster this process last routed with
        (``RoutingInputs.lock_plan``) and checked again under the lock against those read
        there; when they need a pool it does not hold it rolls back and retries once with
        the wider set, then with the exclusive lock."""
        now = self.clock()
        with self.metrics.intake_latency.time():
            plan = self.inputs.lock_plan(lead, now) if self._per_pool else None
            locks = None
            if plan is not None:
                locks = RoutingLocks(plan.pools, intake_identities(lead, idempotency_key))
            for retry in itertools.count():
                try:
                    return self._intake(
                        lead, now, locks, plan, idempotency_key, fingerprint, token_hash
                    )
                except _NarrowLocksError as wider:
                    # Only a per-pool attempt raises it: the loop ends at the exclusive one.
                    self.metrics.lock_retries.labels(reason=wider.reason).inc()
                    if wider.pools is None or locks is None or retry:
                        locks = None
                    else:
                        locks = RoutingLocks(locks.pools | wider.pools, locks.identities)
            raise AssertionError("unreachable")

    def _intake(
        self,
        lead: Lead,
        now: datetime,
        locks: RoutingLocks | None,
        plan: LockPlan | None,
        idempotency_key: str | None,
        fingerprint: str,
        token_hash: str | None,
    ) -> IntakeOutcome:
        turns = self._turns.held(locks.pools) if locks is not None else nullcontext()
        queued = time.perf_counter()
        with turns:
            if locks is not None:  # queued in process for the pools (service.pool_turns)
                self.metrics.lock_wait.labels(scope="turns").observe(time.perf_counter() - queued)
            with self.routing_transaction(locks) as conn:
                outcome, counters = self._intake_on(
                    conn, lead, now, plan, idempotency_key, fingerprint, token_hash
                )
            if isinstance(counters, PoolCounters):  # committed: the next intake may use them
                self.pool_counters.store(counters)
            elif counters is not None:
                self.counters.store(*counters)
        return outcome

    def _intake_on(
        self,
        conn: LockedConn,
        lead: Lead,
        now: datetime,
        plan: LockPlan | None,
        idempotency_key: str | None,
        fingerprint: str,
        token_hash: str | None,
    ) -> tuple[IntakeOutcome, _LeftCounters]:
        """One intake in the caller's routing transaction: its outcome and, on SQLite, the
        counters it leaves (for ``CounterCache``, once they are committed)."""
        # One query for everything the intake reads (see store.intake), the token too.
        reads = read_for_intake(
            conn,
            lead,
            now,
            window_days=self.inputs.window_days,
            cache=None if self._per_pool else self.counters,
            token_hash=token_hash,
            pool_cache=self.pool_counters if self._per_pool else None,
            pool_keys=pool_keys_held(conn),
        )
        if token_hash is not None and not reads.token_live:
            raise RevokedTokenError("unknown or revoked token")
        if idempotency_key:
            stored = lookup_response(conn, idempotency_key, fingerprint)
            if stored is not None:
                return IntakeOutcome.from_json(stored), None
        counters = None
        found = duplicate_of(lead, reads.duplicates)
        if found is not None:
            outcome = self._duplicate(conn, lead, found, now)
        else:
            outcome, counters = self._route_new(conn, lead, now, reads, plan)
        if idempotency_key:
            store_response(
                conn,
                idempotency_key,
                fingerprint,
                outcome.to_json(),
                created=not outcome.duplicate,
            )
        return outcome, counters

    def intake_many(self, requests: Sequence[IntakeRequest]) -> list[IntakeOutcome | Exception]:
        """SQLite: intakes of several leads in one routing transaction, each in a savepoint
        of its own, committed once; per request its outcome or the exception that refused
        it (nothing of it written). Why: SQLite has one writer at a time and a commit costs
        an fsync (``synchronous=FULL``), ~1-10 ms, which was a third of an intake's time
        under the routing lock; a batch shares it and one thread hand-off
        (``service.intake_writer``). The same reads, decisions and writes as ``intake``,
        one after the other: a request sees the ones before it in the batch (a duplicate of
        one of them is a duplicate). When the commit fails every request gets its error:
        none was committed. PostgreSQL intakes lock per pool and run side by side: use
        ``intake``."""
        if self._per_pool:
            raise RuntimeError("intake_many is for SQLite; PostgreSQL intakes use intake()")
        results: list[IntakeOutcome | Exception] = []
        # One request alone needs no savepoint: if it fails, the transaction rolls back.
        alone = len(requests) == 1
        try:
            with self.routing_transaction() as conn:
                for request in requests:
                    results.append(self._intake_savepoint(conn, request, savepoint=not alone))
        except Exception as exc:
            # Rolled back: the counters held from this batch's intakes were never committed
            # (their generation will be reused by other rows), so hold none.
            self.counters.clear()
            return [exc] * len(requests)
        return results

    def _intake_savepoint(
        self, conn: LockedConn, request: IntakeRequest, *, savepoint: bool = True
    ) -> IntakeOutcome | Exception:
        """One intake of a batch, in a savepoint: its outcome, or the exception that rolled
        it back (the batch goes on). Plain SQL savepoints: SQLAlchemy's ``begin_nested``
        names each one anew (``sa_savepoint_<n>``), compiled per use and each cached under
        its own key, which pushed the intake's own statements out of the compiled cache."""
        now = self.clock()
        if savepoint:
            conn.exec_driver_sql(_SAVEPOINT)
        try:
            with self.metrics.intake_latency.time():
                outcome, counters = self._intake_on(
                    conn,
                    request.lead,
                    now,
                    None,
                    request.idempotency_key,
                    request.fingerprint,
                    request.token_hash,
                )
        except Exception as exc:
            if not savepoint or conn.invalidated:
                raise  # the transaction is gone: the whole batch fails
            conn.exec_driver_sql(_ROLLBACK_TO_SAVEPOINT)
            conn.exec_driver_sql(_RELEASE_SAVEPOINT)
            return exc
        if savepoint:
            conn.exec_driver_sql(_RELEASE_SAVEPOINT)
        if isinstance(counters, tuple):  # SQLite's, the only ones a batch leaves
            # The next intake of the batch reads them in this transaction; cleared if the
            # batch rolls back (intake_many).
            self.counters.store(*counters)
        return outcome

    def _duplicate(
        self, conn: LockedConn, lead: Lead, found: tuple[str, str], now: datetime
    ) -> IntakeOutcome:
        lead_id, matched_on = found
        record_duplicate_intake(conn, lead, lead_id=lead_id, matched_on=matched_on, received_at=now)
        self.metrics.duplicates.inc()
        row = get_lead_row(conn, lead_id)
        return IntakeOutcome(
            lead_id=lead_id,
            duplicate=True,
            duplicate_of=lead_id,
            matched_on=matched_on,
            status=row.status,
            account_id=row.account_id,
            decision=live_decision(conn, lead_id),
        )

    def _route_new(
        self,
        conn: LockedConn,
        lead: Lead,
        now: datetime,
        reads: IntakeReads,
        plan: LockPlan | None = None,
    ) -> tuple[IntakeOutcome, _LeftCounters]:
        """Route and store a new lead; returns the outcome and, on SQLite, the counters
        (with their parameters and generation) as the decision leaves them, for
        ``CounterCache`` (``None`` when they cannot be told without reading them)."""
        snapshot = self.inputs.load_for_intake(conn, reads)
        held = locked_pools(conn)
        scope = None
        if held is not None:
            # The policy or roster read under the lock may differ from the plan's.
            scope, needed = self.inputs.lock_needs(snapshot, lead, now, plan)
            if not needed <= held:
                raise _NarrowLocksError(needed, "changed")
        account_id = snapshot.link_account(lead)
        decision = self._decide(snapshot, lead, now, declined=frozenset())
        if scope is not None and held is not None and not scope.covers(decision, held):
            # ``router.reach`` missed a pool the decision writes: never commit it.
            raise _NarrowLocksError(None, "uncovered")
        values = _lead_values(decision, _NEW_ROW, now, new_lead=True)
        status = values.pop("status")
        stored = record_decision(
            conn,
            DecisionRecord(
                decision=decision,
                trigger="intake",
                lead_columns=lead_row(
                    lead, status=status, account_id=account_id, received_at=now, extra=values
                ),
                first=True,
                timers=_timers_of(snapshot, decision, now),
            ),
        )
        snapshot.state.invalidate()
        self._count(decision, "intake")
        _alert_if_unowned(conn, decision, now)
        outcome = IntakeOutcome(
            lead_id=lead.lead_id,
            duplicate=False,
            status=status,
            account_id=account_id,
            decision=stored,
        )
        if self._per_pool:
            return outcome, self._pool_counters_after(conn, decision, reads, scope, held)
        # record_decision wrote exactly these effects and bumped the counters' generation
        # once, with the increments (none without a rep: nothing written, nothing bumped).
        credits, increments = decision_effects(decision)
        after = reads.counters.after(credits, increments)
        if after is None:
            return outcome, None
        generation = reads.generation + (1.0 if increments else 0.0)
        return outcome, (reads.counter_params, generation, after)

    @staticmethod
    def _pool_counters_after(
        conn: LockedConn,
        decision: Decision,
        reads: IntakeReads,
        scope: LockScope | None,
        held: frozenset[str] | None,
    ) -> PoolCounters | None:
        """PostgreSQL, after ``record_decision``: the counters ``decision`` leaves, for
        ``PoolCounterCache`` (``None`` when they cannot be told without reading them). A
        fallback owner outside the held keys bumps ``ALL_POOLS`` first (its counters are
        guarded by keys this intake does not hold: ``counters.POOL_GENERATIONS``)."""
        if held is None or scope is None:
            return None  # the exclusive form: its writes bumped ALL_POOLS
        if decision.rep_id is not None and not scope.rep_keys(decision.rep_id) <= held:
            bump_generations(conn, [ALL_POOLS])
            return None
        if not held or not reads.pool_generations:
            return None  # no pool held, or no generation stored yet: read afresh next time
        credits, increments = decision_effects(decision)
        if not credits and not increments and generation_writes(conn) == 0:
            # nothing written: the counters stand as read
            return PoolCounters(
                reads.counter_params,
                (reads.policy_version, reads.roster_version),
                reads.counters_at,
                reads.counters,
                held,
            )
        if generation_writes(conn) != 1:
            return None  # not only record_decision's bump: the +1 below would not hold
        after = reads.counters.after(credits, increments)
        if after is None:
            return None
        stored = reads.pool_generations
        generations = dict(reads.counters_at)
        keys = map(generation_key, held)
        generations.update({key: stored.get(key, 0.0) + 1.0 for key in keys})
        return PoolCounters(
            reads.counter_params,
            (reads.policy_version, reads.roster_version),
            generations,
            after,
            held,
        )

    # ------------------------------------------------------------ decisions
    def _decide(
        self,
        snapshot: Snapshot,
        lead: Lead,
        now: datetime,
        *,
        declined: frozenset[str] | LeadHistory,
    ) -> Decision:
        with self._rng_lock:
            decision = snapshot.route(lead, now=now, rng=self._rng, declined=declined)
        if _status_of(decision) == "queued" and not self._rehearsing:
            # the worker retries it once someone opens up relative to what it was refused on
            try:
                self.queue_gate.refused(openings_of(snapshot, now))
            except Exception:  # only a hint for the worker (its backstop still retries the
                # queue): it must never fail the decision it follows
                log.exception("could not note the openings a queued lead was refused on")
        return decision

    def _apply(
        self,
        conn: LockedConn,
        snapshot: Snapshot,
        lead_id: str,
        decision: Decision,
        *,
        trigger: str,
        now: datetime,
        reassignment: bool = False,
    ) -> StoredDecision:
        """Record ``decision`` as the stored lead's live decision; update the lead, the
        router's state (counters, rotation) and the timers to match, in the caller's
        transaction. (A new lead's first decision: ``_route_new``.)"""
        row = get_lead_row(conn, lead_id)
        stored = record_decision(
            conn,
            DecisionRecord(
                decision=decision,
                trigger=trigger,
                lead_columns=_lead_values(
                    decision, row, now, new_lead=False, reassignment=reassignment
                ),
                timers=_timers_of(snapshot, decision, now),
                released_rep=row.rep_id if row.rep_id and row.status == "routed" else None,
            ),
        )
        snapshot.state.invalidate()
        self._count(decision, trigger)
        return stored

    def rehearse_intake(self) -> None:
        """Route one lead of the expected mix as an intake would, then roll it all back: at
        start-up, so that the first real intake does not compile the intake's statements
        and build the routing snapshot with requests queued behind it (on PostgreSQL under
        load: the first intake held the lock 85 ms and the run's p99 over 3,000 leads was
        87-127 ms, 30-34 ms without its first second). Nothing is kept: no row (one
        decision id of PostgreSQL's sequence is skipped), no counter, no metric, no draw of
        the service's random numbers, no skipped rep's alert. A failure is logged, never
        raised: start-up goes on. Start-up only: while it runs, the service counts nothing
        and draws from another generator, so no intake may run beside it."""
        template = self.inputs.sample_lead() or Lead(lead_id="")
        lead = dataclasses.replace(
            template, lead_id=f"leadpilot-rehearsal-{uuid.uuid4().hex}", email=None,
            external_id=None,
        )  # fmt: skip
        now = self.clock()
        saved, self._rng = self._rng, np.random.default_rng(0)
        self._rehearsing = True
        unreported: dict[str, str] = {}
        try:
            # The snapshot first, outside a write transaction: PostgreSQL then takes the
            # per-pool form, and the skipped reps the roster read finds are only noted, to
            # be given back below (the first write transaction alerts them, and rolls back).
            with self.engine.connect() as conn:
                self.inputs.load(conn, now)
                conn.rollback()
            unreported = self.inputs.unreported()
            plan = self.inputs.lock_plan(lead, now) if self._per_pool else None
            locks = RoutingLocks(plan.pools, intake_identities(lead, None)) if plan else None
            with routing_transaction(self.engine, locks) as conn:
                self._intake_on(conn, lead, now, plan, None, "", None)
                raise _RehearsedError
        except _RehearsedError:
            pass
        except Exception:  # start-up must not fail for a warm-up
            log.warning("the start-up rehearsal of an intake failed", exc_info=True)
        finally:
            self._rng, self._rehearsing = saved, False
            self.inputs.restore_unreported(unreported)

    def _count(self, decision: Decision, trigger: str) -> None:
        if self._rehearsing:
            return
        outcome = "assigned" if decision.rep_id else (decision.lane or "queued")
        self.metrics.decisions.labels(trigger=trigger, outcome=outcome).inc()

    def apply_manual(self, conn: LockedConn, row: Any, decision: Decision, now: datetime) -> None:
        """Record a reassignment made outside leadpilot (the ``reassigned`` event)."""
        snapshot = self.inputs.load(conn, now)
        rep = next((r for r in snapshot.reps if r.rep_id == decision.rep_id), None)
        if rep is not None:
            decision = dataclasses.replace(decision, rep_local_day=local_day(rep, now))
        self._apply(
            conn, snapshot, row.lead_id, decision, trigger="manual", now=now, reassignment=True
        )

    def decide_for_queue(
        self, conn: LockedConn, snapshot: Snapshot, lead: Lead, now: datetime
    ) -> Decision | None:
        """Try a queued lead again (``snapshot`` loaded on ``conn``); records a decision only
        if a rep can now take it."""
        decision = self._decide(snapshot, lead, now, declined=_history(conn, lead.lead_id))
        if decision.rep_id is None:
            return None
        decision = dataclasses.replace(decision, reasons=("QUEUE_DRAIN", *decision.reasons))
        self._apply(conn, snapshot, lead.lead_id, decision, trigger="queue_drain", now=now)
        return decision

    # ---------------------------------------------------------- reassignment
    def reassign(
        self,
        conn: LockedConn,
        lead_id: str,
        *,
        reason: str,
        now: datetime,
        also_exclude: frozenset[str] = frozenset(),
    ) -> Reassignment:
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
                key=f"max_reassignments:{lead_id}",
                now=now,
            )
            return Reassignment(reassigned=False, why="max_reassignments", rep_id=row.rep_id)
        lead = snapshot.lead_of(row)
        history = _history(conn, lead_id, also_exclude)
        decision = self._decide(snapshot, lead, now, declined=history)
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
                key=f"sla_breach_unassignable:{lead_id}",
                now=now,
            )
            return Reassignment(reassigned=False, why="no_eligible_rep", rep_id=row.rep_id)
        self._apply(
            conn, snapshot, lead_id, decision, trigger=_TRIGGER[reason], now=now, reassignment=True
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
        return Reassignment(
            reassigned=True, from_rep=row.rep_id, rep_id=decision.rep_id, reasons=decision.reasons
        )

    @contextmanager
    def routing_transaction(self, locks: RoutingLocks | None = None) -> Iterator[LockedConn]:
        """A routing transaction on the service's engine (for intake, the worker, events):
        exclusive unless ``locks`` names the pools it touches. Observes the lock wait."""
        with routing_transaction(self.engine, locks) as conn:
            wait = lock_wait_seconds(conn)
            if wait is not None:
                scope = "pools" if locks is not None else "all"
                self.metrics.lock_wait.labels(scope=scope).observe(wait)
            yield conn


@dataclasses.dataclass(frozen=True, slots=True)
class IntakeRequest:
    """One lead to take in (``RoutingService.intake``'s arguments)."""

    lead: Lead
    idempotency_key: str | None = None
    fingerprint: str = ""
    token_hash: str | None = None


_SAVEPOINT = "SAVEPOINT leadpilot_intake"
_ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT leadpilot_intake"
_RELEASE_SAVEPOINT = "RELEASE SAVEPOINT leadpilot_intake"


class RevokedTokenError(LeadpilotError):
    """The intake's API token was revoked (or is unknown) when its transaction read it:
    nothing was written (HTTP 401)."""


class _RehearsedError(Exception):
    """Rolls a rehearsed intake back (``RoutingService.rehearse_intake``)."""


class _NarrowLocksError(Exception):
    """An intake needs pools it did not lock (``pools``; ``None``: unknown, take them all):
    roll its transaction back and retry. ``reason``: ``changed`` (the policy, roster or
    accounts read under the lock reach other pools than the plan) or ``uncovered`` (the
    decision wrote outside its locks, a reach bug: retried under the exclusive lock)."""

    def __init__(self, pools: frozenset[str] | None, reason: str) -> None:
        super().__init__(reason)
        self.pools = pools
        self.reason = reason


def _alert_if_unowned(conn: sa.Connection, decision: Decision, now: datetime) -> None:
    """A lead the policy's fallback queue holds has no owner: tell the operators."""
    queue = next((r for r in decision.reasons if r.startswith("FALLBACK_QUEUE:")), None)
    if decision.rep_id is None and queue is not None:
        record_alert(
            conn,
            "lead_unowned",
            f"lead {decision.lead_id} has no owner: no pool could place it, so it waits in "
            f"the fallback queue {queue.partition(':')[2]!r}",
            lead_id=decision.lead_id,
            details={"reasons": list(decision.reasons)},
            key=f"lead_unowned:{decision.lead_id}",
            now=now,
        )


def _history(
    conn: sa.Connection, lead_id: str, leaving: frozenset[str] = frozenset()
) -> LeadHistory:
    """Who let the lead go: decliners are never offered it again; they and every rep who
    breached or let an offer expire are ``lapsed``. ``leaving``: the owner being moved
    away from now (never the new owner, and lapsed from now on)."""
    lapsed = lapsed_reps(conn, lead_id) | leaving
    return LeadHistory(declined=frozenset(decliners(conn, lead_id)) | leaving, lapsed=lapsed)


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


def _timers_of(snapshot: Snapshot, decision: Decision, now: datetime) -> list[TimerStart]:
    """The timers a decision starts: its SLA deadline, and the pool's acceptance window
    when it has one."""
    if decision.rep_id is None:
        return []
    out = []
    if decision.sla_deadline is not None:
        out.append(TimerStart(decision.rep_id, "sla", decision.sla_deadline))
    window = snapshot.acceptance_minutes(decision.pool)
    if window:
        out.append(TimerStart(decision.rep_id, "acceptance", now + timedelta(minutes=window)))
    return out


def _status_of(decision: Decision) -> str:
    if decision.rep_id is not None:
        return "routed"
    if "NO_ASSIGNMENT_LANE" in decision.reasons:
        return "nurture"
    return "queued"


_TRIGGER = {
    "DECLINED_REASSIGN": "declined",
    "SLA_BREACH_REASSIGN": "sla_breach",
    "ACCEPTANCE_EXPIRED_REASSIGN": "acceptance_expired",
}


def require(value: Any, field: str, event_type: str) -> Any:
    """Raise a 422 naming ``field`` when an event lacks it."""
    if value is None:
        raise DataValidationError(
            f"a {event_type} event needs {field!r}",
            hint=f"add {field} to the event body",
            details={"field": field},
        )
    return value
