"""``leadpilot demo --crm-stub``: the CRM round trip against a local stub of HubSpot,
Salesforce and Slack, through the official client libraries: a webhook comes in, the lead
is routed, its owner is written back (through a rate limit), the rep is told and accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_crm_demo"]

_SECRET = "demo-hubspot-client-secret"
_ORG = "00D5e000000KQ2eEAG"
_SOAP = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
  <OrganizationId>{org}</OrganizationId><ActionId>04k5e000000CaRkAAK</ActionId>
  <SessionId xsi:nil="true"/>
  <Notification><Id>04l5e00000Gx7QzAAJ</Id>
   <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
    <sf:Id>00Q5e00000AbCdEFGH</sf:Id><sf:Company>Gamma GmbH</sf:Company>
    <sf:Email>eva@gamma.de</sf:Email><sf:Country>DE</sf:Country>
   </sObject></Notification>
 </notifications></soapenv:Body></soapenv:Envelope>"""


@dataclass
class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def run_crm_demo(out: Console, workdir: Path) -> None:
    """Run the round trip in ``workdir`` (a fresh SQLite database there) and narrate it."""
    import warnings

    import httpx
    import requests

    with warnings.catch_warnings():  # starlette's notice about its httpx transport
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from leadpilot.crm.config import CrmSettings
    from leadpilot.crm.hubspot import HubSpotConnector
    from leadpilot.crm.salesforce import SalesforceConnector
    from leadpilot.crm.stub import CrmStub, StubServer, self_signed
    from leadpilot.schema import Rep
    from leadpilot.service.app import create_app
    from leadpilot.service.crm_worker import run_crm_due
    from leadpilot.service.worker import run_due
    from leadpilot.settings import Settings
    from leadpilot.store.engine import make_engine, write_transaction
    from leadpilot.store.migrate import upgrade
    from leadpilot.store.reps import upsert_reps

    db = workdir / "crm-demo.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    reps = [
        Rep(
            rep_id=f"rep-{i}",
            name=name,
            pool="sdr",
            timezone="UTC",
            max_leads_per_day=50,
            attributes={
                "hubspot_owner_id": str(7000 + i),
                "salesforce_user_id": f"0055e000001AAAAAA{i}",
            },
        )
        for i, name in ((1, "Ana"), (2, "Ben"), (3, "Chloe"))
    ]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
    stub = CrmStub(contacts={"901": {"email": "li@acme.io", "company": "Acme", "country": "US"}})
    clock = _Clock(datetime.now(UTC).replace(microsecond=0))
    with tempfile.TemporaryDirectory() as certs:
        tls = self_signed(Path(certs))
        with StubServer(stub) as hs, StubServer(stub, tls=tls) as sf:
            session = requests.Session()
            session.verify, session.trust_env = str(tls[0]), False
            crm = CrmSettings(
                hubspot_client_secret=SecretStr(_SECRET),
                salesforce_organization_id=_ORG,
                public_url="http://testserver",
                notify_webhook_url=f"{hs.url}/slack/demo",
            )
            connectors: dict[str, Any] = {
                "hubspot": HubSpotConnector("demo-token", base_url=hs.url),
                "salesforce": SalesforceConnector(
                    "demo-session", instance_url=sf.url, session=session
                ),
            }
            app = create_app(
                Settings(worker_enabled=False, background_pricing=False),
                engine=engine,
                clock=clock,
                seed=0,
                crm=crm,
                crm_connectors=connectors,
            )
            rng = random.Random(0)
            with TestClient(app) as client:
                out.print(
                    f"Local stubs: HubSpot at {hs.url}, Salesforce at {sf.url} (TLS), Slack at "
                    f"{hs.url}/slack; the clients are hubspot-api-client and simple-salesforce."
                )
                _hubspot(out, client, stub, clock)
                report = run_crm_due(app.state.ctx.service, crm, connectors, clock(), rng)
                _routed(out, engine, "hubspot:901", report.routed)
                out.print(
                    "Owner written back: "
                    + ", ".join(f"PATCH {c.path} {json.dumps(c.body)}" for c in stub.writes())
                )
                with httpx.Client() as http:
                    run_due(app.state.ctx.service, clock(), client=http)
                message = stub.slack()[-1]
                out.print(f"Slack message to the rep: {message['text'].splitlines()[0]}")
                accept = message["accept_url"].removeprefix("http://testserver")
                first = client.post(accept)
                again = client.post(accept)
                out.print(
                    f"The rep clicks Accept: HTTP {first.status_code}; the same link again: "
                    f"HTTP {again.status_code} (single use)."
                )
                _salesforce(out, client, stub)
                report = run_crm_due(app.state.ctx.service, crm, connectors, clock(), rng)
                _routed(out, engine, "salesforce:00Q5e00000AbCdEFGH", report.routed)
                sf_writes = [c for c in stub.writes() if "/sobjects/" in c.path]
                out.print(
                    "Owner written back: "
                    + ", ".join(f"PATCH {c.path} {json.dumps(c.body)}" for c in sf_writes)
                )
                with httpx.Client() as http:
                    run_due(app.state.ctx.service, clock(), client=http)
                decline = stub.slack()[-1]["decline_url"].removeprefix("http://testserver")
                stub.write_failures = [(429, {"Retry-After": "5"})]
                declined = client.post(decline)
                out.print(f"That rep clicks Decline: HTTP {declined.status_code}.")
                _rate_limit(out, app, crm, connectors, clock, rng)
    engine.dispose()


