"""The background worker inside ``leadpilot serve``: SLA timers, the queue, webhooks, the
alert rules (``service.alerting``, every ``alerts.every_seconds``), and the model lifecycle:
adopting the registry's champion (``service.model_swap``) and starting scheduled retrains
(``service.retrain_schedule``).

It polls the database every few seconds. Due rows are claimed with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several replicas can run workers; on SQLite the database write
lock makes every worker a single writer. Loops are bounded per poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httpx

from leadpilot.service.alerting import AlertSchedule
from leadpilot.service.core import RoutingService
from leadpilot.service.inputs import Snapshot
from leadpilot.service.model_swap import ModelWatcher
from leadpilot.service.notify import send_webhook
from leadpilot.service.queue_gate import openings_of
from leadpilot.service.retrain_schedule import RetrainSchedule
from leadpilot.store import timers
from leadpilot.store.alerts import (
    claim_due_deliveries,
    lease_deliveries,
    mark_delivered,
    mark_failed_attempt,
)
from leadpilot.store.engine import LockedConn, write_transaction
from leadpilot.store.kpi_rollups import day_of, refresh_dirty_days
from leadpilot.store.leads import get_lead_row, queued_leads
from leadpilot.store.worklist import pending_work

__all__ = ["Worker", "WorkerReport", "run_due"]

log = logging.getLogger("leadpilot.worker")

_BATCH = 50
_WEBHOOK_LEASE = timedelta(seconds=60)
# Retrying a queued lead or acting on a timer is a full decision (screen, score, price:
# ~1-5 ms at 100 reps), and intakes wait behind the routing lock the worker holds. A poll's
# batch of 50 in one transaction held it for 120-150 ms (benchmarks/service_latency.py
# --profile, PostgreSQL, 100/s) and set the intakes' p99. So a batch is committed in
# pieces that hold the lock about this long, with a pause between them in which the
# intakes waiting for the lock take it (SQLite's in-process writer lock is not fair: a
# thread that releases it and asks again at once would usually get it back).
_HOLD_S = 0.010
_YIELD_S = 0.001
T = TypeVar("T")


@dataclass
class WorkerReport:
    """What one poll did."""

    breaches: int = 0
    reassigned: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)
    webhooks_sent: int = 0
    webhooks_failed: int = 0


def run_due(
    service: RoutingService, now: datetime | None = None, client: httpx.Client | None = None
) -> WorkerReport:
    """Act on everything due by ``now``: expired SLA/acceptance timers, queued leads that
    can now be routed, pending webhooks."""
    now = now or service.clock()
    report = WorkerReport()
    timers_due, queued, webhooks_due = _pending_work(service, now)
    if timers_due:
        _fire_timers(service, now, report)
    if queued or timers_due:  # a breach may queue a lead
        _drain_queue(service, now, report)
    elif not service.queue_gate.has_baseline:
        _baseline_queue_gate(service, now)
    if webhooks_due or timers_due:  # a breach may notify
        _send_webhooks(service, now, report, client)
    return report


def _pending_work(service: RoutingService, now: datetime) -> tuple[bool, bool, bool]:
    """Whether any timer is due, any lead queued, any webhook due: one read without the
    routing lock (or SQLite's write lock), so a poll with nothing to do, most of them,
    never delays an intake. Work found is then claimed under the locks as before."""
    with service.engine.connect() as conn:
        return pending_work(conn, now)


def _fire_timers(service: RoutingService, now: datetime, report: WorkerReport) -> None:
    left = _BATCH
    while left:
        with service.routing_transaction() as conn:
            # Claimed rows are only locked; those not reached in this piece stay pending.
            due = timers.claim_due_timers(conn, now, limit=left)
            done = _within_hold(due, partial(_fire_timer, service, conn, now, report))
        left -= done
        if done == len(due):  # every due timer fired, or the batch is spent
            return
        time.sleep(_YIELD_S)


def _within_hold(items: Sequence[T], act: Callable[[T], None]) -> int:
    """``act`` on ``items`` in order until the piece has held the lock ``_HOLD_S`` (at
    least one); how many were acted on."""
    deadline = time.perf_counter() + _HOLD_S
    done = 0
    for item in items:
        done += 1
        act(item)
        if time.perf_counter() >= deadline:
            break
    return done


def _fire_timer(
    service: RoutingService, conn: LockedConn, now: datetime, report: WorkerReport, timer: Any
) -> None:
    timers.finish_timer(conn, timer.id, now)
    lead = get_lead_row(conn, timer.lead_id)
    if lead is None or lead.status != "routed" or lead.rep_id != timer.rep_id:
        return  # superseded: the lead moved or closed since the timer started
    if timer.kind == "sla" and lead.first_touch_at is not None:
        return
    if timer.kind == "acceptance" and lead.accepted_at is not None:
        return
    report.breaches += 1
    service.metrics.sla_breaches.labels(kind=timer.kind).inc()
    reason = "SLA_BREACH_REASSIGN" if timer.kind == "sla" else "ACCEPTANCE_EXPIRED_REASSIGN"
    outcome = service.reassign(
        conn, timer.lead_id, reason=reason, now=now, also_exclude=frozenset({timer.rep_id})
    )
    if outcome.reassigned:
        report.reassigned.append(timer.lead_id)


def _drain_queue(service: RoutingService, now: datetime, report: WorkerReport) -> None:
    gate = service.queue_gate
    if not gate.in_pass:
        # Decide without the routing lock: most polls find nobody opened up and stop here.
        with service.engine.connect() as conn:
            openings = openings_of(service.inputs.load(conn, now), now)
        if not gate.should_start(openings, now):
            return
        gate.start(openings, now)
    left = _BATCH
    while left:
        with service.routing_transaction() as conn:
            waiting = queued_leads(conn, left, after=gate.cursor, until=gate.until)
            tried = 0
            if waiting:
                snapshot = service.inputs.load(conn, now)
                retry = partial(_retry_queued, service, conn, snapshot, now, report)
                tried = _within_hold(waiting, retry)
        whole = tried == len(waiting)
        gate.advance(waiting[tried - 1] if tried else None, finished=whole and len(waiting) < left)
        left -= tried
        if whole:  # the pass ended, or this poll's batch is spent
            return
        time.sleep(_YIELD_S)


def _retry_queued(
    service: RoutingService,
    conn: LockedConn,
    snapshot: Snapshot,
    now: datetime,
    report: WorkerReport,
    queued: tuple[datetime, str],
) -> None:
    lead_id = queued[1]
    lead = snapshot.lead_of(get_lead_row(conn, lead_id))
    if service.decide_for_queue(conn, snapshot, lead, now) is not None:
        report.drained.append(lead_id)


def _baseline_queue_gate(service: RoutingService, now: datetime) -> None:
    """A worker's first poll that finds the queue empty counts as a complete pass, so a
    lead queued later is retried only when a rep opens up after its intake tried it (not
    once more at the first poll that sees it, with the openings it was just refused on).
    The openings are read before the queue, so no lead queued in between is missed."""
    with service.engine.connect() as conn:
        openings = openings_of(service.inputs.load(conn, now), now)
        if not queued_leads(conn, 1):
            service.queue_gate.passed_empty(openings, now)


def _send_webhooks(
    service: RoutingService, now: datetime, report: WorkerReport, client: httpx.Client | None
) -> None:
    # Claim with a lease and commit before sending, so no database lock is held during HTTP.
    with write_transaction(service.engine) as conn:
        due = claim_due_deliveries(conn, now, limit=_BATCH)
        lease_deliveries(conn, [row.id for row in due], now + _WEBHOOK_LEASE)
    if not due:
        return
    settings = service.settings
    own = client is None
    http = client or httpx.Client(timeout=settings.webhook_timeout_seconds)
    try:
        for row in due:
            error = send_webhook(http, row.url, dict(row.payload), secret=settings.webhook_secret)
            with write_transaction(service.engine) as conn:
                if error is None:
                    mark_delivered(conn, row.id)
                    report.webhooks_sent += 1
                else:
                    service.metrics.webhook_failures.inc()
                    report.webhooks_failed += 1
                    mark_failed_attempt(
                        conn,
                        row,
                        error,
                        max_attempts=settings.webhook_max_attempts,
                        backoff_seconds=settings.webhook_backoff_seconds,
                        now=now,
                    )
    finally:
        if own:
            http.close()


class Worker:
    """Runs ``run_due`` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(self, service: RoutingService, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._alerts = AlertSchedule()
        self.models = ModelWatcher(service)
        self.retrains = RetrainSchedule(service)
        self._thread = threading.Thread(target=self._loop, name="leadpilot-worker", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop and wait for it (a retrain running in its own process is
        left to finish: it holds the lease, and its result lands in the registry)."""
        self._stop.set()
        self._thread.join(timeout)
        self.retrains.close()

    def _loop(self) -> None:
        with httpx.Client(timeout=self.service.settings.webhook_timeout_seconds) as client:
            while not self._stop.is_set():
                try:
                    self.service.inputs.maintain(self.service.engine, self.service.clock())
                    run_due(self.service, client=client)
                except Exception:  # the worker must outlive any one bad row
                    log.exception("worker poll failed")
                try:  # keep the KPI rollups current, so console reads stay cheap
                    refresh_dirty_days(
                        self.service.routing_transaction, today=day_of(self.service.clock())
                    )
                except Exception:  # a rollup is only a cache of exact reads: routing goes on
                    log.exception("KPI rollup refresh failed")
                try:
                    self._alerts.maybe_run(self.service)
                except Exception:  # nor may alerts stop routing work
                    log.exception("alert check failed")
                try:
                    self.models.poll(self.service.clock())
                    self.retrains.maybe_start(self.service.clock())
                except Exception:  # nor may the model lifecycle
                    log.exception("model lifecycle check failed")
                self._stop.wait(self.interval)
