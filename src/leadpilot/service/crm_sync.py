"""Outcome sync: pull status changes of CRM records into leadpilot events (first touch,
meeting, opportunity, won / lost), incrementally from a stored cursor, so the KPIs and
retraining use CRM truth. Each event id is ``<crm>-sync:<record>:<type>``, so a record
seen again records nothing twice (``POST /v1/events`` semantics through ``handle_event``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leadpilot.crm.hubspot import HubSpotConnector
from leadpilot.crm.outcomes import HUBSPOT_SYNC_PROPERTIES, hubspot_outcomes, parse_crm_time
from leadpilot.errors import LeadpilotError
from leadpilot.service.core import RoutingService
from leadpilot.service.events import handle_event
from leadpilot.service.schemas import EventCreate
from leadpilot.store.crm_queue import get_cursor, set_cursor
from leadpilot.store.engine import write_transaction
from leadpilot.store.leads import find_lead_row

__all__ = ["SyncReport", "sync_hubspot"]


@dataclass
class SyncReport:
    """What one sync did."""

    records: int = 0
    recorded: list[tuple[str, str]] = field(default_factory=list)  # lead id, event type
    already: int = 0
    unknown: int = 0  # records that are not leadpilot leads
    refused: list[str] = field(default_factory=list)
    cursor: str | None = None


def sync_hubspot(
    service: RoutingService, connector: HubSpotConnector, since: datetime | None = None
) -> SyncReport:
    """Sync HubSpot contacts changed since ``since`` (default: the stored cursor; the first
    sync without one starts at the epoch) and move the cursor to the newest change seen."""
    name = "sync:hubspot"
    if since is None:
        with service.engine.connect() as conn:
            stored = get_cursor(conn, name)
        since = parse_crm_time(stored) if stored else None
    since_ms = int(since.timestamp() * 1000) if since is not None else 0
    contacts = connector.changed_contacts(since_ms, list(HUBSPOT_SYNC_PROPERTIES))
    report = SyncReport(records=len(contacts))
    newest = since
    for contact in contacts:
        lead_id = f"hubspot:{contact['id']}"
        props = contact["properties"]
        modified = parse_crm_time(props.get("lastmodifieddate"))
        if modified is not None and (newest is None or modified > newest):
            newest = modified
        with service.engine.connect() as conn:
            if find_lead_row(conn, lead_id) is None:
                report.unknown += 1
                continue
        for kind, when in hubspot_outcomes(props):
            body = EventCreate(
                event_id=f"hubspot-sync:{contact['id']}:{kind}",
                type=kind,
                lead_id=lead_id,
                occurred_at=when,
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
    if newest is not None:
        report.cursor = newest.isoformat()
        with write_transaction(service.engine) as conn:
            set_cursor(conn, name, report.cursor, service.clock())
    return report
