"""``least_recently_assigned`` in the service: the time of each rep's last assignment is kept
with the pool's rotation credits in the database, across requests, with no code of its own
in the service or the store."""

from __future__ import annotations

from datetime import timedelta

from .conftest import Api

POLICY = """
pools:
  - name: all
    strategy: least_recently_assigned
    eligibility: {territory: false}
"""


def test_the_rep_longest_without_a_lead_gets_the_next(api: Api) -> None:
    assert api.post("/v1/policy", {"policy": POLICY}, role="admin").status_code == 201

    def intake(lead_id: str) -> str:
        api.clock.advance(minutes=5)
        resp = api.post("/v1/leads", {"lead_id": lead_id})
        assert resp.status_code == 201, resp.text
        decision = resp.json()["decision"]
        assert decision["strategy"] == "least_recently_assigned"
        return str(decision["rep_id"])

    # nobody assigned yet: ties, broken by rotation (roster order)
    first = [intake(f"L{i}") for i in range(4)]
    assert first == ["rep-01", "rep-02", "rep-03", "rep-04"]
    # rep-02 goes out of office for the next two leads: rep-01 then rep-03, the oldest
    start = api.clock.now
    away = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
    resp = api.client.put(
        "/v1/reps/rep-02", json={"out_of_office": [away]}, headers=api.headers("writer")
    )
    assert resp.status_code == 200, resp.text
    assert [intake("L4"), intake("L5")] == ["rep-01", "rep-03"]
    # back: rep-02's last lead is now the oldest of all
    api.clock.advance(hours=1)
    assert intake("L6") == "rep-02"
