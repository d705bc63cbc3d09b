"""The CRM outbox survives a SIGKILL of ``leadpilot serve``: owner writes pending when the
process dies are each applied exactly once by the next process (real server process, real
HubSpot client, loopback stub; see ``leadpilot.crm.stub`` for the documented shapes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from leadpilot.crm.stub import CrmStub, StubServer
from leadpilot.schema import Rep
from leadpilot.store.crm_tables import crm_outbox
from leadpilot.store.engine import make_engine
from leadpilot.store.tables import leads
from tests.service.scenario import prepare_database, start_server, stop

SECRET = "sigkill-test-secret"
OWNERS = {"rep-01": "7001", "rep-02": "7002", "rep-03": "7003"}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def post_contact(base: str, event_id: int, contact_id: int) -> httpx.Response:
    body = json.dumps(
        [
            {
                "eventId": event_id,
                "subscriptionId": 1,
                "portalId": 62515,
                "appId": 54321,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "contact.creation",
                "attemptNumber": 0,
                "objectId": contact_id,
                "changeSource": "CRM",
                "changeFlag": "NEW",
            }
        ]
    ).encode()
    ts = str(int(time.time() * 1000))
    uri = f"{base}/v1/webhooks/hubspot"
    mac = hmac.new(SECRET.encode(), b"POST" + uri.encode() + body + ts.encode(), hashlib.sha256)
    return httpx.post(
        uri,
        content=body,
        headers={
            "content-type": "application/json",
            "x-hubspot-signature-v3": base64.b64encode(mac.digest()).decode(),
            "x-hubspot-request-timestamp": ts,
        },
    )


@pytest.mark.slow  # a real server killed and restarted: acceptance (in-process: test_crm.py)
def test_pending_writes_land_exactly_once_after_sigkill(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'kill.db'}"
    reps = [
        Rep(
            rep_id=r,
            name=r,
            pool="sdr",
            timezone="UTC",
            max_leads_per_day=100,
            attributes={"hubspot_owner_id": o},
        )
        for r, o in OWNERS.items()
    ]
    prepare_database(db_url, reps)
    contacts = {str(900 + i): {"email": f"p{i}@co{i}.io", "company": f"Co{i}"} for i in (1, 2, 3)}
    stub = CrmStub(contacts=contacts, write_failures=[(503, {})] * 10_000)  # CRM down
    with StubServer(stub) as hs:
        env = {
            "LEADPILOT_HUBSPOT_ACCESS_TOKEN": "pat-sigkill",
            "LEADPILOT_HUBSPOT_CLIENT_SECRET": SECRET,
            "LEADPILOT_HUBSPOT_BASE_URL": hs.url,
            "LEADPILOT_WORKER_POLL_SECONDS": "0.2",
            "LEADPILOT_CRM_BACKOFF_SECONDS": "0.5",
            "LEADPILOT_CRM_BACKOFF_CAP_SECONDS": "1",
            "LEADPILOT_CRM_MAX_ATTEMPTS": "1000",
            # A write in flight at the kill is leased: taken up again after this.
            "LEADPILOT_CRM_LEASE_SECONDS": "2",
        }
        first = start_server(db_url, tmp_path, extra_env=env)
        try:
            for i, contact in enumerate(contacts, start=1):
                assert post_contact(first.url, i, int(contact)).status_code == 200
            # Every write has been tried (and refused) at least once: they are pending.
            wait_for(
                "a failed write per contact",
                lambda: (
                    {c.path for c in stub.writes(ok=False)}
                    == {f"/crm/v3/objects/contacts/{c}" for c in contacts}
                ),
            )
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
        finally:
            stop(first)
        engine = make_engine(db_url)
        with engine.connect() as conn:
            pending = conn.execute(sa.select(crm_outbox.c.status)).scalars().all()
        assert pending == ["pending"] * 3
        assert stub.writes() == []
        with stub.lock:
            stub.write_failures.clear()  # the CRM is back
        second = start_server(db_url, tmp_path, extra_env=env)
        try:
            wait_for("three writes", lambda: len(stub.writes()) >= 3)
            time.sleep(1.5)  # several more polls (0.2 s): nothing is sent again
        finally:
            stop(second)
        with engine.connect() as conn:
            owners = dict(conn.execute(sa.select(leads.c.lead_id, leads.c.rep_id)).all())
            statuses = conn.execute(sa.select(crm_outbox.c.status)).scalars().all()
        engine.dispose()
    written = sorted((c.path, c.body["properties"]["hubspot_owner_id"]) for c in stub.writes())
    expected = sorted(
        (f"/crm/v3/objects/contacts/{c}", OWNERS[owners[f"hubspot:{c}"]]) for c in contacts
    )
    assert written == expected  # each record once, with its lead's owner
    assert statuses == ["sent"] * 3
