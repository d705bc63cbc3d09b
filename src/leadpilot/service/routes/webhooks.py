"""``/v1/webhooks/{hubspot,salesforce}``: CRM deliveries, verified and stored in the CRM
inbox within the CRM's timeout; the CRM worker routes them and writes the owner back.

Authentication is the CRM's own (no bearer token): HubSpot's v3 signature, Salesforce's
organization id (Outbound Messages) or a shared secret header (Flow / Apex callouts).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from leadpilot.crm.config import CrmSettings
from leadpilot.crm.hubspot import WebhookEvent, parse_hubspot_events
from leadpilot.crm.salesforce import SOAP_ACK, parse_json_callout, parse_outbound_message
from leadpilot.crm.signatures import verify_hubspot_v3
from leadpilot.service.deps import Ctx
from leadpilot.service.errors import error_body
from leadpilot.store.crm_queue import add_inbox_event
from leadpilot.store.engine import write_transaction

__all__ = ["router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

SECRET_HEADER = "x-leadpilot-secret"


def _unauthorized(message: str, hint: str) -> JSONResponse:
    return JSONResponse(error_body("Unauthorized", message, hint=hint), status_code=401)


def _crm(request: Request) -> CrmSettings:
    crm: CrmSettings = request.app.state.crm
    return crm


def _store(ctx: Any, crm: str, events: list[WebhookEvent]) -> dict[str, int]:
    now = ctx.clock()
    new = 0
    with write_transaction(ctx.engine) as conn:
        for event in events:
            new += add_inbox_event(
                conn,
                crm=crm,
                event_id=event.event_id,
                kind=event.kind,
                record_id=event.record_id,
                payload=event.payload,
                now=now,
            )
    return {"received": len(events), "new": new, "duplicates": len(events) - new}


def _called_uri(request: Request, public_url: str | None) -> str:
    """The URI as the CRM called it: behind a proxy, ``LEADPILOT_PUBLIC_URL`` + the path."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.post("/hubspot")
async def hubspot_webhook(request: Request, ctx: Ctx) -> Any:
    """A HubSpot webhook delivery (a JSON array of contact events), verified by its
    ``X-HubSpot-Signature-v3``; 401 when the signature is wrong or older than 5 minutes."""
    crm = _crm(request)
    if crm.hubspot_client_secret is None:
        return _unauthorized(
            "HubSpot webhooks cannot be verified: no client secret is configured",
            "set LEADPILOT_HUBSPOT_CLIENT_SECRET to the HubSpot app's client secret",
        )
    body = await request.body()
    problem = verify_hubspot_v3(
        crm.hubspot_client_secret.get_secret_value(),
        method=request.method,
        uri=_called_uri(request, crm.public_url),
        body=body,
        timestamp=request.headers.get("x-hubspot-request-timestamp"),
        signature=request.headers.get("x-hubspot-signature-v3"),
        now_ms=int(ctx.clock().timestamp() * 1000),
    )
    if problem is not None:
        return _unauthorized(
            f"HubSpot signature rejected: {problem}",
            "check LEADPILOT_HUBSPOT_CLIENT_SECRET, the server clock, and LEADPILOT_PUBLIC_URL "
            "when leadpilot runs behind a proxy",
        )
    return _store(ctx, "hubspot", parse_hubspot_events(body))


@router.post("/salesforce", response_model=None)
async def salesforce_webhook(request: Request, ctx: Ctx) -> Any:
    """A Salesforce Outbound Message (SOAP, answered with the SOAP ``Ack``; its
    ``OrganizationId`` must be ours) or a JSON callout from a Flow / Apex (header
    ``X-Leadpilot-Secret``)."""
    crm = _crm(request)
    body = await request.body()
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media.endswith("json"):
        secret = crm.salesforce_shared_secret
        sent = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(
            sent.encode(), secret.get_secret_value().encode()
        ):
            return _unauthorized(
                "Salesforce callout rejected: missing or wrong X-Leadpilot-Secret header",
                "send the value of LEADPILOT_SALESFORCE_SHARED_SECRET in X-Leadpilot-Secret",
            )
        return _store(ctx, "salesforce", parse_json_callout(body))
    org, events = parse_outbound_message(body)
    expected = crm.salesforce_organization_id
    # Salesforce ids come in 15- and 18-character forms; the first 15 are the id itself.
    if not expected or org[:15] != expected[:15]:
        return _unauthorized(
            "Salesforce Outbound Message rejected: its OrganizationId is not this org's",
            "set LEADPILOT_SALESFORCE_ORGANIZATION_ID to your org id (Setup > Company Information)",
        )
    _store(ctx, "salesforce", events)
    return Response(SOAP_ACK, media_type="text/xml")
