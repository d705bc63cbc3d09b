"""Routing behaviour RevOps expects (issue 13, items 8-11), through the HTTP service:
reassignment never returns a lead to a rep who let it go, working hours hold in every lane
(business-minute SLA clocks where the lane says so), ownership holds come before lane
qualification, and full pools overflow to the next pool and then to a fallback owner."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from leadpilot.schema import Account, Rep
from leadpilot.service.worker import run_due
from leadpilot.store.accounts import upsert_accounts
from leadpilot.store.engine import write_transaction

from .conftest import Api, build_api, make_reps
from .policies import ACCEPTANCE, HOT_SLA


def _policy(api: Api, text: str) -> None:
    resp = api.post("/v1/policy", {"policy": text}, role="admin")
    assert resp.status_code == 201, resp.text


def _hot_policy(max_reassignments: int = 5) -> str:
    return HOT_SLA.format(notify_url="").replace(
        "max_reassignments: 2", f"max_reassignments: {max_reassignments}"
    )


# ------------------------------------------------------------------ item 8: PREVIOUSLY_LAPSED
def test_a_second_breach_never_returns_the_lead_to_the_first_breacher(engine: sa.Engine) -> None:
    api = build_api(engine, make_reps(3))
    with api.client:
        _policy(api, _hot_policy())
        first = api.post("/v1/leads", {"lead_id": "H1", "demo_request": True}).json()
        owners = [first["decision"]["rep_id"]]
        for _ in range(2):
            api.clock.advance(minutes=16)  # past the 15-minute hot SLA
            assert run_due(api.service).breaches == 1
            owners.append(api.get("/v1/leads/H1").json()["rep_id"])
        # Three reps, two breaches: each breacher is excluded for good, so the lead visits
        # all three (the bug sent it back to the first after the second breach).
        assert len(set(owners)) == 3, owners
        last = api.get("/v1/decisions", lead_id="H1").json()[-1]
        assert last["exclusions"][owners[0]] == "PREVIOUSLY_LAPSED"
        assert last["exclusions"][owners[1]] == "PREVIOUSLY_LAPSED"
        # A third breach: nobody left who has not lapsed, so it stays with the last owner.
        api.clock.advance(minutes=16)
        assert run_due(api.service).breaches == 1
        lead = api.get("/v1/leads/H1").json()
        assert lead["rep_id"] == owners[2]
        alerts = api.get("/v1/alerts").json()
        assert [a["kind"] for a in alerts] == ["sla_breach_unassignable"]
        history = [(a["rep_id"], a["ended_by"], a["lapsed"]) for a in lead["assignees"]]
        assert history == [
            (owners[0], "sla_breach", True),
            (owners[1], "sla_breach", True),
            (owners[2], None, False),
        ]


def test_an_expired_offer_and_a_decline_both_count_as_lapses(engine: sa.Engine) -> None:
    api = build_api(engine, make_reps(3))
    with api.client:
        _policy(api, ACCEPTANCE)
        owners = [api.post("/v1/leads", {"lead_id": "A1"}).json()["decision"]["rep_id"]]
        api.clock.advance(minutes=11)  # the 10-minute acceptance window expires
        run_due(api.service)
        owners.append(api.get("/v1/leads/A1").json()["rep_id"])
        event = {"event_id": "d1", "type": "declined", "lead_id": "A1", "rep_id": owners[-1]}
        assert api.post("/v1/events", event).status_code == 201
        owners.append(api.get("/v1/leads/A1").json()["rep_id"])
        assert len(set(owners)) == 3, owners
        lead = api.get("/v1/leads/A1").json()
        assert [a["ended_by"] for a in lead["assignees"]] == [
            "acceptance_expired",
            "declined",
            None,
        ]
        last = lead["decisions"][-1]
        assert last["exclusions"][owners[0]] == "PREVIOUSLY_LAPSED"


# ------------------------------------------------------------ item 9: working hours everywhere
ON_SHIFT = "Mon-Fri 09:00-17:00"  # UTC; the test clock starts Monday 15:00 UTC


def _shift_reps() -> list[Rep]:
    return [
        Rep(rep_id="early", pool="sdr", working_hours="Mon-Fri 06:00-10:00"),  # off at 15:00
        Rep(rep_id="day", pool="sdr", working_hours=ON_SHIFT),
        Rep(rep_id="late", pool="sdr", working_hours="Mon-Fri 18:00-23:00"),  # starts 18:00
    ]


STANDARD = """
lanes:
  - name: standard
    sla_minutes: 60
pools:
  - name: sdr
    strategy: round_robin
