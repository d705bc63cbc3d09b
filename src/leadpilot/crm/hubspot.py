"""HubSpot through the official ``hubspot-api-client``: read a contact's properties, set
its owner (``hubspot_owner_id``), and parse webhook deliveries.

API: CRM v3 contacts, ``GET /crm/v3/objects/contacts/{id}?properties=...`` and
``PATCH /crm/v3/objects/contacts/{id}`` with ``{"properties": {"hubspot_owner_id": ...}}``.
Webhooks: a JSON array of events (``eventId``, ``subscriptionType`` such as
``contact.creation`` or ``contact.propertyChange``, ``objectId``, ``occurredAt``...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
)

from leadpilot.crm.retry import CrmCallError
from leadpilot.errors import DataValidationError

__all__ = [
    "CONTACT_PROPERTIES",
    "HubSpotConnector",
    "WebhookEvent",
    "parse_hubspot_events",
]

# The contact properties leadpilot maps onto lead fields (ingest.crm_payloads).
CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "company",
    "website",
    "industry",
    "numberofemployees",
    "annualrevenue",
    "country",
    "state",
    "jobtitle",
    "hs_language",
    "hs_analytics_source",
    "hubspotscore",
    "createdate",
    "lifecyclestage",
    "hubspot_owner_id",
)

_ROUTED_KINDS = ("contact.creation", "contact.propertyChange")


@dataclass(frozen=True)
class WebhookEvent:
    """One event of a webhook delivery, as the inbox stores it."""

    event_id: str
    kind: str
    record_id: str
    payload: dict[str, Any]


def parse_hubspot_events(body: bytes) -> list[WebhookEvent]:
    """The contact events of a HubSpot delivery (other object types are ignored)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise DataValidationError(
            "the HubSpot delivery is not JSON", hint="HubSpot sends a JSON array of events"
        ) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataValidationError(
            "the HubSpot delivery must be a JSON array of events",
            hint="HubSpot sends [{eventId, subscriptionType, objectId, ...}]",
        )
    out = []
    for item in data:
        if not isinstance(item, dict) or "eventId" not in item or "objectId" not in item:
            raise DataValidationError(
                "every HubSpot event needs eventId and objectId",
                hint="HubSpot sends [{eventId, subscriptionType, objectId, ...}]",
                details={"field": "eventId"},
            )
        kind = str(item.get("subscriptionType", ""))
        if kind not in _ROUTED_KINDS:
            continue
        out.append(
            WebhookEvent(
                event_id=str(item["eventId"]),
                kind=kind,
                record_id=str(item["objectId"]),
                payload=item,
            )
        )
    return out


def _failure(exc: Exception, what: str) -> CrmCallError:
    if isinstance(exc, ApiException):
        retry_after = None
        headers = exc.headers or {}
        raw = headers.get("Retry-After") if hasattr(headers, "get") else None
        if raw is not None:
            try:
                retry_after = float(raw)
            except ValueError:
                retry_after = None
        detail = ""
        try:
            detail = str(json.loads(exc.body or b"{}").get("message", ""))[:200]
        except (ValueError, AttributeError):
            detail = ""
        return CrmCallError(
            f"HubSpot {what}: HTTP {exc.status} {exc.reason or ''} {detail}".strip(),
            status=exc.status,
            retry_after=retry_after,
        )
    return CrmCallError(f"HubSpot {what}: {type(exc).__name__} (no answer)")


class HubSpotConnector:
    """The calls leadpilot makes, on one ``hubspot.HubSpot`` client."""

    crm_name = "hubspot"

    def __init__(self, access_token: str, *, base_url: str, timeout: float = 5.0) -> None:
        # retry=0: the outbox owns retries (backoff, Retry-After, dead letter).
        self._client = HubSpot(
            access_token=access_token, host=base_url.rstrip("/"), retry=urllib3.Retry(0)
        )
        self._timeout = timeout

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        try:
            yield
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure(exc, what) from None

    def fetch_contact(self, contact_id: str) -> dict[str, Any]:
        """``{"id", "properties"}`` of one contact (the shape ``crm_payloads`` maps)."""
        with self._call(f"reading contact {contact_id}"):
            found = self._client.crm.contacts.basic_api.get_by_id(
                contact_id, properties=list(CONTACT_PROPERTIES), _request_timeout=self._timeout
            )
        return {"id": str(found.id), "properties": dict(found.properties or {})}

    def changed_contacts(self, since_ms: int, properties: list[str]) -> list[dict[str, Any]]:
        """Contacts modified at or after ``since_ms`` (epoch ms), oldest first, through the
        CRM search API (``POST /crm/v3/objects/contacts/search``), every page."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[
                            Filter(
                                property_name="lastmodifieddate",
                                operator="GTE",
                                value=str(since_ms),
                            )
                        ]
                    )
                ],
                sorts=["lastmodifieddate"],
                properties=properties,
                limit=100,
                after=after,
            )
            with self._call("searching changed contacts"):
                page = self._client.crm.contacts.search_api.do_search(
                    public_object_search_request=request, _request_timeout=self._timeout
                )
            out.extend(
                {"id": str(r.id), "properties": dict(r.properties or {})} for r in page.results
            )
            nxt = getattr(getattr(page, "paging", None), "next", None)
            if nxt is None or not page.results:
                return out
            after = str(nxt.after)

    def check(self) -> list[tuple[str, bool, str]]:
        """Probe the calls leadpilot makes: ``(what, ok, detail)`` per check. Writing an
        owner cannot be probed without writing; the token needs the write scope too."""
        out = []
        for what, call in (
            (
                "read contacts (scope crm.objects.contacts.read)",
                lambda: self._client.crm.contacts.basic_api.get_page(
                    limit=1, _request_timeout=self._timeout
                ),
            ),
            (
                "read owners (scope crm.objects.owners.read)",
                lambda: self._client.crm.owners.owners_api.get_page(
                    limit=1, _request_timeout=self._timeout
                ),
            ),
        ):
            try:
                with self._call(what):
                    call()
                out.append((what, True, "ok"))
            except CrmCallError as exc:
                out.append((what, False, str(exc)))
        return out

    def set_owner(self, record_id: str, owner_id: str) -> None:
        """Set the contact's ``hubspot_owner_id``."""
        body = SimplePublicObjectInput(properties={"hubspot_owner_id": owner_id})
        with self._call(f"setting the owner of contact {record_id}"):
            self._client.crm.contacts.basic_api.update(
                record_id, simple_public_object_input=body, _request_timeout=self._timeout
            )
