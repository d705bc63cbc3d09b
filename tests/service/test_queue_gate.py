"""The worker retries queued leads only when a rep opened up, and then walks the whole
queue: expected counts of routing attempts worked out by hand from the roster."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from leadpilot.schema import Rep
from leadpilot.service.queue_gate import Openings, _RepOpening
from leadpilot.service.worker import run_due

from .conftest import Api, build_api


def _opening(**kw: object) -> _RepOpening:
    base: dict[str, object] = {
        "present": True,
        "working": True,
        "daily_room": 0.0,
        "open_room": 0.0,
    }
    return _RepOpening(**{**base, **kw})  # type: ignore[arg-type]


def test_openings_improve_only_when_a_rep_gains_room_or_the_versions_change() -> None:
    old = Openings("p1", 3, {"a": _opening(), "b": _opening(present=False)})
    same = Openings("p1", 3, {"a": _opening(), "b": _opening(present=False)})
    assert not same.improved_on(old)
    fuller = Openings("p1", 3, {"a": _opening(daily_room=-1.0), "b": _opening(present=False)})
    assert not fuller.improved_on(old)  # a rep taking a lead opens nothing
    assert not Openings("p1", 3, {"a": _opening()}).improved_on(old)  # a rep left
    for changed in (
        Openings("p1", 3, {"a": _opening(open_room=1.0), "b": _opening(present=False)}),
        Openings("p1", 3, {"a": _opening(daily_room=math.inf), "b": _opening(present=False)}),
        Openings("p1", 3, {"a": _opening(), "b": _opening()}),  # back from leave
        Openings("p1", 3, {"a": _opening(), "b": _opening(present=False), "c": _opening()}),
        Openings("p2", 3, {"a": _opening(), "b": _opening(present=False)}),
        Openings("p1", 4, {"a": _opening(), "b": _opening(present=False)}),
    ):
        assert changed.improved_on(old)
    off = Openings(None, 0, {"a": _opening(working=False)})
    assert Openings(None, 0, {"a": _opening()}).improved_on(off)
    assert not off.improved_on(Openings(None, 0, {"a": _opening()}))


@pytest.fixture
def territory_api(engine: sa.Engine) -> Api:
    reps = [
        Rep(rep_id=name, regions=[name], max_open_leads=1, max_leads_per_day=None, timezone="UTC")
        for name in ("West", "East")
    ]
    api = build_api(engine, reps)
    with api.client:
        resp = api.post("/v1/policy", {"policy": _BY_TERRITORY}, role="admin")
        assert resp.status_code == 201
    return api


_BY_TERRITORY = """
pools:
  - name: regions
    strategy: round_robin
    eligibility: {territory: true}
