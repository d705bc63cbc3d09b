"""Rep updates are validated before anything is written, and a rep that is unreadable
anyway (stored by an older version or by hand) is left out of routing with an alert
instead of stopping routing for everyone."""

from __future__ import annotations

import pytest

from leadpilot.service.worker import run_due
from leadpilot.store.counters import bump_roster_version
from leadpilot.store.engine import write_transaction
from leadpilot.store.tables import reps

from .conftest import Api


@pytest.mark.parametrize(
    ("field", "value"),
    [("timezone", "Mars/Olympus"), ("working_hours", "whenever"), ("timezone", "../etc")],
)
def test_a_rejected_rep_update_writes_nothing(api: Api, field: str, value: str) -> None:
    """Issue 13 item 2: the 422 names the field and the stored rep is unchanged."""
    before = api.get("/v1/reps/rep-02").json()
    r = api.client.put(
        "/v1/reps/rep-02", json={field: value, "name": "Changed"}, headers=api.headers()
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert api.get("/v1/reps/rep-02").json() == before
    # and routing goes on over all four reps
    got = {
        api.post("/v1/leads", {"lead_id": f"L{i}"}).json()["decision"]["rep_id"] for i in range(4)
    }
    assert got == {"rep-01", "rep-02", "rep-03", "rep-04"}


def test_an_unreadable_stored_rep_is_skipped_with_an_alert(api: Api) -> None:
    """Issue 13 item 2: rep-02 and rep-03 made unreadable behind the API's back (as an
    older version stored them): intake routes to the other two, the worker still polls,
    GET /v1/reps shows the problem, and one alert per rep says why it is left out."""
    api.post("/v1/leads", {"lead_id": "warm"})  # the roster is cached before the damage
    with write_transaction(api.engine) as conn:
        conn.execute(reps.update().where(reps.c.rep_id == "rep-02").values(timezone="Mars/Olympus"))
        conn.execute(
            reps.update().where(reps.c.rep_id == "rep-03").values(working_hours="whenever")
        )
        bump_roster_version(conn)
    got = [api.post("/v1/leads", {"lead_id": f"L{i}"}) for i in range(6)]
    assert [r.status_code for r in got] == [201] * 6
    assert {r.json()["decision"]["rep_id"] for r in got} == {"rep-01", "rep-04"}
    run_due(api.service)  # raised "unknown timezone" on main
    listed = api.get("/v1/reps")
    assert listed.status_code == 200
    problems = {r["rep_id"]: r["problem"] for r in listed.json()}
    assert problems["rep-01"] is None
    assert problems["rep-04"] is None
    assert "unknown timezone 'Mars/Olympus'" in problems["rep-02"]
    assert "working_hours 'whenever'" in problems["rep-03"]
    alerts = [a for a in api.get("/v1/alerts").json() if a["kind"] == "rep_skipped"]
    assert sorted(a["message"].split()[1] for a in alerts) == ["rep-02", "rep-03"]
    # fixing the rep through the API brings it back
    fixed = api.client.put(
        "/v1/reps/rep-02", json={"timezone": "Europe/Paris"}, headers=api.headers()
    )
    assert fixed.status_code == 200
    assert fixed.json()["problem"] is None
    got = {
        api.post("/v1/leads", {"lead_id": f"M{i}"}).json()["decision"]["rep_id"] for i in range(6)
    }
    assert "rep-02" in got


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        ("2026-03-05T00:00:00Z", "2026-03-04T00:00:00Z"),
        ("2026-03-05T00:00:00Z", "2026-03-05T00:00:00Z"),
        ("2026-03-05T02:00:00", "2026-03-05T03:00:00+02:00"),  # naive is UTC: 01:00Z ends first
    ],
)
def test_an_out_of_office_range_that_ends_before_it_starts_is_422(
    api: Api, starts_at: str, ends_at: str
) -> None:
    """Issue 13 item 7: PUT /v1/reps accepted such ranges; now a 422 naming the field."""
    ok = {"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-02T00:00:00Z"}
    bad = {"starts_at": starts_at, "ends_at": ends_at}
    r = api.client.put("/v1/reps/rep-02", json={"out_of_office": [ok, bad]}, headers=api.headers())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "body.out_of_office.1.ends_at"
    assert api.get("/v1/reps/rep-02").json()["out_of_office"] == []
