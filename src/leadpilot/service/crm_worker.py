"""The CRM side of ``leadpilot serve``: route the webhook events in the inbox, turn every
decision about a CRM lead into an owner write in the outbox, and send the outbox.

One poll (``run_crm_due``) does the three in order; ``CrmWorker`` runs it in its own daemon
thread next to the routing worker. Rows are leased and committed before any HTTP call, so a
crash (even SIGKILL) leaves them pending; they are taken up again when the lease runs out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError

from leadpilot.crm.config import CrmSettings
from leadpilot.crm.retry import CrmCallError, next_delay
from leadpilot.errors import LeadpilotError
from leadpilot.ingest.crm_payloads import canonical_from_payload
from leadpilot.service.core import RoutingService
from leadpilot.service.crm_sync import sync_hubspot, sync_salesforce
from leadpilot.service.rep_notify import (
    NOTIFY_CURSOR,
    assignment_email,
    links_for,
    queue_assignment_notices,
)
from leadpilot.service.schemas import LeadCreate, lead_from_create
from leadpilot.store.crm_queue import (
    assignments_after,
    claim_inbox,
    claim_writes,
    enqueue_write,
    finish_inbox,
    get_cursor,
    inbox_failed,
    last_decision_id,
    owner_decisions_after,
    set_cursor,
    write_dead,
    write_retry,
    write_sent,
)
from leadpilot.store.engine import write_transaction
from leadpilot.store.leads import find_lead_row
from leadpilot.store.reps import get_rep

__all__ = [
    "OWNER_COLUMNS",
    "Connector",
    "CrmReport",
    "CrmWorker",
    "build_connectors",
    "run_crm_due",
    "start_writeback_cursor",
]

log = logging.getLogger("leadpilot.crm")

# The reps.csv column holding each rep's user id in the CRM.
OWNER_COLUMNS = {"hubspot": "hubspot_owner_id", "salesforce": "salesforce_user_id"}
_CURSOR = "writeback:decision_id"
_BATCH = 50


class Connector(Protocol):
    """What the worker needs of a CRM client (``crm.hubspot``, ``crm.salesforce``)."""

    def set_owner(self, record_id: str, owner_id: str) -> None: ...


@dataclass
class CrmReport:
    """What one poll did."""

    routed: list[str] = field(default_factory=list)
    intake_retries: int = 0
    intake_failed: int = 0
    queued_writes: int = 0
    superseded: int = 0
    written: list[tuple[str, str, str]] = field(default_factory=list)  # crm, record, owner
    write_retries: int = 0
    dead: int = 0
    notices: int = 0


def build_connectors(crm: CrmSettings) -> dict[str, Any]:
    """A connector per CRM whose credentials are set."""
    out: dict[str, Any] = {}
    if crm.hubspot_access_token is not None:
        from leadpilot.crm.hubspot import HubSpotConnector

        out["hubspot"] = HubSpotConnector(
            crm.hubspot_access_token.get_secret_value(),
            base_url=crm.hubspot_base_url,
            timeout=crm.crm_timeout_seconds,
        )
    if crm.salesforce_access_token is not None and crm.salesforce_instance_url:
        from leadpilot.crm.salesforce import SalesforceConnector

        out["salesforce"] = SalesforceConnector(
            crm.salesforce_access_token.get_secret_value(),
            instance_url=crm.salesforce_instance_url,
            version=crm.salesforce_api_version,
            timeout=crm.crm_timeout_seconds,
        )
    if crm.smtp_host:
        from leadpilot.crm.email import SmtpSender

        out["email"] = SmtpSender(
            crm.smtp_host,
            crm.smtp_port,
            sender=crm.smtp_from,
            username=crm.smtp_username,
            password=crm.smtp_password.get_secret_value() if crm.smtp_password else None,
            starttls=crm.smtp_starttls,
            timeout=crm.crm_timeout_seconds,
        )
    return out


def start_writeback_cursor(engine: sa.Engine, now: datetime) -> None:
    """On a database that never wrote back (or notified), start after the decisions
    already made, so turning the CRM on does not rewrite the owners of every past lead nor
    re-announce them."""
    with write_transaction(engine) as conn:
        for name in (_CURSOR, NOTIFY_CURSOR):
            if get_cursor(conn, name) is None:
                set_cursor(conn, name, str(last_decision_id(conn)), now)


def run_crm_due(
    service: RoutingService,
    crm: CrmSettings,
    connectors: Mapping[str, Any],
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> CrmReport:
    """Route due inbox events, queue owner writes for new decisions, send due writes."""
    now = now or service.clock()
    report = CrmReport()
    _route_inbox(service, crm, connectors, now, report, rng)
    _queue_writes(service, now, report)
    report.notices = queue_assignment_notices(service, crm, now)
    _send_writes(service, crm, connectors, now, report, rng)
    return report


def _route_inbox(
    service: RoutingService,
    crm: CrmSettings,
    connectors: Mapping[str, Any],
    now: datetime,
    report: CrmReport,
    rng: random.Random | None,
) -> None:
    with write_transaction(service.engine) as conn:
        rows = claim_inbox(conn, now, lease=timedelta(seconds=crm.crm_lease_seconds), limit=_BATCH)
    for row in rows:
        try:
            lead_id = _route_event(service, connectors, row, now)
        except CrmCallError as exc:
            retry = not exc.permanent and row.attempts + 1 < crm.crm_max_attempts
            delay = next_delay(
                row.attempts + 1,
                base=crm.crm_backoff_seconds,
                cap=crm.crm_backoff_cap_seconds,
                retry_after=exc.retry_after,
                rng=rng,
            )
            with write_transaction(service.engine) as conn:
                inbox_failed(
                    conn,
                    row,
                    str(exc),
                    next_at=now + timedelta(seconds=delay) if retry else None,
                    now=now,
                )
            if retry:
                report.intake_retries += 1
            else:
                report.intake_failed += 1
            continue
        except (LeadpilotError, ValidationError) as exc:
            # The record cannot become a lead (a field leadpilot refuses): retrying will not
            # help, so the operators are told.
            message = getattr(exc, "message", None) or _validation_text(exc)
            with write_transaction(service.engine) as conn:
                inbox_failed(conn, row, message, next_at=None, now=now)
            report.intake_failed += 1
            continue
        with write_transaction(service.engine) as conn:
            finish_inbox(conn, row.id, lead_id=lead_id, now=now)
        if lead_id is not None:
            report.routed.append(lead_id)


def _validation_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"field {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return type(exc).__name__


def _route_event(
    service: RoutingService, connectors: Mapping[str, Any], row: Any, now: datetime
) -> str | None:
    """Route the record of one inbox event; the lead id (``None``: nothing to route)."""
    external_id = f"{row.crm}:{row.record_id}"
    if row.kind == "contact.propertyChange":
        with service.engine.connect() as conn:
            if find_lead_row(conn, external_id) is not None:
                return None  # a change to a lead already routed: nothing to decide
    if row.crm == "hubspot":
        connector = connectors.get("hubspot")
        if connector is None:
            raise CrmCallError("LEADPILOT_HUBSPOT_ACCESS_TOKEN is not set: cannot read contacts")
        payload = connector.fetch_contact(row.record_id)
    else:
        payload = dict(row.payload)
    lead_in = LeadCreate.model_validate(canonical_from_payload(payload, row.crm))
    lead = lead_from_create(lead_in, now)
    # The event id keys the intake: a retried event gets the stored outcome.
    outcome = service.intake(
        lead, idempotency_key=f"crm:{row.crm}:{row.event_id}", fingerprint=external_id
    )
    return outcome.lead_id


def _queue_writes(service: RoutingService, now: datetime, report: CrmReport) -> None:
    with write_transaction(service.engine) as conn:
        after = int(get_cursor(conn, _CURSOR) or 0)
        found = owner_decisions_after(conn, after, limit=_BATCH * 4)
        owners: dict[tuple[str, str], str | None] = {}
        for d in found:
            crm_name, _, record_id = str(d.external_id).partition(":")
            key = (crm_name, d.rep_id)
            if key not in owners:
                rep = get_rep(conn, d.rep_id)
                value = None if rep is None else rep.attributes.get(OWNER_COLUMNS[crm_name])
                owners[key] = None if value in (None, "") else str(value)
            report.superseded += enqueue_write(
                conn,
                crm=crm_name,
                record_id=record_id,
                lead_id=d.lead_id,
                decision_id=d.id,
                rep_id=d.rep_id,
                owner_id=owners[key],
                now=now,
            )
            report.queued_writes += 1
        if found:
            set_cursor(conn, _CURSOR, str(found[-1].id), now)


def _send_writes(
    service: RoutingService,
    crm: CrmSettings,
    connectors: Mapping[str, Any],
    now: datetime,
    report: CrmReport,
    rng: random.Random | None,
) -> None:
    with write_transaction(service.engine) as conn:
        rows = claim_writes(conn, now, lease=timedelta(seconds=crm.crm_lease_seconds), limit=_BATCH)
    for row in rows:
        connector = connectors.get(row.crm)
        try:
            if row.owner_id is None:
                raise CrmCallError(
                    f"rep {row.rep_id} has no {OWNER_COLUMNS[row.crm]} (add the column to "
                    "reps.csv and load the roster again)",
                    status=400,
                )
            if connector is None:
                raise CrmCallError(f"no {row.crm} credentials are set (see README, CRM set-up)")
            if row.crm == "email":
                _send_email(service, crm, connector, row, now)
            else:
                connector.set_owner(row.record_id, row.owner_id)
        except CrmCallError as exc:
            attempts = row.attempts + 1
            with write_transaction(service.engine) as conn:
                if exc.permanent or attempts >= crm.crm_max_attempts:
                    write_dead(conn, row, str(exc), now)
                    report.dead += 1
                else:
                    delay = next_delay(
                        attempts,
                        base=crm.crm_backoff_seconds,
                        cap=crm.crm_backoff_cap_seconds,
                        retry_after=exc.retry_after,
                        rng=rng,
                    )
                    write_retry(conn, row, str(exc), now + timedelta(seconds=delay))
                    report.write_retries += 1
            continue
        with write_transaction(service.engine) as conn:
            write_sent(conn, row.id, now)
        report.written.append((row.crm, row.record_id, row.owner_id))


def _send_email(
    service: RoutingService, crm: CrmSettings, sender: Any, row: Any, now: datetime
) -> None:
    with service.engine.connect() as conn:
        found = assignments_after(conn, row.decision_id - 1, limit=1)
    if not found or found[0].id != row.decision_id:
        raise CrmCallError(f"decision {row.decision_id} is gone", status=400)
    links = links_for(service, crm, found[0], now)
    subject, text = assignment_email(
        found[0], accept_url=links["accept"], decline_url=links["decline"]
    )
    sender.send(row.owner_id, subject, text)


class CrmWorker:
    """Runs ``run_crm_due`` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(
        self,
        service: RoutingService,
        crm: CrmSettings,
        connectors: Mapping[str, Any],
        interval: float,
    ) -> None:
        self.service = service
        self.crm = crm
        self.connectors = connectors
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="leadpilot-crm", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop and wait for it."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        last_sync: float | None = None
        while not self._stop.is_set():
            try:
                run_crm_due(self.service, self.crm, self.connectors)
            except Exception:  # the worker must outlive any one bad row
                log.exception("CRM poll failed")
            every = self.crm.crm_sync_minutes
            now = time.monotonic()
            if every and (last_sync is None or now - last_sync >= every * 60):
                last_sync = now
                for name, sync in (("hubspot", sync_hubspot), ("salesforce", sync_salesforce)):
                    if name not in self.connectors:
                        continue
                    try:
                        sync(self.service, self.connectors[name])
                    except Exception:  # a failed sync is retried at the next period
                        log.exception("%s outcome sync failed", name)
            self._stop.wait(self.interval)
