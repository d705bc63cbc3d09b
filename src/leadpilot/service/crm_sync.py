"""Outcome sync: pull status changes of CRM records into leadpilot events (first touch,
meeting, opportunity, won / lost), incrementally from a stored cursor, so the KPIs and
retraining use CRM truth. Each event id is ``<crm>-sync:<record>:<type>``, so a record
seen again records nothing twice (``POST /v1/events`` semantics through ``handle_event``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leadpilot.crm.hubspot import HubSpotConnector
from leadpilot.crm.outcomes import (
    HUBSPOT_SYNC_PROPERTIES,
    hubspot_outcomes,
    parse_crm_time,
    salesforce_outcomes,
)
from leadpilot.crm.salesforce import SalesforceConnector
from leadpilot.errors import LeadpilotError
from leadpilot.service.core import RoutingService
from leadpilot.service.events import handle_event
from leadpilot.service.schemas import EventCreate
from leadpilot.store.crm_queue import get_cursor, set_cursor
from leadpilot.store.engine import write_transaction
from leadpilot.store.leads import find_lead_row

__all__ = ["SyncReport", "sync_hubspot", "sync_salesforce"]


@dataclass
class SyncReport:
    """What one sync did."""

    records: int = 0
    recorded: list[tuple[str, str]] = field(default_factory=list)  # lead id, event type
    already: int = 0
    unknown: int = 0  # records that are not leadpilot leads
    refused: list[str] = field(default_factory=list)
    cursor: str | None = None


def _start(service: RoutingService, name: str, since: datetime | None) -> datetime | None:
    if since is not None:
        return since
    with service.engine.connect() as conn:
        stored = get_cursor(conn, name)
    return parse_crm_time(stored) if stored else None


def _record(
    service: RoutingService,
    report: SyncReport,
    crm: str,
    record_id: str,
    outcomes: list[tuple[str, datetime]],
) -> None:
    lead_id = f"{crm}:{record_id}"
    with service.engine.connect() as conn:
        if find_lead_row(conn, lead_id) is None:
            report.unknown += 1
            return
    for kind, when in outcomes:
        body = EventCreate(
            event_id=f"{crm}-sync:{record_id}:{kind}", type=kind, lead_id=lead_id, occurred_at=when
        )
        try:
            outcome = handle_event(service, body)
        except LeadpilotError as exc:
            report.refused.append(f"{lead_id} {kind}: {exc.message}")
            continue
        if outcome.duplicate:
            report.already += 1
        else:
            report.recorded.append((lead_id, kind))


def _finish(
    service: RoutingService, report: SyncReport, name: str, newest: datetime | None
) -> SyncReport:
    if newest is not None:
        report.cursor = newest.isoformat()
        with write_transaction(service.engine) as conn:
            set_cursor(conn, name, report.cursor, service.clock())
    return report


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def sync_hubspot(
    service: RoutingService, connector: HubSpotConnector, since: datetime | None = None
) -> SyncReport:
    """Sync HubSpot contacts changed since ``since`` (default: the stored cursor; the first
    sync without one starts at the epoch) and move the cursor to the newest change seen."""
    name = "sync:hubspot"
    since = _start(service, name, since)
    since_ms = int(since.timestamp() * 1000) if since is not None else 0
    contacts = connector.changed_contacts(since_ms, list(HUBSPOT_SYNC_PROPERTIES))
    report = SyncReport(records=len(contacts))
    newest = since
    for contact in contacts:
        props = contact["properties"]
        newest = _later(newest, parse_crm_time(props.get("lastmodifieddate")))
        _record(service, report, "hubspot", str(contact["id"]), hubspot_outcomes(props))
    return _finish(service, report, name, newest)


def sync_salesforce(
    service: RoutingService, connector: SalesforceConnector, since: datetime | None = None
) -> SyncReport:
    """Sync Salesforce Leads modified since ``since`` (default: the stored cursor): their
    conversion and opportunity, plus their first Task (first touch) and first Event
    (meeting)."""
    name = "sync:salesforce"
    since = _start(service, name, since)
    records = connector.changed_leads(since)
    ids = [str(r["Id"]) for r in records]
    touches = connector.first_activity("Task", "CreatedDate", ids)
    meetings = connector.first_activity("Event", "StartDateTime", ids)
    report = SyncReport(records=len(records))
    newest = since
    for record in records:
        newest = _later(newest, parse_crm_time(record.get("LastModifiedDate")))
        record_id = str(record["Id"])
        outcomes = salesforce_outcomes(
            record,
            first_touch=parse_crm_time(touches.get(record_id)),
            first_meeting=parse_crm_time(meetings.get(record_id)),
        )
        _record(service, report, "salesforce", record_id, outcomes)
    return _finish(service, report, name, newest)
