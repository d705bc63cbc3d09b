"""CRM intake and owner write-back, end to end through the official client libraries
(``hubspot-api-client``, ``simple-salesforce``) against a loopback stub (``crm_stub``).

Vendor documentation the requests and answers are based on:
- HubSpot, "Validating requests" (v3 signature: base64 HMAC-SHA256 of method + URI + body +
  X-HubSpot-Request-Timestamp with the app's client secret; reject timestamps older than
  5 minutes): https://developers.hubspot.com/docs/api/webhooks/validating-requests
- HubSpot webhook payload (array of events: eventId, subscriptionId, portalId, occurredAt,
  subscriptionType, attemptNumber, objectId, changeSource, changeFlag, appId), e.g. in
  https://developers.hubspot.com/docs/faq/v1-request-validation
- HubSpot CRM v3 contacts: https://developers.hubspot.com/docs-beta/crm/contacts
- Salesforce Outbound Messaging WSDL (notifications: OrganizationId, ActionId, SessionId,
  EnterpriseUrl, PartnerUrl, Notification{Id, sObject}; notificationsResponse/Ack):
  https://developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html
- Salesforce REST sObject Rows (PATCH .../sobjects/Lead/{id} answers 204).
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import hashlib
import hmac
import json
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import sqlalchemy as sa
from defusedxml.ElementTree import fromstring
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
from leadpilot.store.crm_tables import crm_inbox, crm_outbox
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import alerts, events, leads
from leadpilot.store.tokens import create_token
from tests.service.conftest import Api, Clock, migrated_engine

SECRET = "hs-client-secret-for-tests"
TOKEN = "pat-na1-secret-token-never-logged"
SF_TOKEN = "00Dsf!secret-session-never-logged"
ORG = "00D5e000000KQ2eEAG"
OWNERS = {"rep-01": "7001", "rep-02": "7002", "rep-03": "7003"}
SF_USERS = {
    "rep-01": "0055e000001AAAAAA1",
    "rep-02": "0055e000001AAAAAA2",
    "rep-03": "0055e000001AAAAAA3",
}


def crm_reps() -> list[Rep]:
    return [
        Rep(
            rep_id=rep_id,
            name=rep_id,
            pool="sdr",
            max_leads_per_day=100,
            timezone="UTC",
            attributes={"hubspot_owner_id": OWNERS[rep_id], "salesforce_user_id": SF_USERS[rep_id]},
        )
        for rep_id in OWNERS
    ]


class World:
    """An app with CRM connectors pointed at the stub, and the stub."""

    def __init__(self, api: Api, stub: CrmStub, crm: CrmSettings, connectors: dict[str, Any]):
        self.api, self.stub, self.crm, self.connectors = api, stub, crm, connectors

    def run(self, **advance: float) -> Any:
        if advance:
            self.api.clock.advance(**advance)
        return run_crm_due(
            self.api.service, self.crm, self.connectors, self.api.clock(), random.Random(1)
        )

    def send_notices(self) -> list[Any]:
        """Run the routing worker's webhook sender against the stub; the messages it got."""
        with httpx.Client() as client:
            run_due(self.api.service, self.api.clock(), client=client)
        return self.stub.slack()

    def rows(self, table: sa.Table) -> list[Any]:
        with self.api.engine.connect() as conn:
            return list(conn.execute(sa.select(table).order_by(table.c.id)).all())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    stub = CrmStub(
        contacts={
            "901": {
                "email": "ana@acme.io",
                "company": "Acme",
                "country": "US",
                "firstname": "Ana",
                "createdate": "2026-03-02T14:59:00Z",
            },
            "902": {"email": "bo@beta.io", "company": "Beta", "country": "DE"},
        }
    )
    tls = self_signed(tmp_path)
    engine = migrated_engine(db_url)
    with StubServer(stub) as hs, StubServer(stub, tls=tls) as sf:
        session = requests.Session()
        session.verify = str(tls[0])
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins
        crm = CrmSettings(
            hubspot_client_secret=SecretStr(SECRET),
            hubspot_access_token=SecretStr(TOKEN),
            hubspot_base_url=hs.url,
            salesforce_organization_id=ORG,
            salesforce_shared_secret=SecretStr("sf-shared"),
            crm_max_attempts=4,
            public_url="http://testserver",
            notify_webhook_url=f"{hs.url}/slack/hook",
        )
        connectors: dict[str, Any] = {
            "hubspot": HubSpotConnector(TOKEN, base_url=hs.url),
            "salesforce": SalesforceConnector(SF_TOKEN, instance_url=sf.url, session=session),
        }
        clock = Clock()
        tokens = {}
        with write_transaction(engine) as conn:
            upsert_reps(conn, crm_reps())
            for role in ("admin", "writer", "reader"):
                tokens[role], _ = create_token(conn, role=role, name=f"test-{role}")
        settings = Settings(environment="development", worker_enabled=False)
        app = create_app(
            settings, engine=engine, clock=clock, seed=7, crm=crm, crm_connectors=connectors
        )
        client = TestClient(app, raise_server_exceptions=False)
        with client:
            yield World(
                Api(client=client, engine=engine, clock=clock, tokens=tokens), stub, crm, connectors
            )
    engine.dispose()


