"""Database outages answer 503 with Retry-After (reads too), readiness checks that a write
commits, failed connections leave the pool (issue 13 item 5); a revoked token stops working
at once on every replica (item 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.tokens import revoke_token

from .conftest import build_api, make_reps, migrated_engine
from .tcp_proxy import TcpProxy


def _unavailable(r: Any) -> None:
    assert r.status_code == 503, (r.request.url, r.status_code, r.text)
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["type"] == "StoreError"


def test_sqlite_read_only_period_answers_503_and_the_pool_recovers(tmp_path: Path) -> None:
    """While the file can only be opened read-only, intakes and /readyz answer 503 with
    Retry-After and /healthz stays 200 (alive); once it is writable every intake but at most
    the first succeeds: a connection opened read-only leaves the pool at its first failure
    (main kept it until restart)."""
    path = tmp_path / "lp.db"
    engine = migrated_engine(f"sqlite:///{path}")
    read_only = [False]

    @sa.event.listens_for(engine, "do_connect")
    def _open(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if read_only[0]:  # what SQLite does by itself when it cannot open the file for writing
            cargs[0] = f"file:{path}?mode=ro"
            cparams["uri"] = True

    api = build_api(engine, make_reps(2))
    with api.client:
        assert api.post("/v1/leads", {"lead_id": "before"}).status_code == 201
        read_only[0] = True
        engine.dispose()
        for i in range(3):
            _unavailable(api.post("/v1/leads", {"lead_id": f"ro{i}"}))
        _unavailable(api.client.get("/readyz"))
        assert api.client.get("/healthz").status_code == 200
        read_only[0] = False
        statuses = [api.post("/v1/leads", {"lead_id": f"after{i}"}).status_code for i in range(10)]
        # The read above (/healthz) pooled a read-only connection: the first write may meet
        # it (503, nothing written) and discards it with the rest of the pool.
        assert statuses[0] in {201, 503}
        assert statuses[1:] == [201] * 9
        assert api.client.get("/readyz").json()["status"] == "ready"
    engine.dispose()


@pytest.mark.postgres
def test_postgres_outage_reads_and_writes_answer_503_then_recover(pg_url: str) -> None:
    """The server is cut off (every connection dropped, new ones refused): reads, writes,
    token checks and /readyz answer 503 with Retry-After, none 500; once it is back, the
    first request may still meet a dead pooled connection, every later one succeeds."""
    migrated_engine(pg_url).dispose()
    url = make_url(pg_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    api = build_api(engine, make_reps(2))
    try:
        with api.client:
            assert api.post("/v1/leads", {"lead_id": "L1"}).status_code == 201
            proxy.cut()
            for method, path in [
                ("get", "/v1/leads/L1"),
                ("get", "/v1/reps"),
                ("get", "/v1/decisions"),
                ("get", "/v1/kpis"),
                ("get", "/readyz"),
            ]:
                _unavailable(api.client.request(method, path, headers=api.headers("admin")))
            _unavailable(api.post("/v1/leads", {"lead_id": "L2"}))
            proxy.restore()
            statuses = [api.get("/v1/leads/L1").status_code for _ in range(6)]
            assert all(s == 200 for s in statuses[1:]), statuses
            assert statuses[0] in {200, 503}
            assert api.post("/v1/leads", {"lead_id": "L3"}).status_code == 201
    finally:
        proxy.cut()
        engine.dispose()


def test_a_revoked_token_is_refused_at_once_by_every_replica(sqlite_url: str) -> None:
    """Two apps on one database; the token works on both, is revoked, and the very next
    request on either is a 401 (main kept it working for up to 5 s per process)."""
    engines = [migrated_engine(sqlite_url), make_engine(sqlite_url)]
    first = build_api(engines[0], make_reps(2))
    second = TestClient(
        create_app(Settings(environment="development", worker_enabled=False), engine=engines[1]),
        raise_server_exceptions=False,
    )
    headers = first.headers("writer")
    with first.client, second:
        for client in (first.client, second):
            assert client.get("/v1/reps", headers=headers).status_code == 200
        with write_transaction(engines[0]) as conn:
            token_id = conn.execute(
                sa.text("SELECT id FROM api_tokens WHERE name = 'test-writer'")
            ).scalar_one()
            assert revoke_token(conn, token_id)
        for client in (first.client, second):
            r = client.get("/v1/reps", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["message"] == "unknown or revoked token"
    for eng in engines:
        eng.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_intake_refuses_a_token_revoked_since_it_last_came(
    backend: str, sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    """``POST /v1/leads`` remembers a live token (by its hash) and skips the separate
    lookup, but its intake reads the token again under the lock: revoked by another
    process, the very next intake is a 401 that writes nothing, and the token is forgotten."""
    from leadpilot.store.tokens import hash_token

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else sqlite_url
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(2))
    ctx = api.client.app.state.ctx  # type: ignore[attr-defined]
    token = api.tokens["writer"]
    try:
        with api.client:
            assert api.post("/v1/leads", {"lead_id": "L1"}).status_code == 201
            assert list(ctx.live_tokens) == [hash_token(token)]  # the hash, never the token
            other = make_engine(url)  # another replica revokes it
            with write_transaction(other) as conn:
                token_id = conn.execute(
                    sa.text("SELECT id FROM api_tokens WHERE name = 'test-writer'")
                ).scalar_one()
                assert revoke_token(conn, token_id)
            other.dispose()
            r = api.post("/v1/leads", {"lead_id": "L2"})
            assert (r.status_code, r.json()["error"]["message"]) == (
                401,
                "unknown or revoked token",
            )
            assert ctx.live_tokens == {}
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT lead_id FROM leads")).scalars().all()
            assert stored == ["L1"]
            assert api.post("/v1/leads", {"lead_id": "L3"}).status_code == 401
    finally:
        engine.dispose()
