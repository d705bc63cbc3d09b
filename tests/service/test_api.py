"""The HTTP API in-process: auth, error shape, intake, dedupe, idempotency, formats,
policies, reps, decisions, KPIs and metrics."""

from __future__ import annotations

from collections import Counter

import pytest

from leadpilot.schema import Rep

from .conftest import Api, build_api, make_reps
from .policies import HOT_SLA


def _error(resp) -> dict:  # type: ignore[no-untyped-def]
    body = resp.json()
    assert set(body) == {"error"}
    assert {"type", "message", "hint", "field", "details"} <= set(body["error"])
    assert "Traceback" not in resp.text
    return body["error"]


def test_only_healthz_is_open(api: Api) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    for method, path in [
        ("get", "/v1/decisions"),
        ("post", "/v1/leads"),
        ("get", "/metrics"),
        ("get", "/v1/kpis"),
        ("get", "/v1/reps/rep-01"),
    ]:
        resp = getattr(api.client, method)(path)
        assert resp.status_code == 401, path
        assert "Bearer" in _error(resp)["hint"]
    bad = api.client.get("/v1/decisions", headers={"Authorization": "Bearer lp_nope"})
    assert bad.status_code == 401


def test_auth_is_answered_before_a_body_fastapi_refuses(api: Api) -> None:
    """POST /v1/leads looks its token up inside the endpoint; a body FastAPI refuses before
    the endpoint runs (not a JSON object, a bad query) still gets 401/403 first."""
    not_an_object = [1, 2]
    unknown = api.client.post(
        "/v1/leads", json=not_an_object, headers={"Authorization": "Bearer lp_nope"}
    )
    assert unknown.status_code == 401
    assert "Bearer" in _error(unknown)["hint"]
    weak = api.client.post("/v1/leads", json=not_an_object, headers=api.headers("reader"))
    assert weak.status_code == 403
    bad_query = api.client.post(
        "/v1/leads?format=nope", json={"lead_id": "L1"}, headers={"Authorization": "Bearer x"}
    )
    assert bad_query.status_code == 401
    assert api.post("/v1/leads", not_an_object).status_code == 422  # a writer: the body


def test_readers_cannot_write_and_writers_cannot_change_policy(api: Api) -> None:
    resp = api.post("/v1/leads", {"lead_id": "L1"}, role="reader")
    assert resp.status_code == 403
    assert _error(resp)["type"] == "HTTPError"
    resp = api.post("/v1/policy", {"policy": "pools: [{name: a}]"}, role="writer")
    assert resp.status_code == 403
    assert api.post("/v1/policy", {"policy": "pools: [{name: a}]"}, role="admin").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lead_id": "L1", "company_size": -5}, "body.company_size"),
        ({"lead_id": "L1", "colour": "red", "attributes": {"colour": "x"}}, "body"),
        ({"lead_id": "bad id with spaces"}, "body.lead_id"),
        ({"lead_id": "L1", "engagement_score": "high"}, "body.engagement_score"),
    ],
)
def test_bad_payloads_get_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    resp = api.post("/v1/leads", body)
    assert resp.status_code == 422
    assert _error(resp)["field"] == field


def test_unknown_resources_and_bad_json(api: Api) -> None:
    assert _error(api.get("/v1/leads/nope"))["type"] == "NotFoundError"
    assert api.get("/v1/reps/nope").status_code == 404
    resp = api.client.post(
        "/v1/leads",
        content=b"{not json",
        headers=api.headers("writer", **{"content-type": "application/json"}),
    )
    assert resp.status_code == 422
    _error(resp)


def test_request_size_limit(api: Api) -> None:
    big = {"lead_id": "L1", "title": "x" * 2_000_000}
    resp = api.post("/v1/leads", big)
    assert resp.status_code == 413
    assert _error(resp)["type"] == "PayloadTooLarge"


def test_unexpected_errors_are_500_without_stack_trace(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.service, "_intake_on", boom)  # both intake paths run it
    resp = api.post("/v1/leads", {"lead_id": "L1"})
    assert resp.status_code == 500
    err = _error(resp)
    assert err["type"] == "InternalError"
    assert "secret internals" not in resp.text


