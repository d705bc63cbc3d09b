"""Salesforce through the official ``simple-salesforce``: set a Lead's ``OwnerId``, and
parse Outbound Messages (SOAP, safely with ``defusedxml``) and JSON callouts.

An Outbound Message is a SOAP ``notifications`` element holding ``OrganizationId``,
``ActionId`` and one ``Notification`` (``Id``, ``sObject`` with the chosen Lead fields) per
record; the listener answers ``<notificationsResponse><Ack>true</Ack>`` or Salesforce
re-sends it (Salesforce "Outbound Messaging" guide, the WSDL it generates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from leadpilot.crm.hubspot import WebhookEvent
from leadpilot.crm.retry import CrmCallError
from leadpilot.errors import DataValidationError

__all__ = [
    "SOAP_ACK",
    "SalesforceConnector",
    "parse_json_callout",
    "parse_outbound_message",
]

_OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
_SF_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"

SOAP_ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{_OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _bad(message: str) -> DataValidationError:
    return DataValidationError(
        message, hint="send the Outbound Message exactly as Salesforce does (SOAP 1.1)"
    )


def parse_outbound_message(body: bytes) -> tuple[str, list[WebhookEvent]]:
    """``(organization id, one event per Lead notification)`` of an Outbound Message; each
    event's payload is the Lead's fields (``Id``, ``Email``...), xsi:nil fields as None."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException):
        raise _bad("the Outbound Message is not well-formed XML (or uses DTDs/entities)") from None
    notifications = next((e for e in root.iter() if _local(e.tag) == "notifications"), None)
    if notifications is None:
        raise _bad("the SOAP body has no notifications element")
    org = _child(notifications, "OrganizationId")
    if org is None or not (org.text or "").strip():
        raise _bad("the Outbound Message has no OrganizationId")
    events = []
    for note in notifications:
        if _local(note.tag) != "Notification":
            continue
        note_id, record = _child(note, "Id"), _child(note, "sObject")
        if note_id is None or record is None:
            raise _bad("a Notification needs an Id and an sObject")
        fields: dict[str, Any] = {}
        for field in record:
            nil = field.get(_XSI_NIL) == "true"
            fields[_local(field.tag)] = None if nil else (field.text or "")
        if not fields.get("Id"):
            raise _bad("a Notification's sObject needs its Id")
        events.append(
            WebhookEvent(
                event_id=(note_id.text or "").strip(),
                kind="outbound_message",
                record_id=str(fields["Id"]),
                payload={"sObject": fields},
            )
        )
    return (org.text or "").strip(), events


def parse_json_callout(body: bytes) -> list[WebhookEvent]:
    """A Flow / Apex callout: ``{"event_id", "lead": {"Id", "Email", ...}}`` or a list of
    them. ``event_id`` makes a retried callout idempotent."""
    try:
        data = json.loads(body)
    except ValueError:
        raise DataValidationError("the callout body is not JSON", hint=_CALLOUT_HINT) from None
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        lead = item.get("lead") if isinstance(item, dict) else None
        if not isinstance(lead, dict) or not lead.get("Id") or not item.get("event_id"):
            raise DataValidationError(
                "every callout item needs event_id and a lead object with its Id",
                hint=_CALLOUT_HINT,
                details={"field": "lead"},
            )
        out.append(
            WebhookEvent(
                event_id=str(item["event_id"]),
                kind="json_callout",
                record_id=str(lead["Id"]),
                payload={"sObject": lead},
            )
        )
    return out


_CALLOUT_HINT = 'send {"event_id": "...", "lead": {"Id": "00Q...", "Email": "...", ...}}'


