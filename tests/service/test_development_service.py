"""Development shares in the service: the live router keeps the share, and the KPI fairness
view shows the new rep separately (the others' index leaves the ramp out)."""

from __future__ import annotations

import pytest

from .conftest import Api

POLICY = """
pools:
  - name: all
    strategy: round_robin
    eligibility: {territory: false}
development:
  - name: ramp
    reps: [rep-04]
    schedule: [{min_share: 0.5}]
"""


def test_the_service_keeps_the_share_and_the_kpis_show_the_new_rep(api: Api) -> None:
    assert api.post("/v1/policy", {"policy": POLICY}, role="admin").status_code == 201
    reps = []
    for i in range(8):
        resp = api.post("/v1/leads", {"lead_id": f"L{i}"})
        assert resp.status_code == 201, resp.text
        reps.append(resp.json()["decision"]["rep_id"])
    # round-robin over four reps would give rep-04 two of eight; the share gives it four,
    # every second lead (floor(0.5 x N) after each one)
    assert sum(r == "rep-04" for r in reps) == 4
    assert all(reps[: i + 1].count("rep-04") >= (i + 1) // 2 for i in range(8))
    rows = {r["rep_id"]: r for r in api.get("/v1/kpis").json()["fairness"]}
    new = rows["rep-04"]
    assert (new["new_rep"], new["min_share"], new["share"]) == (True, 0.5, 0.5)
    assert new["fairness_index"] is None
    # the other three share the remaining four leads: average 4/3 each
    others = [rows[f"rep-0{i}"] for i in (1, 2, 3)]
    assert sum(r["leads"] for r in others) == 4
    for r in others:
        assert r["new_rep"] is False
        assert r["fairness_index"] == pytest.approx(r["leads"] / (4 / 3))