"""


def _count_attempts(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    tried: list[str] = []
    service = api.service
    original = service.decide_for_queue

    def spy(conn, snapshot, lead, now):  # type: ignore[no-untyped-def]
        tried.append(lead.lead_id)
        return original(conn, snapshot, lead, now)

    monkeypatch.setattr(service, "decide_for_queue", spy)
    return tried


def test_queue_is_retried_when_a_rep_opens_up_and_walked_to_its_end(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = territory_api
    with api.client:
        for lead_id, region in [("W0", "West"), ("E0", "East")]:
            assert api.post("/v1/leads", {"lead_id": lead_id, "region": region}).json()[
                "status"
            ] == ("routed")
        # 60 West leads queue behind West's one open lead, then one East lead.
        for i in range(1, 61):
            api.clock.advance(seconds=1)
            body = api.post("/v1/leads", {"lead_id": f"W{i:02d}", "region": "West"}).json()
            assert body["status"] == "queued"
        api.clock.advance(seconds=1)
        assert api.post("/v1/leads", {"lead_id": "E1", "region": "East"}).json()["status"] == (
            "queued"
        )
        tried = _count_attempts(api, monkeypatch)

        # A new worker has no memory: one pass over all 61, 50 per poll.
        assert run_due(api.service).drained == []
        assert len(tried) == 50
        # A lead queued during the pass was just tried by its intake: the pass ends before it.
        api.clock.advance(seconds=1)
        assert api.post("/v1/leads", {"lead_id": "W61", "region": "West"}).json()["status"] == (
            "queued"
        )
        assert run_due(api.service).drained == []
        assert len(tried) == 61
        assert tried[-1] == "E1"
        # Nobody opened up: polls try nothing.
        for _ in range(3):
            api.clock.advance(seconds=2)
            assert run_due(api.service).drained == []
        assert len(tried) == 61

        # East closes its lead: one open slot. E1 sits behind 60 West leads and is reached.
        event = {"event_id": "c-E0", "type": "closed_lost", "lead_id": "E0"}
        assert api.post("/v1/events", event).status_code == 201
        tried.clear()
        assert run_due(api.service).drained == []
        assert run_due(api.service).drained == ["E1"]
        assert len(tried) == 62  # W01-W60, E1, W61
        assert api.get("/v1/leads/E1").json()["rep_id"] == "East"

        # East took E1 (full again): nothing opened since that pass began.
        tried.clear()
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == []
        assert tried == []

        # The backstop: a pass every ten minutes whatever the openings say.
        api.clock.advance(minutes=10)
        run_due(api.service)
        assert len(tried) == 50


def test_a_roster_change_starts_a_pass(territory_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = territory_api
    with api.client:
        api.post("/v1/leads", {"lead_id": "W0", "region": "West"})
        api.post("/v1/leads", {"lead_id": "W1", "region": "West"})
        tried = _count_attempts(api, monkeypatch)
        run_due(api.service)
        run_due(api.service)
        assert tried == ["W1"]
        resp = api.client.put("/v1/reps/West", json={"max_open_leads": 2}, headers=api.headers())
        assert resp.status_code == 200
        assert run_due(api.service).drained == ["W1"]


def test_a_worker_that_saw_the_queue_empty_does_not_retry_what_intakes_just_queued(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = territory_api
    with api.client:
        api.post("/v1/leads", {"lead_id": "W0", "region": "West"})
        tried = _count_attempts(api, monkeypatch)
        run_due(api.service)  # the queue is empty: that is a complete pass
        assert api.service.queue_gate.has_baseline
        for i in (1, 2, 3):
            api.clock.advance(seconds=1)
            body = api.post("/v1/leads", {"lead_id": f"W{i}", "region": "West"}).json()
            assert body["status"] == "queued"
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == []
        assert tried == []  # their intakes were refused on these very openings
        event = {"event_id": "c-W0", "type": "closed_lost", "lead_id": "W0"}
        assert api.post("/v1/events", event).status_code == 201
        assert run_due(api.service).drained == ["W1"]
        assert tried == ["W1", "W2", "W3"]


def _count_transactions(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many routing transactions the worker opened (one entry each)."""
    opened: list[int] = []
    service = api.service
    original = service.routing_transaction

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        opened.append(1)
        return original(*a, **k)

    monkeypatch.setattr(service, "routing_transaction", spy)
    return opened


@pytest.mark.parametrize("hold", [0.0, 60.0])
def test_a_pass_holds_the_routing_lock_in_pieces_with_the_same_outcome(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch, hold: float
) -> None:
    """With no time allowed per piece every queued lead is its own transaction (the
    intakes waiting for the lock get it in between); with ample time the batch is one.
    Either way the same leads are tried, in the same order, with the same outcome."""
    from leadpilot.service import worker

    monkeypatch.setattr(worker, "_HOLD_S", hold)
    api = territory_api
    with api.client:
        for lead_id, region in [("W0", "West"), ("E0", "East")]:
            api.post("/v1/leads", {"lead_id": lead_id, "region": region})
        for i in range(1, 8):
            api.clock.advance(seconds=1)
            region = "East" if i in (3, 6) else "West"
            assert (
                api.post("/v1/leads", {"lead_id": f"L{i}", "region": region}).json()["status"]
                == "queued"
            )
        run_due(api.service)  # the first pass: nobody opened up yet
        for lead_id in ("W0", "E0"):
            event = {"event_id": f"c-{lead_id}", "type": "closed_lost", "lead_id": lead_id}
            assert api.post("/v1/events", event).status_code == 201
        tried = _count_attempts(api, monkeypatch)
        opened = _count_transactions(api, monkeypatch)
        assert run_due(api.service).drained == ["L1", "L3"]
        assert tried == ["L1", "L2", "L3", "L4", "L5", "L6", "L7"]
        assert len(opened) == (7 if hold == 0.0 else 1)
        assert api.get("/v1/leads/L1").json()["rep_id"] == "West"
        assert api.get("/v1/leads/L3").json()["rep_id"] == "East"
        # the pass ended at the queue's end: nothing opened since, so nothing is retried
        tried.clear()
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == []
        assert tried == []