def test_round_robin_spreads_leads_evenly_with_reason_codes(api: Api) -> None:
    reps = [
        api.post("/v1/leads", {"lead_id": f"L{i}"}).json()["decision"]["rep_id"] for i in range(8)
    ]
    assert Counter(reps) == {f"rep-0{i}": 2 for i in range(1, 5)}
    # strict rotation: the first four are four different reps
    assert len(set(reps[:4])) == 4
    decision = api.get("/v1/decisions", lead_id="L0").json()[0]
    assert decision["reasons"][:3] == ["LANE:standard", "GRADE:D", "POOL:all"]
    assert decision["propensity"] == 1.0
    assert decision["policy_version"]
    assert api.get("/v1/reps/rep-01").json()["leads_today"] == 2


def test_duplicates_are_not_routed_twice(api: Api) -> None:
    first = api.post("/v1/leads", {"lead_id": "L1", "email": "Ann@Acme.com", "external_id": "sf-1"})
    assert first.status_code == 201
    by_email = api.post("/v1/leads", {"lead_id": "L2", "email": " ann@acme.com"})
    by_ext = api.post("/v1/leads", {"lead_id": "L3", "external_id": "sf-1"})
    for resp, matched in [(by_email, "email"), (by_ext, "external_id")]:
        assert resp.status_code == 200
        body = resp.json()
        assert body["duplicate"] is True
        assert body["duplicate_of"] == "L1"
        assert body["matched_on"] == matched
        assert body["decision"]["id"] == first.json()["decision"]["id"]
    assert len(api.get("/v1/decisions").json()) == 1
    assert api.get("/v1/leads/L2").status_code == 404
    kpi = api.get("/v1/kpis").json()["duplicate_rate"]
    assert (kpi["numerator"], kpi["denominator"]) == (2, 3)
    assert kpi["low"] < 2 / 3 < kpi["high"]


