"""Map raw CRM webhook payloads (HubSpot, Salesforce) onto canonical lead fields.

HubSpot: the CRM v3 object shape ``{"id", "properties": {...}}`` and the legacy contact shape
whose property values are ``{"value": ...}``. Salesforce: a Lead sObject (``Id``, ``Email``,
``Company``...), bare or under ``sObject`` (outbound messages). Fields with no canonical
counterpart are kept as ``attributes`` so policy rules can still use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from leadpilot.errors import DataValidationError

__all__ = ["PAYLOAD_FORMATS", "canonical_from_payload"]

PAYLOAD_FORMATS: tuple[str, ...] = ("canonical", "hubspot", "salesforce")

_HUBSPOT = {
    "email": "email",
    "company": "company",
    "website": "website",
    "domain": "domain",
    "industry": "industry",
    "numberofemployees": "company_size",
    "annualrevenue": "annual_revenue",
    "country": "country",
    "state": "state",
    "region": "region",
    "hs_analytics_source": "source",
    "leadsource": "source",
    "jobtitle": "title",
    "hs_language": "language",
    "product": "product",
    "hubspotscore": "engagement_score",
    "createdate": "created_at",
}

_SALESFORCE = {
    "Email": "email",
    "Company": "company",
    "Website": "website",
    "Industry": "industry",
    "NumberOfEmployees": "company_size",
    "AnnualRevenue": "annual_revenue",
    "Country": "country",
    "State": "state",
    "Region__c": "region",
    "LeadSource": "source",
    "Title": "title",
    "Language__c": "language",
    "Product__c": "product",
    "Engagement_Score__c": "engagement_score",
    "CreatedDate": "created_at",
}

_MAX_ATTRIBUTES = 100
# A CRM record id that is also a valid lead id becomes the lead id (the API's id pattern).
_LEAD_ID = re.compile(r"[A-Za-z0-9_.:@\-]{1,128}")


def _scalar(value: Any) -> Any:
    if isinstance(value, Mapping) and "value" in value:
        value = value["value"]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return None


def _map(source: Mapping[str, Any], mapping: Mapping[str, str], skip: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, raw in source.items():
        if key in skip:
            continue
        value = _scalar(raw)
        if value == "":
            value = None
        if key in mapping:
            out[mapping[key]] = value
        elif value is not None and len(attributes) < _MAX_ATTRIBUTES:
            attributes[str(key)[:128]] = value[:1024] if isinstance(value, str) else value
    # company_size stays text: the intake schema reads a count or a band (51-200).
    for numeric in ("annual_revenue", "engagement_score"):
        if isinstance(out.get(numeric), str):
            try:
                out[numeric] = float(out[numeric].replace(",", ""))
            except ValueError:
                raise DataValidationError(
                    f"field {numeric!r} is not a number: {out[numeric]!r}",
                    hint="send a plain number (e.g. 120) or leave the field empty",
                    details={"field": numeric},
                ) from None
    out["attributes"] = attributes
    return out


def canonical_from_payload(payload: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """Return canonical lead fields (the ``LeadCreate`` shape) from a raw CRM payload. The
    CRM record id is kept as ``external_id`` (``hubspot:901``, ``salesforce:00Q...``) and, when
    it fits the id pattern, as the lead id too, so the lead is found by the CRM's own id."""
    out = _from_payload(payload, fmt)
    external = out.get("external_id")
    if isinstance(external, str) and _LEAD_ID.fullmatch(external):
        out["lead_id"] = external
    return out


def _from_payload(payload: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    if fmt == "hubspot":
        props = payload.get("properties")
        if not isinstance(props, Mapping):
            raise DataValidationError(
                "a HubSpot payload needs a 'properties' object",
                hint='send {"id": "...", "properties": {"email": "...", ...}}',
                details={"field": "properties"},
            )
        out = _map(props, _HUBSPOT, {"hs_object_id"})
        object_id = payload.get("id") or payload.get("vid") or props.get("hs_object_id")
        object_id = _scalar(object_id)
        if object_id is not None:
            out["external_id"] = f"hubspot:{object_id}"
        return out
    if fmt == "salesforce":
        record = payload.get("sObject", payload)
        if not isinstance(record, Mapping):
            raise DataValidationError(
                "a Salesforce payload must be a Lead object",
                hint='send {"Id": "00Q...", "Email": "...", "Company": "..."}',
                details={"field": "sObject"},
            )
        out = _map(record, _SALESFORCE, {"attributes", "Id", "FirstName", "LastName", "Name"})
        if record.get("Id"):
            out["external_id"] = f"salesforce:{_scalar(record['Id'])}"
        return out
    raise DataValidationError(
        f"unknown payload format {fmt!r}",
        hint=f"use ?format= one of: {', '.join(PAYLOAD_FORMATS)}",
        details={"field": "format"},
    )