def test_a_rep_who_fills_up_and_opens_again_starts_a_pass_after_a_quiet_start(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker saw an empty queue while West had room; West then filled, a lead queued on
    that, and West opened up again only to the room it had at the worker's look: the
    intake's refusal lowered the worker's reference, so the release starts a pass."""
    api = territory_api
    with api.client:
        run_due(api.service)  # empty queue, West and East with room: the baseline
        assert api.service.queue_gate.has_baseline
        assert api.post("/v1/leads", {"lead_id": "W0", "region": "West"}).json()["status"] == (
            "routed"
        )
        api.clock.advance(seconds=1)
        assert api.post("/v1/leads", {"lead_id": "W1", "region": "West"}).json()["status"] == (
            "queued"
        )
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == []  # West is still full
        event = {"event_id": "c-W0", "type": "closed_lost", "lead_id": "W0"}
        assert api.post("/v1/events", event).status_code == 201
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == ["W1"]


def test_a_release_back_to_the_last_pass_level_still_starts_a_pass(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass for an East lead began while West had room; West then filled and a West lead
    queued; West's release brings its room back only to the pass's level, and is seen."""
    api = territory_api
    with api.client:
        api.post("/v1/leads", {"lead_id": "E0", "region": "East"})
        api.clock.advance(seconds=1)
        assert api.post("/v1/leads", {"lead_id": "E1", "region": "East"}).json()["status"] == (
            "queued"
        )
        run_due(api.service)  # a pass: E1 tried (East full), West had room throughout
        api.post("/v1/leads", {"lead_id": "W0", "region": "West"})
        api.clock.advance(seconds=1)
        assert api.post("/v1/leads", {"lead_id": "W1", "region": "West"}).json()["status"] == (
            "queued"
        )
        tried = _count_attempts(api, monkeypatch)
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == []
        assert tried == []  # nobody opened up since W1's refusal
        event = {"event_id": "c-W0", "type": "closed_lost", "lead_id": "W0"}
        assert api.post("/v1/events", event).status_code == 201
        api.clock.advance(seconds=2)
        assert run_due(api.service).drained == ["W1"]
        assert tried == ["E1", "W1"]


def test_lowered_openings_take_the_lesser_of_each_rep() -> None:
    base = Openings("p1", 3, {"a": _opening(daily_room=5.0, open_room=2.0), "b": _opening()})
    refused = Openings(
        "p2", 4, {"a": _opening(daily_room=1.0, open_room=3.0, working=False), "c": _opening()}
    )
    low = base.lowered(refused)
    assert (low.policy_version, low.roster_version) == ("p1", 3)
    assert low.reps["a"] == _opening(daily_room=1.0, open_room=2.0, working=False)
    assert low.reps["b"] == base.reps["b"]
    assert low.reps["c"] == refused.reps["c"]
    assert not refused.improved_on(low) or refused.roster_version != low.roster_version
    assert Openings(
        "p1", 3, {**low.reps, "a": _opening(daily_room=2.0, open_room=2.0)}
    ).improved_on(low)


def test_a_failing_openings_read_never_fails_the_intake(
    territory_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Noting what a queued lead was refused on is a hint for the worker: if it fails, the
    lead is still queued and answered, and the worker's backstop still retries it."""
    from leadpilot.service import core

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "openings_of", broken)
    api = territory_api
    with api.client:
        assert api.post("/v1/leads", {"lead_id": "W0", "region": "West"}).json()["status"] == (
            "routed"
        )
        resp = api.post("/v1/leads", {"lead_id": "W1", "region": "West"})
        assert resp.status_code == 201
        assert resp.json()["status"] == "queued"
        assert api.get("/v1/leads/W1").json()["status"] == "queued"