def _routed(out: Console, engine: Any, lead_id: str, routed: list[str]) -> None:
    from leadpilot.store.decisions import live_decision

    with engine.connect() as conn:
        stored = live_decision(conn, lead_id)
    decision = stored.decision if stored is not None else None
    why = ", ".join(decision.reasons[:3]) if decision is not None else "-"
    rep = decision.rep_id if decision is not None else None
    out.print(f"The worker routed {', '.join(routed) or '(nothing)'} to [bold]{rep}[/] ({why}).")


def _hubspot(out: Console, client: Any, stub: Any, clock: _Clock) -> None:
    body = json.dumps(
        [
            {
                "eventId": 1001,
                "subscriptionId": 1,
                "portalId": 62515,
                "appId": 54321,
                "occurredAt": int(clock().timestamp() * 1000),
                "subscriptionType": "contact.creation",
                "attemptNumber": 0,
                "objectId": 901,
                "changeSource": "CRM",
                "changeFlag": "NEW",
            }
        ]
    ).encode()
    ts = str(int(clock().timestamp() * 1000))
    uri = "http://testserver/v1/webhooks/hubspot"
    mac = hmac.new(_SECRET.encode(), b"POST" + uri.encode() + body + ts.encode(), hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-hubspot-signature-v3": base64.b64encode(mac.digest()).decode(),
        "x-hubspot-request-timestamp": ts,
    }
    first = client.post("/v1/webhooks/hubspot", content=body, headers=headers)
    again = client.post("/v1/webhooks/hubspot", content=body, headers=headers)
    forged = client.post(
        "/v1/webhooks/hubspot", content=body.replace(b"901", b"902"), headers=headers
    )
    out.print(
        f"HubSpot contact.creation webhook (signed v3): HTTP {first.status_code} {first.json()}; "
        f"delivered again: {again.json()}; altered body: HTTP {forged.status_code}."
    )


def _salesforce(out: Console, client: Any, stub: Any) -> None:
    answer = client.post(
        "/v1/webhooks/salesforce",
        content=_SOAP.format(org=_ORG).encode(),
        headers={"content-type": "text/xml; charset=utf-8"},
    )
    ack = "<Ack>true</Ack>" in answer.text
    out.print(
        f"Salesforce Outbound Message (Lead 00Q5e00000AbCdEFGH): HTTP {answer.status_code}, "
        f"SOAP Ack {'sent' if ack else 'MISSING'}."
    )


def _rate_limit(out: Console, app: Any, crm: Any, connectors: Any, clock: _Clock, rng: Any) -> None:
    """The reassignment's owner write meets a rate limit: it waits for Retry-After."""
    from leadpilot.service.crm_worker import run_crm_due

    service = app.state.ctx.service
    first = run_crm_due(service, crm, connectors, clock(), rng)
    clock.now += timedelta(seconds=5)
    second = run_crm_due(service, crm, connectors, clock(), rng)
    out.print(
        f"Reassigned; writing the new owner met HTTP 429 Retry-After: 5 "
        f"({first.write_retries} retry scheduled); 5 s later it went through: "
        f"{second.written}."
    )