def test_idempotency_key_returns_the_same_decision(api: Api) -> None:
    body = {"lead_id": "L1", "email": "x@y.com"}
    a = api.post("/v1/leads", body, **{"Idempotency-Key": "k-1"})
    b = api.post("/v1/leads", body, **{"Idempotency-Key": "k-1"})
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json()
    assert len(api.get("/v1/decisions").json()) == 1
    other = api.post("/v1/leads", {"lead_id": "L9"}, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert _error(other)["field"] == "Idempotency-Key"


def test_hubspot_and_salesforce_payloads(api: Api) -> None:
    hub = {
        "id": "901",
        "properties": {
            "email": "jo@globex.io",
            "company": "Globex",
            "numberofemployees": "250",
            "jobtitle": "CTO",
            "favourite_colour": "blue",
        },
    }
    resp = api.post("/v1/leads?format=hubspot", hub)
    assert resp.status_code == 201, resp.text
    lead = api.get(f"/v1/leads/{resp.json()['lead_id']}").json()
    assert lead["fields"]["external_id"] == "hubspot:901"
    assert lead["fields"]["company_size"] == 250.0
    assert lead["fields"]["title"] == "CTO"
    assert lead["fields"]["domain"] == "globex.io"
    assert lead["fields"]["attributes"]["favourite_colour"] == "blue"
    sf = {
        "attributes": {"type": "Lead"},
        "Id": "00Q1",
        "Email": "al@initech.com",
        "Company": "Initech",
        "NumberOfEmployees": 40,
        "LeadSource": "Web",
    }
    resp = api.post("/v1/leads?format=salesforce", sf)
    assert resp.status_code == 201, resp.text
    lead = api.get(f"/v1/leads/{resp.json()['lead_id']}").json()
    assert lead["fields"]["external_id"] == "salesforce:00Q1"
    assert lead["fields"]["source"] == "Web"
    again = api.post("/v1/leads?format=salesforce", {**sf, "Email": "other@initech.com"})
    assert again.json()["duplicate"] is True
    bad = api.post("/v1/leads?format=hubspot", {"email": "no-properties@x.com"})
    assert bad.status_code == 422
    assert _error(bad)["field"] == "properties"


def test_policy_upload_history_diff_and_rollback(api: Api) -> None:
    v1 = api.post("/v1/policy", {"policy": "pools:\n  - name: a\n"}, role="admin").json()
    v2 = api.post(
        "/v1/policy", {"policy": "pools:\n  - name: b\n    strategy: round_robin\n"}, role="admin"
    ).json()
    assert v1["version"] != v2["version"]
    assert api.get("/v1/policy").json()["version"] == v2["version"]
    decision = api.post("/v1/leads", {"lead_id": "L1"}).json()["decision"]
    assert decision["policy_version"] == v2["version"]
    assert decision["pool"] == "b"
    diff = api.get("/v1/policy/diff", **{"from": v1["version"], "to": v2["version"]}).json()
    assert "-  - name: a" in diff["diff"]
    assert "+  - name: b" in diff["diff"]
    back = api.post("/v1/policy/rollback", {"version": v1["version"]}, role="admin")
    assert back.json()["active"] is True
    history = api.get("/v1/policy/history").json()
    assert history["active_version"] == v1["version"]
    assert [a["action"] for a in history["activations"]] == ["upload", "upload", "rollback"]
    assert all(a["author"] == "test-admin" for a in history["activations"])
    assert api.post("/v1/leads", {"lead_id": "L2"}).json()["decision"]["pool"] == "a"
    same = api.post("/v1/policy", {"policy": "pools:\n  - name: a\n"}, role="admin")
    assert same.status_code == 200


def test_invalid_policy_names_the_key(api: Api) -> None:
    resp = api.post(
        "/v1/policy", {"policy": "pools:\n  - name: a\n    strategy: coin_flip\n"}, role="admin"
    )
    assert resp.status_code == 422
    err = _error(resp)
    assert err["type"] == "PolicyError"
    assert "pools" in (err["field"] or "")
    assert "strategy" in err["field"]
    assert api.get("/v1/policy").status_code == 404


def test_rep_put_changes_availability(api: Api) -> None:
    resp = api.client.put("/v1/reps/rep-02", json={"active": False}, headers=api.headers())
    assert resp.status_code == 200
    assert resp.json()["active"] is False
    reps = {
        api.post("/v1/leads", {"lead_id": f"L{i}"}).json()["decision"]["rep_id"] for i in range(6)
    }
    assert reps == {"rep-01", "rep-03", "rep-04"}
    new = api.client.put(
        "/v1/reps/rep-09", json={"name": "Nine", "max_leads_per_day": 3}, headers=api.headers()
    )
    assert new.json()["max_leads_per_day"] == 3
    bad = api.client.put("/v1/reps/rep-09", json={"max_leads_per_day": -1}, headers=api.headers())
    assert _error(bad)["field"] == "body.max_leads_per_day"
    assert (
        api.client.put("/v1/reps/rep-09", json={}, headers=api.headers("reader")).status_code == 403
    )


def test_metrics_count_decisions(api: Api) -> None:
    for i in range(3):
        api.post("/v1/leads", {"lead_id": f"L{i}"})
    text = api.get("/metrics").text
    assert 'leadpilot_decisions_total{outcome="assigned",trigger="intake"} 3.0' in text
    assert "leadpilot_intake_seconds_bucket" in text


def test_requests_are_counted_by_route_and_status_and_timed(api: Api) -> None:
    created = api.post("/v1/leads", {"lead_id": "M1"})
    again = api.post("/v1/leads", {"lead_id": "M1"})  # a duplicate: 200
    missing = api.get("/v1/leads/nobody")
    assert (created.status_code, again.status_code, missing.status_code) == (201, 200, 404)
    for response in (created, again, missing):
        assert float(response.headers["x-process-time-ms"]) >= 0
    api.client.get("/no/such/page")
    text = api.get("/metrics").text
    counted = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("leadpilot_http_requests_total{")
    }
    assert (
        counted['leadpilot_http_requests_total{method="POST",route="/v1/leads",status="201"}'] == 1
    )
    assert (
        counted['leadpilot_http_requests_total{method="POST",route="/v1/leads",status="200"}'] == 1
    )
    assert (
        counted[
            'leadpilot_http_requests_total{method="GET",route="/v1/leads/{lead_id}",status="404"}'
        ]
        == 1
    )
    assert (
        counted['leadpilot_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    )


def test_snapshots_share_router_inputs_until_the_roster_changes(api: Api) -> None:
    """Intakes reuse one RouterInputs (and its RosterMemo) per policy and roster; a roster
    write gives the next intake fresh inputs with the new rep."""
    inputs = api.service.inputs
    api.post("/v1/leads", {"lead_id": "S1"})
    first = inputs._router_base[1]
    api.post("/v1/leads", {"lead_id": "S2"})
    assert inputs._router_base[1] is first
    assert first.memo is not None
    assert first.memo.hits > 0  # the second lead used the memo
    api.client.put("/v1/reps/rep-09", json={"name": "Nine"}, headers=api.headers("admin"))
    api.post("/v1/leads", {"lead_id": "S3"})
    fresh = inputs._router_base[1]
    assert fresh is not first
    assert "rep-09" in {r.rep_id for r in fresh.reps}
    assert "rep-09" not in {r.rep_id for r in first.reps}


def test_nurture_lane_is_not_assigned(engine) -> None:  # type: ignore[no-untyped-def]
    api = build_api(engine, make_reps())
    with api.client:
        api.post("/v1/policy", {"policy": HOT_SLA.format(notify_url="")}, role="admin")
        body = api.post("/v1/leads", {"lead_id": "N1", "source": "newsletter"}).json()
        assert body["status"] == "nurture"
        assert body["decision"]["rep_id"] is None
        assert body["decision"]["lane"] == "nurture"
        hot = api.post("/v1/leads", {"lead_id": "H1", "attributes": {"demo_request": True}}).json()
        assert hot["decision"]["lane"] == "hot"
        deadline = hot["decision"]["sla_deadline"]
        assert deadline.startswith("2026-03-02T15:15:00")


def test_capacity_is_never_exceeded_and_the_queue_drains_next_day(engine) -> None:  # type: ignore[no-untyped-def]
    api = build_api(engine, make_reps(3, cap=2))
    with api.client:
        bodies = [api.post("/v1/leads", {"lead_id": f"L{i}"}).json() for i in range(8)]
        routed = [b for b in bodies if b["status"] == "routed"]
        queued = [b for b in bodies if b["status"] == "queued"]
        assert len(routed) == 6
        assert len(queued) == 2
        assert Counter(b["decision"]["rep_id"] for b in routed) == {
            "rep-01": 2,
            "rep-02": 2,
            "rep-03": 2,
        }
        q = queued[0]["decision"]
        assert q["rep_id"] is None
        assert "ALL_AT_CAPACITY" in q["reasons"]
        assert set(q["exclusions"].values()) == {"AT_DAILY_CAP"}
        lead = api.get("/v1/leads/L6").json()
        assert lead["status"] == "queued"
        assert lead["queue_reason"]
        from leadpilot.service.worker import run_due

        assert run_due(api.service).drained == []  # same day: still full
        for b in routed:  # touched in time: no SLA breach will take tomorrow's capacity
            event = {
                "event_id": f"t-{b['lead_id']}",
                "type": "first_touch",
                "lead_id": b["lead_id"],
            }
            assert api.post("/v1/events", event).status_code == 201
        api.clock.advance(days=1)
        report = run_due(api.service)
        assert report.drained == ["L6", "L7"]
        drained = api.get("/v1/decisions", lead_id="L6").json()
        assert drained[-1]["reasons"][0] == "QUEUE_DRAIN"
        assert drained[-1]["trigger"] == "queue_drain"
        assert api.get("/v1/leads/L6").json()["status"] == "routed"


def test_working_hours_queue_until_the_next_working_day(engine) -> None:  # type: ignore[no-untyped-def]
    reps = [Rep(rep_id="ny", timezone="America/New_York", working_hours="Mon-Fri 09:00-17:00")]
    api = build_api(engine, reps)
    with api.client:
        api.post("/v1/policy", {"policy": HOT_SLA.format(notify_url="")}, role="admin")
        api.clock.now = api.clock.now.replace(hour=23)  # 18:00 in New York: closed
        hot = api.post("/v1/leads", {"lead_id": "H", "attributes": {"demo_request": True}}).json()
        assert hot["status"] == "queued"
        assert hot["decision"]["exclusions"] == {"ny": "OUTSIDE_WORKING_HOURS"}
        from leadpilot.service.worker import run_due

        api.clock.advance(hours=11)  # 05:00 in New York
        assert run_due(api.service).drained == []
        api.clock.advance(hours=5)  # 10:00 in New York
        assert run_due(api.service).drained == ["H"]


def test_every_operation_documents_the_one_error_shape(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        if path in {"/healthz", "/readyz", "/metrics"}:
            continue
        for op in methods.values():
            for code in ("401", "403", "422"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (path, code)
            checked += 1
    assert checked >= 14
