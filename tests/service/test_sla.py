"""SLA timers, acceptance windows, declines, reassignment limits, webhooks and events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
import sqlalchemy as sa

from leadpilot.service.notify import sign
from leadpilot.service.worker import run_due
from leadpilot.store.tables import webhook_deliveries

from .conftest import Api, build_api, make_reps
from .policies import ACCEPTANCE, HOT_SLA


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict, str]]] = []
    fail: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append((json.loads(body), self.headers["x-leadpilot-signature"]))
        self.send_response(500 if type(self).fail else 200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "fail": False})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def hot_api(engine: sa.Engine, hook: tuple[str, type[_Receiver]]) -> Iterator[Api]:
    api = build_api(engine, make_reps(3))
    with api.client:
        resp = api.post("/v1/policy", {"policy": HOT_SLA.format(notify_url=hook[0])}, role="admin")
        assert resp.status_code == 201, resp.text
        yield api


def _hot(api: Api, lead_id: str) -> dict:
    resp = api.post("/v1/leads", {"lead_id": lead_id, "attributes": {"demo_request": True}})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _event(api: Api, event_id: str, type_: str, lead_id: str | None = None, **extra: object):  # type: ignore[no-untyped-def]
    return api.post(
        "/v1/events", {"event_id": event_id, "type": type_, "lead_id": lead_id, **extra}
    )


def test_untouched_hot_lead_is_reassigned_after_its_sla_and_notified(
    hot_api: Api, hook: tuple[str, type[_Receiver]]
) -> None:
    first = _hot(hot_api, "H1")["decision"]
    hot_api.clock.advance(minutes=14)
    assert run_due(hot_api.service).breaches == 0
    hot_api.clock.advance(minutes=2)
    report = run_due(hot_api.service)
    assert report.breaches == 1
    assert report.reassigned == ["H1"]
    assert report.webhooks_sent == 1
    decisions = hot_api.get("/v1/decisions", lead_id="H1").json()
    assert [d["live"] for d in decisions] == [False, True]
    new = decisions[-1]
    assert new["reasons"][0] == "SLA_BREACH_REASSIGN"
    assert new["trigger"] == "sla_breach"
    assert new["rep_id"] not in {None, first["rep_id"]}
    assert new["exclusions"][first["rep_id"]] == "PREVIOUSLY_LAPSED"
    lead = hot_api.get("/v1/leads/H1").json()
    assert lead["rep_id"] == new["rep_id"]
    assert lead["reassignments"] == 1
    payload, signature = hook[1].received[0]
    assert payload["lead_id"] == "H1"
    assert payload["from_rep"] == first["rep_id"]
    assert payload["to_rep"] == new["rep_id"]
    assert "SLA_BREACH_REASSIGN" in payload["text"]
    body = json.dumps(payload).encode()
    assert signature == sign(hot_api.service.settings.webhook_secret, body)
    open_counts = {
        r: hot_api.get(f"/v1/reps/{r}").json()["open_leads"] for r in ("rep-01", "rep-02", "rep-03")
    }
    assert open_counts[first["rep_id"]] == 0
    assert open_counts[new["rep_id"]] == 1
    kpi = hot_api.get("/v1/kpis").json()["reassignment_rate"]
    assert (kpi["numerator"], kpi["denominator"]) == (1, 1)


def test_first_touch_stops_the_timer_and_feeds_speed_to_lead(hot_api: Api) -> None:
    _hot(hot_api, "H1")
    _hot(hot_api, "H2")
    hot_api.clock.advance(minutes=4)
    assert _event(hot_api, "e1", "first_touch", "H1").status_code == 201
    hot_api.clock.advance(minutes=6)
    assert _event(hot_api, "e2", "first_touch", "H2").json()["outcome"]["timers_stopped"] == 1
    hot_api.clock.advance(minutes=30)
    assert run_due(hot_api.service).breaches == 0
    speed = hot_api.get("/v1/kpis").json()["speed_to_first_touch"]
    assert speed["median_minutes"] == pytest.approx(7.0)  # median of 4 and 10
    assert speed["median_minutes_hot"] == pytest.approx(7.0)
    assert speed["touched"] == 2


def test_events_are_idempotent_by_id(hot_api: Api) -> None:
    owner = _hot(hot_api, "H1")["decision"]["rep_id"]
    first = _event(hot_api, "d1", "declined", "H1", rep_id=owner)
    assert first.status_code == 201
    again = _event(hot_api, "d1", "declined", "H1", rep_id=owner)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["outcome"] == first.json()["outcome"]
    assert len(hot_api.get("/v1/decisions", lead_id="H1").json()) == 2


def test_declines_never_go_back_to_a_decliner_and_end_in_the_queue(hot_api: Api) -> None:
    owners = [_hot(hot_api, "H1")["decision"]["rep_id"]]
    for k in range(2):
        out = _event(hot_api, f"d{k}", "declined", "H1", rep_id=owners[-1]).json()["outcome"]
        assert out["reassigned"] is True
        assert out["reasons"][0] == "DECLINED_REASSIGN"
        owners.append(out["rep_id"])
    assert len(set(owners)) == 3
    # the third rep declines too: nobody is left, so the lead waits in the queue
    hot_api.post(
        "/v1/policy",
        {
            "policy": HOT_SLA.format(notify_url="").replace(
                "max_reassignments: 2", "max_reassignments: 5"
            )
        },
        role="admin",
    )
    out = _event(hot_api, "d9", "declined", "H1", rep_id=owners[-1]).json()["outcome"]
    assert out["rep_id"] is None
    lead = hot_api.get("/v1/leads/H1").json()
    assert lead["status"] == "queued"
    last = lead["decisions"][-1]
    assert set(last["exclusions"].values()) == {"PREVIOUSLY_LAPSED"}
    assert run_due(hot_api.service).drained == []  # still nobody who has not declined


def test_only_the_owner_can_decline_and_unknown_leads_are_404(hot_api: Api) -> None:
    owner = _hot(hot_api, "H1")["decision"]["rep_id"]
    other = next(r for r in ("rep-01", "rep-02") if r != owner)
    resp = _event(hot_api, "d1", "declined", "H1", rep_id=other)
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "rep_id"
    assert _event(hot_api, "x", "first_touch", "nope").status_code == 404
    resp = _event(hot_api, "y", "first_touch")
    assert resp.json()["error"]["field"] == "lead_id"


def test_reassignment_stops_at_max_reassignments(hot_api: Api) -> None:
    _hot(hot_api, "H1")
    for _ in range(2):
        hot_api.clock.advance(minutes=16)
        assert run_due(hot_api.service).reassigned == ["H1"]
    hot_api.clock.advance(minutes=16)
    report = run_due(hot_api.service)
    assert report.breaches == 1
    assert report.reassigned == []
    alerts = hot_api.get("/v1/alerts").json()
    assert any(a["kind"] == "max_reassignments" and a["lead_id"] == "H1" for a in alerts)
    assert hot_api.get("/v1/leads/H1").json()["reassignments"] == 2


def test_acceptance_window_expires_and_moves_on(engine: sa.Engine) -> None:
    api = build_api(engine, make_reps(2))
    with api.client:
        api.post("/v1/policy", {"policy": ACCEPTANCE}, role="admin")
        a = api.post("/v1/leads", {"lead_id": "A"}).json()["decision"]["rep_id"]
        b = api.post("/v1/leads", {"lead_id": "B"}).json()["decision"]["rep_id"]
        assert _event(api, "acc", "accepted", "B").status_code == 201
        api.clock.advance(minutes=11)
        report = run_due(api.service)
        assert report.reassigned == ["A"]
        moved = api.get("/v1/leads/A").json()
        assert moved["rep_id"] != a
        assert moved["decisions"][-1]["reasons"][0] == "ACCEPTANCE_EXPIRED_REASSIGN"
        assert api.get("/v1/leads/B").json()["rep_id"] == b


def test_failed_webhooks_retry_with_backoff_then_alert(
    hot_api: Api, hook: tuple[str, type[_Receiver]]
) -> None:
    hook[1].fail = True
    _hot(hot_api, "H1")
    hot_api.clock.advance(minutes=16)
    report = run_due(hot_api.service)
    assert (report.reassigned, report.webhooks_failed) == (["H1"], 1)
    _event(hot_api, "t1", "first_touch", "H1")  # no further breach
    settings = hot_api.service.settings
    start = hot_api.clock.now
    attempts, waits = [1], []
    for _ in range(8):
        with hot_api.engine.connect() as conn:
            row = conn.execute(sa.select(webhook_deliveries)).one()
        waits.append((row.next_attempt_at - start).total_seconds())
        hot_api.clock.now = max(row.next_attempt_at, hot_api.clock.now)
        attempts.append(run_due(hot_api.service).webhooks_failed)
    assert attempts == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    # exponential backoff: 2, 4, 8, 16, 32 seconds after each failure
    gaps = [b - a for a, b in zip([0.0, *waits[:4]], waits[:5], strict=True)]
    assert gaps == [2.0, 4.0, 8.0, 16.0, 32.0]
    with hot_api.engine.connect() as conn:
        row = conn.execute(sa.select(webhook_deliveries)).one()
    assert row.status == "failed"
    assert "HTTP 500" in row.last_error
    alerts = [a for a in hot_api.get("/v1/alerts").json() if a["kind"] == "webhook_failed"]
    assert len(alerts) == 1
    assert len(hook[1].received) == settings.webhook_max_attempts


def test_out_of_office_event_and_closing_a_lead(hot_api: Api) -> None:
    resp = _event(
        hot_api,
        "ooo",
        "rep_out_of_office",
        rep_id="rep-01",
        starts_at="2026-03-02T00:00:00Z",
        ends_at="2026-03-03T00:00:00Z",
    )
    assert resp.status_code == 201, resp.text
    owners = [_hot(hot_api, f"H{i}")["decision"] for i in range(4)]
    assert {d["rep_id"] for d in owners} == {"rep-02", "rep-03"}
    assert owners[0]["exclusions"]["rep-01"] == "OUT_OF_OFFICE"
    rep = owners[0]["rep_id"]
    before = hot_api.get(f"/v1/reps/{rep}").json()["open_leads"]
    assert _event(hot_api, "won", "closed_won", "H0").status_code == 201
    assert hot_api.get(f"/v1/reps/{rep}").json()["open_leads"] == before - 1
    assert hot_api.get("/v1/leads/H0").json()["closed_won"] is True
    bad = _event(
        hot_api,
        "ooo2",
        "rep_out_of_office",
        rep_id="rep-01",
        starts_at="2026-03-04T00:00:00Z",
        ends_at="2026-03-03T00:00:00Z",
    )
    assert bad.json()["error"]["field"] == "ends_at"


def test_meeting_kpi_and_manual_reassignment(hot_api: Api) -> None:
    _hot(hot_api, "H1")
    _hot(hot_api, "H2")
    _event(hot_api, "m1", "meeting_booked", "H1")
    kpi = hot_api.get("/v1/kpis").json()["conversion_to_meeting"]
    assert (kpi["numerator"], kpi["denominator"]) == (1, 2)
    resp = _event(hot_api, "r1", "reassigned", "H2", rep_id="rep-03", reason="manager")
    assert resp.json()["outcome"]["rep_id"] == "rep-03"
    last = hot_api.get("/v1/leads/H2").json()["decisions"][-1]
    assert last["reasons"] == ["MANUAL_REASSIGN", "manager"]
    assert last["trigger"] == "manual"


def test_timers_due_together_fire_in_pieces_with_the_same_outcome(
    hot_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no time allowed per piece of the worker's batch, each due timer is acted on in
    its own routing transaction (intakes take the lock in between), and every breach is
    still reassigned once."""
    from leadpilot.service import worker

    monkeypatch.setattr(worker, "_HOLD_S", 0.0)
    first = {lead_id: _hot(hot_api, lead_id)["decision"]["rep_id"] for lead_id in ("H1", "H2")}
    hot_api.clock.advance(minutes=16)
    opened: list[int] = []
    original = hot_api.service.routing_transaction

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        opened.append(1)
        return original(*a, **k)

    monkeypatch.setattr(hot_api.service, "routing_transaction", spy)
    report = run_due(hot_api.service)
    assert report.breaches == 2
    assert sorted(report.reassigned) == ["H1", "H2"]
    assert len(opened) >= 3  # one piece per timer, then the queue's
    for lead_id, rep_id in first.items():
        lead = hot_api.get(f"/v1/leads/{lead_id}").json()
        assert lead["reassignments"] == 1
        assert lead["rep_id"] not in {None, rep_id}
    assert run_due(hot_api.service).breaches == 0