class SalesforceConnector:
    """The calls leadpilot makes, on one ``simple_salesforce.Salesforce`` client."""

    crm_name = "salesforce"

    def __init__(
        self,
        access_token: str,
        *,
        instance_url: str,
        version: str = "59.0",
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self._client: Any = Salesforce(
            instance_url=instance_url,
            session_id=access_token,
            version=version,
            session=session or requests.Session(),
        )
        self._timeout = timeout

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        try:
            yield
        except SalesforceError as exc:
            detail = ""
            if isinstance(exc.content, list) and exc.content:
                first = exc.content[0]
                if isinstance(first, dict):
                    detail = f"{first.get('errorCode', '')} {first.get('message', '')}"
            status = exc.status
            # Salesforce signals an exhausted API allowance as 403 REQUEST_LIMIT_EXCEEDED.
            if status == 403 and "REQUEST_LIMIT_EXCEEDED" in detail:
                status = 429
            raise CrmCallError(
                f"Salesforce {what}: HTTP {exc.status} {detail[:200]}".strip(), status=status
            ) from None
        except requests.RequestException as exc:
            raise CrmCallError(f"Salesforce {what}: {type(exc).__name__} (no answer)") from None

    def check(self) -> list[tuple[str, bool, str]]:
        """Describe the Lead object: readable, and ``OwnerId`` updateable by this user."""
        try:
            with self._call("describing Lead"):
                described = self._client.Lead.describe()
        except CrmCallError as exc:
            return [("read the Lead object (API Enabled, Read on Leads)", False, str(exc))]
        fields: list[dict[str, Any]] = described.get("fields", [])
        owner: dict[str, Any] = next((f for f in fields if f.get("name") == "OwnerId"), {})
        writable = bool(described.get("updateable")) and bool(owner.get("updateable"))
        return [
            ("read the Lead object (API Enabled, Read on Leads)", True, "ok"),
            (
                "update Lead.OwnerId (Edit on Leads, Transfer Leads or Transfer Record)",
                writable,
                "ok" if writable else "Lead or its OwnerId field is not updateable by this user",
            ),
        ]

    def changed_leads(self, since: datetime | None) -> list[dict[str, Any]]:
        """Leads modified at or after ``since`` (all when ``None``), oldest first, with
        their converted opportunity (SOQL through ``query_all``)."""
        where = ""
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            where = f" WHERE LastModifiedDate >= {stamp}"
        # SOQL has no bind parameters; the only value is a formatted datetime.
        soql = (
            "SELECT Id, Status, IsConverted, ConvertedDate, LastModifiedDate, "  # noqa: S608
            "ConvertedOpportunity.CreatedDate, ConvertedOpportunity.IsClosed, "
            "ConvertedOpportunity.IsWon, ConvertedOpportunity.CloseDate FROM Lead"
            f"{where} ORDER BY LastModifiedDate"
        )
        with self._call("querying changed leads"):
            found = self._client.query_all(soql)
        return [dict(r) for r in found.get("records", [])]

    def first_activity(self, sobject: str, column: str, lead_ids: list[str]) -> dict[str, str]:
        """``lead id -> earliest column value`` of the Leads' Tasks or Events."""
        if (sobject, column) not in (("Task", "CreatedDate"), ("Event", "StartDateTime")):
            raise ValueError(f"not an activity leadpilot reads: {sobject}.{column}")
        out: dict[str, str] = {}
        for start in range(0, len(lead_ids), 200):  # keep each SOQL well under its size cap
            chunk = lead_ids[start : start + 200]
            if not all(_SF_ID.fullmatch(i) for i in chunk):
                raise CrmCallError("Salesforce ids must be 15 or 18 letters and digits")
            quoted = ", ".join(f"'{i}'" for i in chunk)
            # Values are ids checked against _SF_ID; object and column are leadpilot's own.
            soql = (
                f"SELECT WhoId, MIN({column}) First FROM {sobject} "  # noqa: S608
                f"WHERE WhoId IN ({quoted}) GROUP BY WhoId"
            )
            with self._call(f"querying first {sobject}s"):
                found = self._client.query_all(soql)
            for row in found.get("records", []):
                if row.get("WhoId") and row.get("First"):
                    out[str(row["WhoId"])] = str(row["First"])
        return out

    def set_owner(self, record_id: str, owner_id: str) -> None:
        """Set the Lead's ``OwnerId``."""
        with self._call(f"setting the owner of lead {record_id}"):
            self._client.Lead.update(record_id, {"OwnerId": owner_id})

    def fetch_lead(self, record_id: str) -> dict[str, Any]:
        """A Lead's fields."""
        with self._call(f"reading lead {record_id}"):
            found = self._client.Lead.get(record_id)
        return dict(found)
