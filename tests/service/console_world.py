"""A small routing world built through the API for the console tests: two pools, hot and
standard leads, touches, a meeting, an opportunity, a duplicate and a decline, with the
facts recorded on the side so the tests can compute the KPIs independently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from leadpilot.schema import Rep

POLICY = """
lanes:
  - name: hot
    sla_minutes: 15
    when:
      - field: demo_request
        equals: true
  - name: standard
    sla_minutes: 240
pools:
  - name: sdr
    member_pools: [sdr]
    strategy: round_robin
    when:
      - field: region
        equals: EMEA
  - name: ae
    member_pools: [ae]
    strategy: round_robin
max_reassignments: 2
"""

# lead id -> (region, hot)
LEADS: dict[str, tuple[str, bool]] = {
    "e1": ("EMEA", True),
    "e2": ("EMEA", True),
    "e3": ("EMEA", True),
    "e4": ("EMEA", False),
    "e5": ("EMEA", False),
    "e6": ("EMEA", False),
    "n1": ("NAMER", True),
    "n2": ("NAMER", False),
    "n3": ("NAMER", False),
}
COMPANIES = {"e1": "Acme Widgets", "n1": "Globex"}


def reps() -> list[Rep]:
    """Three SDRs and two AEs, always working, no caps to speak of."""
    return [
        Rep(rep_id=f"rep-0{i}", name=f"Rep {i}", pool="sdr" if i <= 3 else "ae",
            max_leads_per_day=100, timezone="UTC")
        for i in range(1, 6)
    ]  # fmt: skip


class Client(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...
    def get(self, url: str, **kwargs: Any) -> Any: ...


class Clock(Protocol):
    def advance(self, **kwargs: float) -> None: ...


@dataclass
class Facts:
    """What the scenario did, in minutes after routing (every lead is routed at t=0)."""

    pool: dict[str, str] = field(default_factory=dict)
    touch_minutes: dict[str, float] = field(default_factory=dict)
    meetings: set[str] = field(default_factory=set)
    opportunities: set[str] = field(default_factory=set)
    reassigned: set[str] = field(default_factory=set)
    duplicates_of: list[str] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)


def lead_body(lead_id: str, region: str, hot: bool, **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "email": f"{lead_id}@{lead_id}.example.com",
        "company": COMPANIES.get(lead_id, f"Company {lead_id}"),
        "region": region,
        "demo_request": hot,
        **extra,
    }


def build(client: Client, clock: Clock, tokens: dict[str, str]) -> Facts:
    """Post the policy, the leads and the events; advance ``clock`` 60 minutes in all."""
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    writer = {"Authorization": f"Bearer {tokens['writer']}"}
    client.post("/v1/policy", json={"policy": POLICY}, headers=admin).raise_for_status()
    facts = Facts()
    for lead_id, (region, hot) in LEADS.items():
        resp = client.post("/v1/leads", json=lead_body(lead_id, region, hot), headers=writer)
        resp.raise_for_status()
        decision = resp.json()["decision"]
        assert decision["rep_id"], decision
        facts.pool[lead_id] = decision["pool"]
        facts.owner[lead_id] = decision["rep_id"]
    dup = client.post(
        "/v1/leads",
        json={"lead_id": "e1-again", "email": "e1@e1.example.com", "region": "EMEA"},
        headers=writer,
    )
    assert dup.json()["duplicate"], dup.text
    facts.duplicates_of.append("e1")

    def event(kind: str, lead_id: str, **extra: Any) -> None:
        body = {"event_id": f"{kind}-{lead_id}", "type": kind, "lead_id": lead_id, **extra}
        client.post("/v1/events", json=body, headers=writer).raise_for_status()

    clock.advance(minutes=5)
    for lead_id in ("e1", "e2", "e4", "n1"):
        event("first_touch", lead_id)
        facts.touch_minutes[lead_id] = 5
    for lead_id in ("e1", "n1"):
        event("meeting_booked", lead_id)
        facts.meetings.add(lead_id)
    event("opportunity_created", "e1")
    facts.opportunities.add("e1")
    clock.advance(minutes=15)
    for lead_id in ("e3", "n2"):
        event("first_touch", lead_id)
        facts.touch_minutes[lead_id] = 20
    event("declined", "e5", rep_id=facts.owner["e5"])
    facts.reassigned.add("e5")
    clock.advance(minutes=40)
    return facts
