"""What one intake writes, on SQLite and on PostgreSQL (where the writes are one statement of
CTEs and the reads one UNION query, see ``store.intake``): the lead, one live decision, its
SLA and acceptance timers pointing at that decision, the counters, and nothing for a lead
that is queued or a duplicate. Expected values are worked out by hand from the policy."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from leadpilot.store import engine as engine_module
from leadpilot.store.engine import make_engine
from leadpilot.store.tables import decisions, duplicate_intakes, leads, routing_counters, sla_timers
from tests.service.conftest import T0, build_api, make_reps, migrated_engine
from tests.service.policies import ACCEPTANCE


def _intake_rows(url: str) -> None:
    engine = migrated_engine(url)
    # two reps, two leads a day each; round-robin; SLA 240 min, acceptance within 10 min
    api = build_api(engine, make_reps(2, cap=2))
    try:
        with api.client:
            assert api.post("/v1/policy", {"policy": ACCEPTANCE}, role="admin").status_code == 201
            bodies = [{"lead_id": f"L{i}", "email": f"l{i}@x{i}.example"} for i in range(5)]
            replies = [api.post("/v1/leads", b) for b in bodies]
            dup_email = api.post("/v1/leads", {"lead_id": "L9", "email": "L1@X1.example"})
            dup_id = api.post("/v1/leads", {"lead_id": "L2"})
    finally:
        with engine.connect() as conn:
            lead_rows = {r.lead_id: r for r in conn.execute(sa.select(leads))}
            decision_rows = list(conn.execute(sa.select(decisions).order_by(decisions.c.id)))
            timer_rows = list(conn.execute(sa.select(sla_timers)))
            counters = {
                (r.kind, r.scope, r.key): r.value
                for r in conn.execute(sa.select(routing_counters))
                if r.kind != "meta"
            }
            n_duplicates = conn.execute(sa.select(sa.func.count()).select_from(duplicate_intakes))
            n_duplicates = n_duplicates.scalar_one()
        engine.dispose()

    assert [r.status_code for r in replies] == [201] * 5
    assert (dup_email.status_code, dup_id.status_code) == (200, 200)
    assert dup_email.json()["duplicate_of"] == "L1"
    assert dup_email.json()["matched_on"] == "email"
    assert dup_id.json()["matched_on"] == "lead_id"
    assert n_duplicates == 2
    assert set(lead_rows) == {f"L{i}" for i in range(5)}  # duplicates stored no lead

    # 2 reps x cap 2: four leads routed, two each (round-robin alternates), the fifth queued
    routed = [f"L{i}" for i in range(4)]
    owners = [lead_rows[lead_id].rep_id for lead_id in routed]
    assert Counter(owners) == {"rep-01": 2, "rep-02": 2}
    assert owners[0] != owners[1]
    assert owners[2] != owners[3]
    assert lead_rows["L4"].status == "queued"
    assert lead_rows["L4"].rep_id is None
    assert "ALL_AT_CAPACITY" in lead_rows["L4"].queue_reason

    # one decision per lead (seq 1, live), in intake order; the reply carries its id
    assert [d.lead_id for d in decision_rows] == [f"L{i}" for i in range(5)]
    assert all(d.seq == 1 and d.live and d.trigger == "intake" for d in decision_rows)
    ids = {d.lead_id: d.id for d in decision_rows}
    assert [r.json()["decision"]["id"] for r in replies] == [ids[f"L{i}"] for i in range(5)]

    # each routed lead: an SLA timer (240 min) and an acceptance timer (10 min), both
    # pending, on its decision and its rep; the queued lead has none
    expected = {
        (lead_id, ids[lead_id], lead_rows[lead_id].rep_id, kind, T0 + timedelta(minutes=m))
        for lead_id in routed
        for kind, m in (("sla", 240), ("acceptance", 10))
    }
    got = {(t.lead_id, t.decision_id, t.rep_id, t.kind, t.due_at) for t in timer_rows}
    assert got == expected
    assert all(t.status == "pending" for t in timer_rows)

    # counters: two open and two today per rep, the pool's fairness window, rotation credits
    day = T0.date().isoformat()
    for rep in ("rep-01", "rep-02"):
        assert counters[("open", "", rep)] == 2
        assert counters[("day", day, rep)] == 2
        assert counters[("win", "sdr", f"{day}|{rep}")] == 2
        assert ("rr", "sdr", rep) in counters
    assert sum(1 for k in counters if k[0] in ("open", "day", "win")) == 6


def test_intake_rows_sqlite(sqlite_url: str) -> None:
    _intake_rows(sqlite_url)


@pytest.mark.postgres
def test_intake_rows_postgres(pg_url: str) -> None:
    _intake_rows(pg_url)


@pytest.mark.postgres
def test_idle_connection_is_pinged_and_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection whose server process died while it sat idle is replaced at
    checkout (no pre-ping round trip on connections handed back a moment ago)."""
    engine = make_engine(pg_url)
    admin = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
        with admin.begin() as conn:
            conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            new_pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
        assert new_pid != pid
    finally:
        engine.dispose()
        admin.dispose()


