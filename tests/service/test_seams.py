"""The service core's seams: typed outcomes mapped by the routes, the event handler table,
and the routing lock held by ``routing_transaction`` on PostgreSQL."""

from __future__ import annotations

import ast
import dataclasses
import threading
import typing
from pathlib import Path

import sqlalchemy as sa

from leadpilot.service.events import HANDLERS, handle_event
from leadpilot.service.outcomes import IntakeOutcome
from leadpilot.service.schemas import (
    EventCreate,
    EventType,
    LeadCreate,
    intake_public,
    lead_from_create,
)
from leadpilot.store.engine import RoutingLocks, routing_lock_key, routing_transaction

from .conftest import Api, migrated_engine


def test_the_core_speaks_no_http() -> None:
    """The core's write paths import neither the web framework nor the public schemas."""
    core = Path(__file__).resolve().parents[2] / "src" / "leadpilot" / "service"
    for name in ("core.py", "events.py", "outcomes.py", "worker.py"):
        imported = set()
        for node in ast.walk(ast.parse((core / name).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        http = {m for m in imported if m.startswith(("fastapi", "starlette"))}
        assert http == set(), name
        if name != "events.py":  # events take the EventCreate body as their input record
            assert "leadpilot.service.schemas" not in imported, name


def test_every_event_type_has_one_handler() -> None:
    assert set(HANDLERS) == set(typing.get_args(EventType))


def test_intake_returns_a_typed_outcome_the_route_maps(api: Api) -> None:
    service = api.service
    first = service.intake(lead_from_create(LeadCreate(lead_id="L1", email="a@b.com"), api.clock()))
    assert isinstance(first, IntakeOutcome)
    assert (first.duplicate, first.status, first.replayed) == (False, "routed", False)
    assert first.decision is not None
    assert (first.decision.seq, first.decision.live, first.decision.trigger) == (1, True, "intake")
    assert first.decision.decision.rep_id is not None
    again = service.intake(lead_from_create(LeadCreate(lead_id="L2", email="a@b.com"), api.clock()))
    assert (again.duplicate, again.duplicate_of, again.matched_on) == (True, "L1", "email")
    assert again.decision == first.decision  # the stored lead's live decision, as logged
    # The HTTP answer for the same lead is the outcome's public form.
    http = api.get("/v1/leads/L1").json()["decisions"]
    assert http == [intake_public(first).model_dump(mode="json")["decision"]]


def test_a_replayed_intake_is_the_first_outcome(api: Api) -> None:
    lead = lead_from_create(LeadCreate(lead_id="L1"), api.clock())
    first = api.service.intake(lead, idempotency_key="k", fingerprint="f")
    replay = api.service.intake(lead, idempotency_key="k", fingerprint="f")
    assert not first.replayed
    assert replay == dataclasses.replace(first, replayed=True)


def test_event_outcomes_are_typed_and_repeat_once(api: Api) -> None:
    api.service.intake(lead_from_create(LeadCreate(lead_id="L1"), api.clock()))
    body = EventCreate(event_id="e1", type="meeting_booked", lead_id="L1")
    applied, repeated = handle_event(api.service, body), handle_event(api.service, body)
    assert (applied.duplicate, repeated.duplicate) == (False, True)
    assert applied.outcome == repeated.outcome
    assert applied.outcome["rep_id"] is not None


def test_routing_transaction_holds_the_advisory_locks_on_postgres(pg_url: str) -> None:
    """An intake's transaction holds the global key shared and its pool's key exclusively
    (seen in pg_locks by the holder's backend pid), released at commit."""
    engine = migrated_engine(pg_url)
    key = routing_lock_key("sdr")
    global_key = RoutingLocks(pools=frozenset()).keys()[0]
    # pg_locks shows a bigint advisory key as (classid, objid) = its high and low 32 bits.
    held = sa.text(
        "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = :pid AND classid = :high AND objid = :low AND objsubid = 1"
    )

    def mode(conn: sa.Connection, pid: int, k: int) -> list[str]:
        params = {"pid": pid, "high": (k >> 32) & 0xFFFFFFFF, "low": k & 0xFFFFFFFF}
        return list(conn.execute(held, params).scalars())

    inside, released = threading.Event(), threading.Event()
    holder_pid: list[int] = []

    def hold() -> None:
        with routing_transaction(engine, RoutingLocks(pools=frozenset({"sdr"}))) as conn:
            holder_pid.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
            inside.set()
            released.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        with engine.connect() as other:
            assert mode(other, holder_pid[0], key) == ["ExclusiveLock"]
            assert mode(other, holder_pid[0], global_key) == ["ShareLock"]
            assert mode(other, holder_pid[0], routing_lock_key("ae")) == []
    finally:
        released.set()
        holder.join(10)
    with engine.connect() as other:  # released at commit (transaction-scoped)
        assert mode(other, holder_pid[0], key) == []
        assert mode(other, holder_pid[0], global_key) == []
    # Each pool its own key, none of them the global one.
    assert len({routing_lock_key("ae"), key, global_key}) == 3
    engine.dispose()