"""


def test_a_standard_lane_assigns_only_reps_on_shift(engine: sa.Engine) -> None:
    api = build_api(engine, _shift_reps())
    with api.client:
        _policy(api, STANDARD)
        reps = [
            api.post("/v1/leads", {"lead_id": f"S{i}"}).json()["decision"]["rep_id"]
            for i in range(4)
        ]
        assert reps == ["day"] * 4  # round robin among the reps on shift only
        excl = api.get("/v1/decisions", lead_id="S0").json()[0]["exclusions"]
        assert excl == {"early": "OUTSIDE_WORKING_HOURS", "late": "OUTSIDE_WORKING_HOURS"}


def test_nobody_on_shift_goes_to_the_soonest_shift_or_the_queue(engine: sa.Engine) -> None:
    reps = [r for r in _shift_reps() if r.rep_id != "day"]
    api = build_api(engine, reps)
    with api.client:
        _policy(api, STANDARD)
        soon = api.post("/v1/leads", {"lead_id": "N1"}).json()["decision"]
        # 15:00 Monday: 'late' starts at 18:00 today, 'early' at 06:00 tomorrow.
        assert soon["rep_id"] == "late"
        assert "NEXT_SHIFT:late" in soon["reasons"]
        # A wall clock starts at the shift's start: 18:00 + 60 minutes.
        assert soon["sla_deadline"].startswith("2026-03-02T19:00:00")
        _policy(api, STANDARD.replace("sla_minutes: 60", "sla_minutes: 60\n    off_shift: queue"))
        queued = api.post("/v1/leads", {"lead_id": "N2"}).json()
        assert queued["status"] == "queued"
        assert queued["decision"]["rep_id"] is None


def test_business_sla_clock_counts_the_reps_working_minutes(engine: sa.Engine) -> None:
    api = build_api(engine, [Rep(rep_id="day", pool="sdr", working_hours=ON_SHIFT)])
    with api.client:
        _policy(
            api, STANDARD.replace("sla_minutes: 60", "sla_minutes: 180\n    sla_clock: business")
        )
        api.clock.now = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # a Friday, 15:00
        decision = api.post("/v1/leads", {"lead_id": "B1"}).json()["decision"]
        # 120 working minutes on Friday (15:00-17:00), the other 60 from Monday 09:00.
        assert decision["sla_deadline"].startswith("2026-03-09T10:00:00")
        _policy(api, STANDARD.replace("sla_minutes: 60", "sla_minutes: 180\n    sla_clock: wall"))
        wall = api.post("/v1/leads", {"lead_id": "B2"}).json()["decision"]
        assert wall["sla_deadline"].startswith("2026-03-06T18:00:00")


# ------------------------------------------------------ item 10: holds before lane qualification
HOLDS_BEFORE_LANES = """
lanes:
  - name: nurture
    assign: false
    when: [{field: fit, at_most: 10}]
  - name: standard
    sla_minutes: 240
holds: {enabled: true, open_opportunity: true}
pools:
  - name: sdr
    strategy: round_robin
"""


def test_an_owned_account_with_an_open_opportunity_goes_to_its_owner_in_any_lane(
    engine: sa.Engine,
) -> None:
    with write_transaction(engine) as conn:
        upsert_accounts(
            conn,
            [Account(account_id="acme", domain="acme.com", owner_rep_id="rep-03",
                     has_open_opportunity=True, tier="strategic")],
        )  # fmt: skip
    api = build_api(engine, make_reps(3))
    with api.client:
        _policy(api, HOLDS_BEFORE_LANES)
        owned = api.post("/v1/leads", {"lead_id": "O1", "email": "cto@acme.com"}).json()
        decision = owned["decision"]
        assert decision["lane"] == "nurture"  # the lane still says what kind of lead it is
        assert decision["rep_id"] == "rep-03"
        assert "OWNER_HOLD" in decision["reasons"]
        assert decision["sla_deadline"] is None  # nurture has no SLA
        other = api.post("/v1/leads", {"lead_id": "O2", "email": "x@other.com"}).json()
        assert other["status"] == "nurture"


# --------------------------------------------------------- item 11: overflow and fallback owner
OVERFLOW = """
lanes:
  - name: standard
    sla_minutes: 240
pools:
  - name: first
    members: [rep-01]
    strategy: round_robin
    overflow: [second]
  - name: second
    members: [rep-02]
    strategy: round_robin
    when: [{{field: source, equals: never}}]
max_leads_per_day: 1
fallback_owner: {fallback}
"""


def test_a_full_pool_overflows_in_order_then_to_the_fallback_owner(engine: sa.Engine) -> None:
    api = build_api(engine, make_reps(3, cap=None))
    with api.client:
        _policy(api, OVERFLOW.format(fallback="{rep: rep-03}"))
        got = [api.post("/v1/leads", {"lead_id": f"F{i}"}).json()["decision"] for i in range(3)]
        assert [d["rep_id"] for d in got] == ["rep-01", "rep-02", "rep-03"]
        assert "OVERFLOW:second" in got[1]["reasons"]
        assert got[1]["pool"] == "second"
        assert "FALLBACK_OWNER:rep-03" in got[2]["reasons"]


def test_a_fallback_queue_holds_the_lead_and_raises_an_alert(engine: sa.Engine) -> None:
    api = build_api(engine, make_reps(2, cap=None))
    with api.client:
        _policy(api, OVERFLOW.format(fallback="{queue: triage}"))
        got = [api.post("/v1/leads", {"lead_id": f"Q{i}"}).json() for i in range(3)]
        assert [g["decision"]["rep_id"] for g in got] == ["rep-01", "rep-02", None]
        assert got[2]["status"] == "queued"
        assert "FALLBACK_QUEUE:triage" in got[2]["decision"]["reasons"]
        alerts = api.get("/v1/alerts").json()
        assert [(a["kind"], a["lead_id"]) for a in alerts] == [("lead_unowned", "Q2")]
        # Stamped by the service's clock (a fixed test time), not the wall clock.
        assert datetime.fromisoformat(alerts[0]["created_at"]) == api.clock.now