def signed(world: World, body: bytes, *, secret: str = SECRET, age_ms: int = 0) -> dict[str, str]:
    """The headers HubSpot sends, computed here independently of leadpilot's verifier."""
    ts = str(int(world.api.clock().timestamp() * 1000) - age_ms)
    uri = "http://testserver/v1/webhooks/hubspot"
    digest = hmac.new(secret.encode(), f"POST{uri}".encode() + body + ts.encode(), hashlib.sha256)
    return {
        "content-type": "application/json",
        "x-hubspot-signature-v3": base64.b64encode(digest.digest()).decode(),
        "x-hubspot-request-timestamp": ts,
    }


def delivery(*events: tuple[int, int, str]) -> bytes:
    return json.dumps(
        [
            {
                "eventId": eid,
                "subscriptionId": 12345,
                "portalId": 62515,
                "appId": 54321,
                "occurredAt": 1772463540000,
                "subscriptionType": kind,
                "attemptNumber": 0,
                "objectId": oid,
                "changeSource": "CRM",
                "changeFlag": "NEW",
            }
            for eid, oid, kind in events
        ]
    ).encode()


def post_hubspot(world: World, body: bytes, **kw: Any) -> Any:
    return world.api.client.post(
        "/v1/webhooks/hubspot", content=body, headers=signed(world, body, **kw)
    )


def owner_of(world: World, lead_id: str) -> str | None:
    with world.api.engine.connect() as conn:
        return conn.execute(sa.select(leads.c.rep_id).where(leads.c.lead_id == lead_id)).scalar()


# --------------------------------------------------------------------------- HubSpot


