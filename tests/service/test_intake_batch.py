"""SQLite intakes several per commit (``RoutingService.intake_many`` on the intake thread,
``service.intake_writer``): the same decisions and rows as one intake per transaction, a
refused request leaves the rest of its batch committed, a failed commit answers every
request of the batch with an error and stores none of it, and no request is answered
before its batch committed. Expected owners are worked out by hand: two reps, two leads a
day each, round-robin (the default policy) alternates between them, the fifth lead queues."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.schema import Lead
from leadpilot.service.core import IntakeRequest, RevokedTokenError
from leadpilot.service.intake_writer import IntakeWriter
from leadpilot.service.outcomes import IntakeOutcome
from leadpilot.store.counters import PREFETCH_QUERY, Prefetched, prefetch_params
from leadpilot.store.engine import write_transaction
from leadpilot.store.tables import decisions, duplicate_intakes, leads, routing_counters
from leadpilot.store.tokens import hash_token, lookup_token, revoke_token
from tests.service.conftest import T0, Api, build_api, make_reps, migrated_engine


def _api(tmp_path: Path, name: str) -> Api:
    return build_api(migrated_engine(f"sqlite:///{tmp_path / name}"), make_reps(2, cap=2))


def _requests(api: Api) -> list[IntakeRequest]:
    token = hash_token(api.tokens["writer"])
    out = [
        IntakeRequest(Lead(f"L{i}", email=f"l{i}@x{i}.example"), token_hash=token)
        for i in (0, 1, 2)
    ]
    out.append(IntakeRequest(Lead("D1", email="L1@X1.example"), token_hash=token))  # dup of L1
    out.append(IntakeRequest(Lead("R1", email="r1@x.example"), token_hash=hash_token("nope")))
    out += [
        IntakeRequest(Lead(f"L{i}", email=f"l{i}@x{i}.example"), token_hash=token) for i in (3, 4)
    ]
    return out


def _stored(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "leads": sorted(
                (r.lead_id, r.rep_id, r.status)
                for r in conn.execute(sa.select(leads.c.lead_id, leads.c.rep_id, leads.c.status))
            ),
            "decisions": sorted(
                (r.lead_id, r.rep_id, r.seq, r.live, r.decided_at)
                for r in conn.execute(sa.select(decisions))
            ),
            "counters": sorted(
                (r.kind, r.scope, r.key, r.value) for r in conn.execute(sa.select(routing_counters))
            ),
            "duplicates": sorted(
                (r.lead_id, r.matched_on) for r in conn.execute(sa.select(duplicate_intakes))
            ),
        }


def _summary(outcome: IntakeOutcome | Exception) -> Any:
    if isinstance(outcome, Exception):
        return type(outcome).__name__
    rep = outcome.decision.decision.rep_id if outcome.decision else None
    return (outcome.lead_id, outcome.duplicate, outcome.status, rep, outcome.matched_on)


def _fresh_counters(engine: sa.Engine) -> Prefetched:
    params = prefetch_params(T0, window_days=28)
    with engine.connect() as conn:
        return Prefetched.parse(conn.execute(PREFETCH_QUERY, params).all(), params)


def test_batches_store_what_one_by_one_stores(tmp_path: Path) -> None:
    one, many = _api(tmp_path, "one.db"), _api(tmp_path, "many.db")
    singles: list[Any] = []
    for request in _requests(one):
        try:
            singles.append(
                one.service.intake(
                    request.lead,
                    idempotency_key=request.idempotency_key,
                    token_hash=request.token_hash,
                )
            )
        except RevokedTokenError as exc:
            singles.append(exc)
    requests = _requests(many)
    batched = many.service.intake_many(requests[:2]) + many.service.intake_many(requests[2:])

    assert [_summary(o) for o in batched] == [_summary(o) for o in singles]
    stored = _stored(many.engine)
    assert stored == _stored(one.engine)
    # by hand: L0..L3 alternate between the two reps, L4 finds both caps full and queues;
    # D1 repeats L1 by email (nothing routed); R1's token is unknown (nothing stored)
    owners = {lead_id: rep for lead_id, rep, _ in stored["leads"]}
    assert set(owners) == {"L0", "L1", "L2", "L3", "L4"}
    assert Counter(owners[f"L{i}"] for i in range(4)) == {"rep-01": 2, "rep-02": 2}
    assert owners["L0"] != owners["L1"]
    assert owners["L2"] != owners["L3"]
    assert owners["L4"] is None
    assert stored["duplicates"] == [("L1", "email")]
    assert _summary(batched[4]) == "RevokedTokenError"
    # the counters the service holds for the next intake are what the store reads
    held = many.service.counters.held(prefetch_params(T0, window_days=28))
    assert held is not None
    assert held[1] == _fresh_counters(many.engine)


def test_a_failed_commit_stores_nothing_of_the_batch(tmp_path: Path) -> None:
    api = _api(tmp_path, "fail.db")
    requests = _requests(api)

    def refuse(_conn: Any) -> None:
        raise RuntimeError("disk gone")

    sa.event.listen(api.engine, "commit", refuse)
    results = api.service.intake_many(requests[:3])
    sa.event.remove(api.engine, "commit", refuse)

    assert [type(r) for r in results] == [RuntimeError] * 3
    assert _stored(api.engine)["leads"] == []
    # nothing of the rolled-back batch is held: the next intake reads the counters again
    assert api.service.counters.held(prefetch_params(T0, window_days=28)) is None
    again = api.service.intake_many(requests[:3])
    assert [_summary(r)[3] for r in again] == ["rep-01", "rep-02", "rep-01"]
    held = api.service.counters.held(prefetch_params(T0, window_days=28))
    assert held is not None
    assert held[1] == _fresh_counters(api.engine)


def test_the_writer_answers_after_its_batch_committed(tmp_path: Path) -> None:
    """Requests queued while the thread is busy share a commit; none is answered before
    it, and a request refused in its preparation fails alone."""
    api = _api(tmp_path, "writer.db")
    requests = _requests(api)
    writer = IntakeWriter(api.service)
    futures: list[Future[IntakeOutcome]] = []
    commits: list[list[bool]] = []  # per commit: which futures were answered by then

    @sa.event.listens_for(api.engine, "commit")
    def _committed(_conn: Any) -> None:
        commits.append([f.done() for f in futures])

    gate = threading.Event()

    def first() -> IntakeRequest:
        gate.wait(10)
        return requests[0]

    def refused() -> IntakeRequest:
        raise ValueError("bad body")

    try:
        futures.append(writer.submit(first))
        futures += [writer.submit(lambda r=r: r) for r in requests[1:4]]
        futures.append(writer.submit(refused))
        futures += [writer.submit(lambda r=r: r) for r in requests[5:]]
        gate.set()
        results: list[Any] = []
        for future in futures:
            try:
                results.append(_summary(future.result(10)))
            except Exception as exc:
                results.append(type(exc).__name__)
    finally:
        writer.stop()
    assert [r if isinstance(r, str) else r[3] for r in results] == [
        "rep-01",
        "rep-02",
        "rep-01",
        "rep-02",  # D1: the duplicate answers with L1's owner
        "ValueError",
        "rep-02",
        None,
    ]
    # seven requests, at most two commits (the first may go alone); only the refused
    # request (nothing to commit) and those of an earlier commit were answered before a
    # commit: at the first none, at the last not the last request
    assert 1 <= len(commits) <= 2
    answered = [{i for i, done in enumerate(c) if done} - {4} for c in commits]
    assert answered[0] == set()
    assert answered[-1] == set(range(len(answered[-1])))
    assert 6 not in answered[-1]
    assert len(_stored(api.engine)["leads"]) == 5


def test_concurrent_posts_all_commit(tmp_path: Path) -> None:
    """Over HTTP: parallel requests through the intake thread, every 201 stored once."""
    api = _api(tmp_path, "http.db")
    with api.client, ThreadPoolExecutor(6) as pool:
        bodies = [{"lead_id": f"H{i}", "email": f"h{i}@h{i}.example"} for i in range(6)]
        replies = list(pool.map(lambda b: api.post("/v1/leads", b), bodies))
        again = api.post("/v1/leads", {"lead_id": "H0"})
    assert [r.status_code for r in replies] == [201] * 6
    assert again.status_code == 200
    assert again.json()["matched_on"] == "lead_id"
    stored = _stored(api.engine)["leads"]
    assert len(stored) == 6
    # two reps x cap 2: four routed, two each, whatever order the requests ran in
    assert Counter(rep for _, rep, _ in stored) == {"rep-01": 2, "rep-02": 2, None: 2}


def test_revoked_token_refused_on_next_intake(tmp_path: Path) -> None:
    """A token the intake thread found live before is refused by the next intake once its
    revocation committed (the intake's own read checks it)."""
    api = _api(tmp_path, "revoke.db")
    with api.client:
        assert api.post("/v1/leads", {"lead_id": "T0"}).status_code == 201
        with write_transaction(api.engine) as conn:
            info = lookup_token(conn, api.tokens["writer"])
            assert info is not None
            assert revoke_token(conn, info.id)
        reply = api.post("/v1/leads", {"lead_id": "T1"})
        after = api.post("/v1/leads", {"lead_id": "T2"})  # not served from memory either
    assert (reply.status_code, after.status_code) == (401, 401)
    assert [lead_id for lead_id, _, _ in _stored(api.engine)["leads"]] == ["T0"]


def test_the_writer_starts_again_after_stop(tmp_path: Path) -> None:
    """An app started again (tests, a restarted lifespan) gets a new intake thread."""
    api = _api(tmp_path, "restart.db")
    requests = _requests(api)
    writer = IntakeWriter(api.service)
    first = writer.submit(lambda: requests[0]).result(10)
    writer.stop()
    second = writer.submit(lambda: requests[1]).result(10)
    writer.stop()
    assert [_summary(first)[3], _summary(second)[3]] == ["rep-01", "rep-02"]


def test_a_request_failing_after_its_writes_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that fails after writing its lead, decision and counters (here: storing its
    Idempotency-Key answer) is rolled back to its savepoint: the batch commits the others
    as if it had never come, and the counters held for the next intake match the store."""
    from leadpilot.service import core

    api = _api(tmp_path, "half.db")
    store_response = core.store_response

    def fail_on_boom(conn: Any, key: str, *a: Any, **k: Any) -> None:
        if key == "boom":
            raise RuntimeError("disk hiccup")
        store_response(conn, key, *a, **k)

    monkeypatch.setattr(core, "store_response", fail_on_boom)
    token = hash_token(api.tokens["writer"])
    requests = [
        IntakeRequest(Lead("A0"), token_hash=token),
        IntakeRequest(Lead("B0"), idempotency_key="boom", fingerprint="f", token_hash=token),
        IntakeRequest(Lead("A1"), idempotency_key="ok", fingerprint="f", token_hash=token),
        IntakeRequest(Lead("A2"), token_hash=token),
    ]
    results = api.service.intake_many(requests)
    assert [_summary(r) if isinstance(r, Exception) else _summary(r)[3] for r in results] == [
        "rep-01",
        "RuntimeError",
        "rep-02",  # B0 took rep-02 in its savepoint; rolled back, so A1 gets it
        "rep-01",
    ]
    stored = _stored(api.engine)
    assert [lead_id for lead_id, _, _ in stored["leads"]] == ["A0", "A1", "A2"]
    assert [d[0] for d in stored["decisions"]] == ["A0", "A1", "A2"]
    held = api.service.counters.held(prefetch_params(T0, window_days=28))
    assert held is not None
    assert held[1] == _fresh_counters(api.engine)