def test_an_intake_matches_its_account_once() -> None:
    """Linking the account and the router's ownership hold share one match per lead."""
    from leadpilot.ingest.matching import AccountMatcher
    from leadpilot.schema import Account, Lead
    from leadpilot.service.inputs import _LastLeadMatcher

    calls: list[str] = []

    class Counting(AccountMatcher):
        def match(self, lead: Lead):  # type: ignore[no-untyped-def]
            calls.append(lead.lead_id)
            return super().match(lead)

    memo = _LastLeadMatcher(Counting([Account("a1", name="Acme Corp", domain="acme.com")]))
    first, second = Lead("L1", email="jo@acme.com"), Lead("L2", company="Nobody Ltd")
    assert memo.match(first).account.account_id == "a1"  # type: ignore[union-attr]
    assert memo.match(first).account.account_id == "a1"  # type: ignore[union-attr]
    assert memo.match(second) is None
    assert memo.match(second) is None
    assert calls == ["L1", "L2"]


def test_held_counters_sqlite(sqlite_url: str) -> None:
    """SQLite (PostgreSQL keeps none, see ``store.counters.GENERATION_KEY``): the counters
    an intake keeps for the next one (``store.intake.CounterCache``) are, after every
    request, what a fresh read of the store parses to; a write on another path (a decline's
    reassignment, a closed lead) moves the generation, so the next intake reads them again
    instead of using what it holds."""
    from leadpilot.schema import Lead
    from leadpilot.store.counters import GENERATION, PREFETCH_QUERY, Prefetched, prefetch_params
    from leadpilot.store.intake import read_for_intake

    engine = migrated_engine(sqlite_url)
    # three reps, two leads a day each: the sixth lead fills the last cap, later ones queue
    api = build_api(engine, make_reps(3, cap=2))
    service = api.service
    params = prefetch_params(T0, window_days=28)

    def fresh() -> Prefetched:
        with engine.connect() as conn:
            return Prefetched.parse(conn.execute(PREFETCH_QUERY, params).all(), params)

    def held() -> Prefetched | None:
        found = service.counters.held(params)
        return None if found is None else found[1]

    used = 0
    # what each read_for_intake below sends: the counter rows are built (their window sums
    # grouped: the one GROUP BY) only when this process holds none or those it holds are stale
    statements: list[str] = []
    shapes: set[tuple[bool, ...]] = set()

    def sent(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", sent)
    try:
        with api.client:
            for i in range(8):
                if i == 3:  # another path writes counters: a decline moves the lead
                    owner = api.get("/v1/leads/L0").json()["rep_id"]
                    event = {"event_id": "e1", "type": "declined", "lead_id": "L0"}
                    assert api.post("/v1/events", {**event, "rep_id": owner}).status_code < 300
                    assert held() != fresh()  # what it holds is now stale...
                if i == 5:
                    event = {"event_id": "e2", "type": "closed_lost", "lead_id": "L1"}
                    assert api.post("/v1/events", event).status_code < 300
                with engine.connect() as conn:  # what the next intake will use
                    statements.clear()
                    reads = read_for_intake(
                        conn, Lead(f"L{i}"), T0, window_days=28, cache=service.counters
                    )
                    read = list(statements)
                    stored = conn.execute(sa.select(GENERATION)).scalar_one_or_none()
                kept = service.counters.held(params)
                current = kept is not None and kept[0] == stored
                used += current  # the rows were not sent
                shape = [("GROUP BY" in q) for q in read]
                assert shape == ([False] if current else [True] if kept is None else [False, True])
                shapes.add(tuple(shape))
                assert reads.counters == fresh()  # ...not used
                reply = api.post("/v1/leads", {"lead_id": f"L{i}", "email": f"l{i}@x{i}.example"})
                assert reply.status_code == 201
                assert held() == fresh()
    finally:
        sa.event.remove(engine, "before_cursor_execute", sent)
        engine.dispose()
    assert used >= 5  # held rows served most intakes (not after the two events)
    assert len(shapes) == 3  # none held, held and current, held and stale: each seen