def test_signature_valid_tampered_stale_and_wrong_secret(world: World) -> None:
    body = delivery((1, 901, "contact.creation"))
    assert post_hubspot(world, body).json() == {"received": 1, "new": 1, "duplicates": 0}
    headers = signed(world, body)
    tampered = body.replace(b"901", b"902")
    bad = world.api.client.post("/v1/webhooks/hubspot", content=tampered, headers=headers)
    assert bad.status_code == 401
    assert "does not match" in bad.json()["error"]["message"]
    stale = post_hubspot(world, body, age_ms=5 * 60 * 1000 + 1)
    assert stale.status_code == 401
    assert "5 minutes" in stale.json()["error"]["message"]
    assert post_hubspot(world, body, age_ms=4 * 60 * 1000).status_code == 200  # within 5 min
    assert post_hubspot(world, body, secret="someone-else").status_code == 401
    unsigned = world.api.client.post(
        "/v1/webhooks/hubspot", content=body, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert len(world.rows(crm_inbox)) == 1  # rejected and repeated deliveries stored nothing


def test_hubspot_contact_routed_written_back_once(world: World) -> None:
    body = delivery((11, 901, "contact.creation"), (12, 901, "contact.propertyChange"))
    assert post_hubspot(world, body).json() == {"received": 2, "new": 2, "duplicates": 0}
    # HubSpot retries a delivery it thinks failed: the same event ids are not stored again.
    assert post_hubspot(world, body).json() == {"received": 2, "new": 0, "duplicates": 2}
    report = world.run()
    assert report.routed == ["hubspot:901"]  # the propertyChange found the lead routed
    rep = owner_of(world, "hubspot:901")
    assert rep in OWNERS
    writes = world.stub.writes()
    assert [(c.path, c.body) for c in writes] == [
        ("/crm/v3/objects/contacts/901", {"properties": {"hubspot_owner_id": OWNERS[rep]}})
    ]
    assert world.stub.contacts["901"]["hubspot_owner_id"] == OWNERS[rep]
    # Every call carried the access token as a bearer token (and it is stored nowhere).
    assert {c.authorization for c in world.stub.calls} == {f"Bearer {TOKEN}"}
    reads = [c for c in world.stub.calls if c.method == "GET"]
    assert len(reads) == 1
    assert {"email", "company", "country"} <= set(reads[0].query["properties"])
    # More polls and a duplicate delivery later change nothing.
    post_hubspot(world, body)
    world.run(seconds=120)
    assert len(world.stub.writes()) == 1
    assert [r.status for r in world.rows(crm_outbox)] == ["sent"]
    assert [r.status for r in world.rows(crm_inbox)] == ["done", "done"]
    lead = world.api.get("/v1/leads/hubspot:901").json()
    assert lead["rep_id"] == rep


def test_writeback_retries_through_5xx_and_429_retry_after(world: World) -> None:
    world.stub.write_failures = [(500, {}), (429, {"Retry-After": "7"})]
    post_hubspot(world, delivery((21, 902, "contact.creation")))
    t0 = world.api.clock()
    first = world.run()
    assert first.routed == ["hubspot:902"]
    assert first.write_retries == 1
    [row] = world.rows(crm_outbox)
    # Attempt 1 failed: backoff with jitter, uniform in [base/2, base] = [1 s, 2 s].
    delay = (row.next_attempt_at - t0).total_seconds()
    assert 1.0 <= delay <= 2.0
    assert row.last_error.startswith("HubSpot setting the owner of contact 902: HTTP 500")
    world.api.clock.now = row.next_attempt_at
    second = world.run()
    assert second.write_retries == 1
    [row] = world.rows(crm_outbox)
    assert row.next_attempt_at == world.api.clock() + timedelta(seconds=7)  # Retry-After
    assert "HTTP 429" in row.last_error
    assert world.run(seconds=6.9).written == []  # still inside Retry-After: no call
    assert len(world.stub.calls) == 3  # GET contact + 2 failed PATCHes
    third = world.run(seconds=0.1)
    rep = owner_of(world, "hubspot:902")
    assert third.written == [("hubspot", "902", OWNERS[rep])]
    assert len(world.stub.writes()) == 1
    assert len(world.stub.writes(ok=False)) == 2
    [row] = world.rows(crm_outbox)
    assert (row.status, row.attempts) == ("sent", 3)
    assert TOKEN not in row.last_error


def test_dead_letter_after_max_attempts_raises_alert(world: World) -> None:
    world.stub.write_failures = [(503, {})] * 10
    post_hubspot(world, delivery((31, 901, "contact.creation")))
    for _ in range(4):  # crm_max_attempts = 4
        world.run(seconds=700)  # past any backoff (cap 600 s)
    [row] = world.rows(crm_outbox)
    assert (row.status, row.attempts) == ("dead", 4)
    assert len(world.stub.writes(ok=False)) == 4
    [alert] = [a for a in world.rows(alerts) if a.kind == "crm_writeback_dead"]
    assert "hubspot record 901 (lead hubspot:901)" in alert.message
    assert "after 4 attempts" in alert.message
    assert TOKEN not in alert.message
    world.run(seconds=700)
    assert len(world.stub.writes(ok=False)) == 4  # a dead letter is not retried


def test_later_decision_supersedes_unsent_write(world: World) -> None:
    world.stub.write_failures = [(500, {})]
    post_hubspot(world, delivery((41, 901, "contact.creation")))
    world.run()
    first_rep = owner_of(world, "hubspot:901")
    declined = world.api.post(
        "/v1/events",
        {"event_id": "d-1", "type": "declined", "lead_id": "hubspot:901", "rep_id": first_rep},
    )
    assert declined.status_code in (200, 201), declined.text
    second_rep = owner_of(world, "hubspot:901")
    assert second_rep not in (None, first_rep)
    report = world.run(seconds=5)
    assert report.superseded == 1
    assert report.written == [("hubspot", "901", OWNERS[second_rep])]
    assert [r.status for r in world.rows(crm_outbox)] == ["superseded", "sent"]
    assert [c.body for c in world.stub.writes()] == [
        {"properties": {"hubspot_owner_id": OWNERS[second_rep]}}
    ]


def test_rep_without_owner_id_is_a_dead_letter_naming_the_column(world: World) -> None:
    with write_transaction(world.api.engine) as conn:
        upsert_reps(
            conn,
            [
                Rep(rep_id=r.rep_id, name=r.name, pool="sdr", max_leads_per_day=100, timezone="UTC")
                for r in crm_reps()
            ],
        )
    post_hubspot(world, delivery((51, 901, "contact.creation")))
    world.run()
    [row] = world.rows(crm_outbox)
    assert row.status == "dead"
    assert "has no hubspot_owner_id" in row.last_error
    assert world.stub.writes() == []


# ------------------------------------------------------------------------ Salesforce

SOAP = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00D5e000000KQ2e</PartnerUrl>
   <Notification>
    <Id>04l5e00000Gx7QzAAJ</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5e00000AbCdEFGH</sf:Id>
     <sf:Company>Gamma GmbH</sf:Company>
     <sf:Country>DE</sf:Country>
     <sf:Email>eva@gamma.de</sf:Email>
     <sf:LeadSource>Web</sf:LeadSource>
     <sf:Title xsi:nil="true"/>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""


def post_soap(world: World, org: str = ORG, text: str | None = None) -> Any:
    return world.api.client.post(
        "/v1/webhooks/salesforce",
        content=(text or SOAP.format(org=org)).encode(),
        headers={"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )


def test_outbound_message_acked_routed_and_owner_written_once(world: World) -> None:
    answer = post_soap(world)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    ack = fromstring(answer.content)
    [flag] = [e for e in ack.iter() if e.tag.endswith("Ack")]
    assert flag.text == "true"
    assert post_soap(world).status_code == 200  # Salesforce re-sends: one inbox row
    assert len(world.rows(crm_inbox)) == 1
    report = world.run()
    assert report.routed == ["salesforce:00Q5e00000AbCdEFGH"]
    rep = owner_of(world, "salesforce:00Q5e00000AbCdEFGH")
    lead = world.api.get("/v1/leads/salesforce:00Q5e00000AbCdEFGH").json()
    assert lead["rep_id"] == rep
    writes = world.stub.writes()
    assert [(c.path, c.body) for c in writes] == [
        ("/services/data/v59.0/sobjects/Lead/00Q5e00000AbCdEFGH", {"OwnerId": SF_USERS[rep]})
    ]
    assert writes[0].authorization == f"Bearer {SF_TOKEN}"
    world.run(seconds=60)
    assert len(world.stub.writes()) == 1


def test_outbound_message_from_another_org_or_malicious_xml_is_refused(world: World) -> None:
    other = post_soap(world, org="00D000000000001AAA")
    assert other.status_code == 401
    assert "OrganizationId" in other.json()["error"]["message"]
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    refused = post_soap(world, text=bomb)
    assert refused.status_code == 422
    assert "DTD" in refused.json()["error"]["message"]
    assert post_soap(world, text="<notifications").status_code == 422
    assert world.rows(crm_inbox) == []


def test_json_callout_needs_the_shared_secret(world: World) -> None:
    body = {
        "event_id": "flow-1",
        "lead": {"Id": "00Q5e00000ZzZzZZZZ", "Email": "li@delta.io", "Company": "Delta"},
    }
    wrong = world.api.client.post(
        "/v1/webhooks/salesforce", json=body, headers={"x-leadpilot-secret": "guess"}
    )
    assert wrong.status_code == 401
    ok = world.api.client.post(
        "/v1/webhooks/salesforce", json=body, headers={"x-leadpilot-secret": "sf-shared"}
    )
    assert ok.json() == {"received": 1, "new": 1, "duplicates": 0}
    world.run()
    rep = owner_of(world, "salesforce:00Q5e00000ZzZzZZZZ")
    assert [c.body for c in world.stub.writes()] == [{"OwnerId": SF_USERS[rep]}]


# ------------------------------------------------------------------ rep notifications


def link_path(url: str) -> str:
    assert url.startswith("http://testserver/links/")
    return url.removeprefix("http://testserver")


def lead_events(world: World, lead_id: str) -> list[tuple[str, str]]:
    with world.api.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.type, events.c.rep_id).where(events.c.lead_id == lead_id)
        ).all()
    return [(r.type, r.rep_id) for r in rows]


def test_rep_notified_and_accept_link_works_once(world: World) -> None:
    post_hubspot(world, delivery((61, 901, "contact.creation")))
    assert world.run().notices == 1
    [message] = world.send_notices()
    rep = owner_of(world, "hubspot:901")
    assert message["event"] == "lead_assigned"
    assert (message["lead_id"], message["rep_id"]) == ("hubspot:901", rep)
    assert "Acme" in message["text"]
    assert "First touch due by 2026-03-02T" in message["text"]
    accept = link_path(message["accept_url"])
    page = world.api.client.get(accept)
    assert page.status_code == 200
    assert "Accept lead hubspot:901?" in page.text
    assert lead_events(world, "hubspot:901") == []  # showing the page records nothing
    done = world.api.client.post(accept)
    assert done.status_code == 200
    assert "hubspot:901 accepted" in done.text
    again = world.api.client.post(accept)
    assert again.status_code == 409
    assert "already used" in again.text
    other = world.api.client.post(link_path(message["decline_url"]))
    assert other.status_code == 409  # the offer was answered by its Accept
    assert lead_events(world, "hubspot:901") == [("accepted", rep)]
    lead = world.api.get("/v1/leads/hubspot:901").json()
    assert lead["accepted_at"] is not None
    assert lead["rep_id"] == rep


def test_decline_link_reassigns_notifies_and_writes_new_owner(world: World) -> None:
    post_hubspot(world, delivery((71, 902, "contact.creation")))
    world.run()
    [first] = world.send_notices()
    done = world.api.client.post(link_path(first["decline_url"]))
    assert done.status_code == 200
    new_rep = owner_of(world, "hubspot:902")
    assert new_rep not in (None, first["rep_id"])
    assert lead_events(world, "hubspot:902") == [("declined", first["rep_id"])]
    report = world.run(seconds=1)
    assert report.notices == 1
    second = world.send_notices()[-1]
    assert second["rep_id"] == new_rep
    owners = [c.body["properties"]["hubspot_owner_id"] for c in world.stub.writes()]
    assert owners == [OWNERS[first["rep_id"]], OWNERS[new_rep]]


def test_expired_and_tampered_links_record_nothing(world: World) -> None:
    post_hubspot(world, delivery((81, 901, "contact.creation")))
    world.run()
    [message] = world.send_notices()
    accept = link_path(message["accept_url"])
    tampered = accept[:-3] + ("AAA" if not accept.endswith("AAA") else "BBB")
    assert world.api.client.post(tampered).status_code == 403
    world.api.clock.advance(hours=24)  # crm.link_hours = 24: expired at exactly 24 h
    expired = world.api.client.post(accept)
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert lead_events(world, "hubspot:901") == []


# ---------------------------------------------------------------------- outcome sync


def test_hubspot_outcome_sync_records_events_once_from_the_cursor(world: World) -> None:
    from leadpilot.service.crm_sync import sync_hubspot

    post_hubspot(world, delivery((91, 901, "contact.creation"), (92, 902, "contact.creation")))
    world.run()
    t0 = world.api.clock()
    iso = lambda **kw: (t0 + timedelta(**kw)).isoformat()  # noqa: E731
    world.stub.contacts["901"].update(
        lastmodifieddate=iso(days=5),
        hs_first_outreach_date=iso(minutes=10),
        lifecyclestage="customer",
        hs_lifecyclestage_opportunity_date=iso(days=2),
        hs_lifecyclestage_customer_date=iso(days=5),
    )
    world.stub.contacts["902"].update(lastmodifieddate=iso(hours=2), hs_lead_status="UNQUALIFIED")
    world.stub.contacts["903"] = {"email": "x@y.io", "lastmodifieddate": iso(hours=1)}
    connector = world.connectors["hubspot"]
    report = sync_hubspot(world.api.service, connector)
    assert report.records == 3
    assert report.unknown == 1  # contact 903 never came through leadpilot
    assert sorted(report.recorded) == sorted(
        [
            ("hubspot:901", "first_touch"),
            ("hubspot:901", "opportunity_created"),
            ("hubspot:901", "closed_won"),
            ("hubspot:902", "closed_lost"),
        ]
    )
    assert report.cursor == iso(days=5)
    lead = world.api.get("/v1/leads/hubspot:901").json()
    assert lead["first_touch_at"].startswith(iso(minutes=10)[:19])
    assert lead["closed_won"] is True
    assert world.api.get("/v1/leads/hubspot:902").json()["closed_won"] is False
    # The next sync starts at the cursor: only 901 (modified at the cursor) comes back, and
    # its events are already recorded.
    again = sync_hubspot(world.api.service, connector)
    assert (again.records, again.recorded, again.already) == (1, [], 3)
    search = [c for c in world.stub.calls if c.path.endswith("/search")]
    since = [int(c.body["filterGroups"][0]["filters"][0]["value"]) for c in search]
    assert since == [0, int((t0 + timedelta(days=5)).timestamp() * 1000)]


def test_pool_webhook_is_used_when_the_rep_has_none(world: World) -> None:
    hook = world.crm.notify_webhook_url
    assert hook is not None
    pool_hook = hook.replace("/slack/hook", "/slack/pool-sdr")
    world.crm = world.crm.model_copy(update={"notify_pool_webhooks": {"sdr": pool_hook}})
    post_hubspot(world, delivery((95, 901, "contact.creation")))
    world.run()
    world.send_notices()
    slack = [c.path for c in world.stub.calls if c.path.startswith("/slack/")]
    assert slack == ["/slack/pool-sdr"]  # the reps' pool is sdr; no rep has its own URL


def test_worker_thread_runs_the_outcome_sync_on_its_schedule(world: World) -> None:
    from leadpilot.service.crm_worker import CrmWorker

    crm = world.crm.model_copy(update={"crm_sync_minutes": 60.0})
    worker = CrmWorker(world.api.service, crm, world.connectors, interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            c.path.endswith("/search") for c in world.stub.calls
        ):
            time.sleep(0.05)
        time.sleep(0.3)  # several more polls: the next sync is an hour away
    finally:
        worker.stop()
    assert [c.path for c in world.stub.calls if c.path.endswith("/search")] == [
        "/crm/v3/objects/contacts/search"
    ]


def test_salesforce_outcome_sync_reads_conversion_tasks_and_events(world: World) -> None:
    from leadpilot.service.crm_sync import sync_salesforce

    post_soap(world)
    world.run()
    lead = "00Q5e00000AbCdEFGH"
    t0 = world.api.clock()
    sf = lambda **kw: (t0 + timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")  # noqa: E731
    world.stub.sf_records = {
        lead: {
            "Id": lead,
            "Status": "Qualified",
            "IsConverted": True,
            "ConvertedDate": (t0 + timedelta(days=3)).date().isoformat(),
            "LastModifiedDate": sf(days=9),
            "ConvertedOpportunity": {
                "CreatedDate": sf(days=3),
                "IsClosed": True,
                "IsWon": False,
                "CloseDate": "2026-03-11",
            },
        },
        "00Q5e00000OtherXXX": {
            "Id": "00Q5e00000OtherXXX",
            "Status": "Open",
            "IsConverted": False,
            "LastModifiedDate": sf(days=1),
        },
    }
    world.stub.sf_tasks = {lead: [sf(hours=3), sf(minutes=20)]}  # first touch: the earliest
    world.stub.sf_events = {lead: [sf(days=2)]}
    connector = world.connectors["salesforce"]
    report = sync_salesforce(world.api.service, connector)
    assert (report.records, report.unknown) == (2, 1)
    assert report.recorded == [
        (f"salesforce:{lead}", "first_touch"),
        (f"salesforce:{lead}", "meeting_booked"),
        (f"salesforce:{lead}", "opportunity_created"),
        (f"salesforce:{lead}", "closed_lost"),
    ]
    got = world.api.get(f"/v1/leads/salesforce:{lead}").json()
    assert got["first_touch_at"].startswith((t0 + timedelta(minutes=20)).isoformat()[:19])
    assert got["meeting_at"].startswith((t0 + timedelta(days=2)).isoformat()[:19])
    assert got["closed_won"] is False
    assert got["closed_at"].startswith("2026-03-11T00:00:00")
    queries = [c.query["q"][0] for c in world.stub.calls if c.path.endswith("/query/")]
    assert "WHERE LastModifiedDate" not in queries[0]  # first sync: everything
    again = sync_salesforce(world.api.service, connector)
    assert (again.records, again.recorded, again.already) == (1, [], 4)
    later = [c.query["q"][0] for c in world.stub.calls if c.path.endswith("/query/")]
    since = (t0 + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"WHERE LastModifiedDate >= {since}" in later[3]


def test_signature_checks_the_public_url_behind_a_proxy(world: World) -> None:
    world.api.client.app.state.crm = world.crm.model_copy(  # type: ignore[attr-defined]
        update={"public_url": "https://leads.example.com/"}
    )
    body = delivery((99, 901, "contact.creation"))
    # Signed for the URL leadpilot itself sees: refused, HubSpot signs the URL it called.
    assert post_hubspot(world, body).status_code == 401
    ts = str(int(world.api.clock().timestamp() * 1000))
    uri = "https://leads.example.com/v1/webhooks/hubspot"
    mac = hmac.new(SECRET.encode(), b"POST" + uri.encode() + body + ts.encode(), hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-hubspot-signature-v3": base64.b64encode(mac.digest()).decode(),
        "x-hubspot-request-timestamp": ts,
    }
    answer = world.api.client.post("/v1/webhooks/hubspot", content=body, headers=headers)
    assert answer.json() == {"received": 1, "new": 1, "duplicates": 0}


def test_email_notice_over_smtp_retried_then_sent_once(world: World) -> None:
    from leadpilot.crm.email import SmtpSender
    from leadpilot.crm.stub import SmtpStub

    with write_transaction(world.api.engine) as conn:
        upsert_reps(
            conn, [dataclasses.replace(r, email=f"{r.rep_id}@corp.example") for r in crm_reps()]
        )
    with SmtpStub() as smtp:
        smtp.refuse = 1  # the first DATA gets 451: retried
        world.crm = world.crm.model_copy(update={"smtp_host": "127.0.0.1"})
        world.connectors["email"] = SmtpSender(
            "127.0.0.1", smtp.port, sender="leadpilot@corp.example", starttls=False
        )
        post_hubspot(world, delivery((97, 901, "contact.creation")))
        first = world.run()
        assert first.write_retries == 1  # the e-mail (the HubSpot write went through)
        assert smtp.messages == []
        second = world.run(seconds=3)
        rep = owner_of(world, "hubspot:901")
        assert [m[0] for m in smtp.messages] == [[f"{rep}@corp.example"]]
        parsed = email.message_from_string(smtp.messages[0][1], policy=email.policy.default)
        assert parsed["Subject"] == "New lead for you: Acme"
        text = parsed.get_content()  # type: ignore[attr-defined]
        assert "Accept: http://testserver/links/" in text
        assert [w[0] for w in first.written] == ["hubspot"]
        assert [w[0] for w in second.written] == ["email"]
        world.run(seconds=60)
        assert len(smtp.messages) == 1
    accept = next(
        line.removeprefix("Accept: ").strip() for line in text.splitlines() if "Accept:" in line
    )
    assert world.api.client.post(link_path(accept)).status_code == 200


def test_the_link_pages_ask_for_fit_and_record_it_once(world: World) -> None:
    from leadpilot.store.tables import fit_feedback

    post_hubspot(world, delivery((91, 901, "contact.creation")))
    world.run()
    [message] = world.send_notices()
    decline = link_path(message["decline_url"])
    done = world.api.client.post(decline)
    assert done.status_code == 200
    assert "Poor fit" in done.text
    # the decliner no longer owns the lead, and still rates it
    rated = world.api.client.post(decline + "/fit", data={"fit": "poor", "reason": "Too small"})
    assert rated.status_code == 200, rated.text
    assert "rated a poor fit" in rated.text
    again = world.api.client.post(decline + "/fit", data={"fit": "poor", "reason": "Too small"})
    assert again.status_code == 409
    bad = world.api.client.post(decline + "/fit", data={"fit": "meh"})
    assert bad.status_code == 422
    with world.api.engine.connect() as conn:
        rows = conn.execute(sa.select(fit_feedback.c.rep_id, fit_feedback.c.fit,
                                      fit_feedback.c.reason)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [(message["rep_id"], "poor", "Too small")]
