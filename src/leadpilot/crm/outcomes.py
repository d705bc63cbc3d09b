"""Which leadpilot events a CRM record's state means (outcome sync): first touch, meeting,
opportunity, won / lost, each with when it happened. Pure: the connectors fetch, the
service records the events (idempotent by an id made of the record and the event type).

HubSpot contact properties read: ``hs_first_outreach_date`` (first sales activity),
``engagements_last_meeting_booked``, ``lifecyclestage`` with
``hs_lifecyclestage_opportunity_date`` / ``hs_lifecyclestage_customer_date``, and
``hs_lead_status`` ``UNQUALIFIED`` (lost, at ``lastmodifieddate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["HUBSPOT_SYNC_PROPERTIES", "hubspot_outcomes", "parse_crm_time"]

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
