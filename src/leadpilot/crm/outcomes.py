"""Which leadpilot events a CRM record's state means (outcome sync): first touch, meeting,
opportunity, won / lost, each with when it happened. Pure: the connectors fetch, the
service records the events (idempotent by an id made of the record and the event type).

HubSpot contact properties read: ``hs_first_outreach_date`` (first sales activity),
``engagements_last_meeting_booked``, ``lifecyclestage`` with
``hs_lifecyclestage_opportunity_date`` / ``hs_lifecyclestage_customer_date``, and
``hs_lead_status`` ``UNQUALIFIED`` (lost, at ``lastmodifieddate``).

Salesforce Lead fields read: ``IsConverted`` with ``ConvertedOpportunity`` (``CreatedDate``,
``IsClosed``, ``IsWon``, ``CloseDate``), ``Status`` (a status naming "Unqualified" or
"Not Converted" is a loss), and the Lead's first Task (first touch) and first Event
(meeting) found by the connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["HUBSPOT_SYNC_PROPERTIES", "hubspot_outcomes", "parse_crm_time", "salesforce_outcomes"]

HUBSPOT_SYNC_PROPERTIES = (
    "hs_first_outreach_date",
    "engagements_last_meeting_booked",
    "lifecyclestage",
    "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date",
    "hs_lead_status",
    "lastmodifieddate",
)

# Lifecycle stages at or past an opportunity, in HubSpot's order.
_PAST_OPPORTUNITY = ("opportunity", "customer", "evangelist")


def parse_crm_time(value: Any) -> datetime | None:
    """An ISO-8601 time or epoch milliseconds (both occur in HubSpot), as aware UTC."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    if len(text) == 10:  # a date (Salesforce CloseDate): midnight UTC
        text += "T00:00:00+00:00"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def hubspot_outcomes(props: Mapping[str, Any]) -> list[tuple[str, datetime]]:
    """The events a contact's properties show, oldest kind first."""
    out: list[tuple[str, datetime]] = []
    modified = parse_crm_time(props.get("lastmodifieddate"))
    touch = parse_crm_time(props.get("hs_first_outreach_date"))
    if touch is not None:
        out.append(("first_touch", touch))
    meeting = parse_crm_time(props.get("engagements_last_meeting_booked"))
    if meeting is not None:
        out.append(("meeting_booked", meeting))
    stage = str(props.get("lifecyclestage") or "").lower()
    if stage in _PAST_OPPORTUNITY:
        when = parse_crm_time(props.get("hs_lifecyclestage_opportunity_date")) or modified
        if when is not None:
            out.append(("opportunity_created", when))
    if stage in ("customer", "evangelist"):
        when = parse_crm_time(props.get("hs_lifecyclestage_customer_date")) or modified
        if when is not None:
            out.append(("closed_won", when))
    elif str(props.get("hs_lead_status") or "").upper() == "UNQUALIFIED" and modified:
        out.append(("closed_lost", modified))
    return out


def salesforce_outcomes(
    record: Mapping[str, Any],
    *,
    first_touch: datetime | None = None,
    first_meeting: datetime | None = None,
) -> list[tuple[str, datetime]]:
    """The events a Lead record (with its converted opportunity) shows."""
    out: list[tuple[str, datetime]] = []
    if first_touch is not None:
        out.append(("first_touch", first_touch))
    if first_meeting is not None:
        out.append(("meeting_booked", first_meeting))
    modified = parse_crm_time(record.get("LastModifiedDate"))
    opportunity = record.get("ConvertedOpportunity")
    if record.get("IsConverted") and isinstance(opportunity, Mapping):
        created = parse_crm_time(opportunity.get("CreatedDate")) or parse_crm_time(
            record.get("ConvertedDate")
        )
        if created is not None:
            out.append(("opportunity_created", created))
        if opportunity.get("IsClosed"):
            closed = parse_crm_time(opportunity.get("CloseDate")) or modified
            if closed is not None:
                out.append(("closed_won" if opportunity.get("IsWon") else "closed_lost", closed))
        return out
    status = str(record.get("Status") or "").lower()
    if modified is not None and ("unqualified" in status or "not converted" in status):
        out.append(("closed_lost", modified))
    return out
