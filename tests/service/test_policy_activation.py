"""One active policy, always: the database enforces it, concurrent activations on two
replicas serialise on the routing lock, and a replica parses the version it was asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leadpilot.schema import Lead
from leadpilot.service.app import create_app
from leadpilot.service.inputs import RoutingInputs
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.intake import read_for_intake
from leadpilot.store.tables import policies

from .conftest import T0, Api, build_api, make_reps, migrated_engine


def _policy_text(sla_minutes: int) -> str:
    return (
        "lanes:\n"
        f"  - name: standard\n    sla_minutes: {sla_minutes}\n"
        "pools:\n  - name: sdr\n    strategy: round_robin\n"
    )


def _upload(api: Api, sla_minutes: int, *, activate: bool) -> str:
    r = api.post(
        "/v1/policy", {"policy": _policy_text(sla_minutes), "activate": activate}, role="admin"
    )
    assert r.status_code == 201, r.text
    return str(r.json()["version"])


def _active_versions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(policies.c.version).where(policies.c.active)).scalars())


def _at_once(clients: list[TestClient], versions: list[str], headers: dict[str, str]) -> list[int]:
    """Roll back to ``versions[i]`` on ``clients[i]``, all released at the same moment."""
    barrier = threading.Barrier(len(clients))
    statuses = [0] * len(clients)

    def rollback(i: int) -> None:
        barrier.wait()
        r = clients[i].post("/v1/policy/rollback", json={"version": versions[i]}, headers=headers)
        statuses[i] = r.status_code

    threads = [threading.Thread(target=rollback, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else sqlite_url
    eng = migrated_engine(url)
    yield eng
    eng.dispose()


def test_the_database_refuses_a_second_active_policy(any_engine: sa.Engine) -> None:
    """Issue 13 item 1: the constraint holds whatever the code does (uq_policies_active)."""
    api = build_api(any_engine, make_reps(2))
    with api.client:
        first = _upload(api, 30, activate=True)
        second = _upload(api, 60, activate=False)
    with pytest.raises(sa.exc.IntegrityError), write_transaction(any_engine) as conn:
        conn.execute(policies.update().where(policies.c.version == second).values(active=True))
    assert _active_versions(any_engine) == [first]


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_rollbacks_on_two_replicas_leave_one_active_policy(pg_url: str) -> None:
    """Issue 13 item 1: two replicas (two engines, two apps) activate different versions at
    the same moment, 25 times over; every time both answer 200, exactly one version is
    active (the one whose activation was logged last) and intake still routes."""
    engines = [migrated_engine(pg_url), make_engine(pg_url)]
    first = build_api(engines[0], make_reps(2))
    settings = Settings(environment="development", worker_enabled=False)
    second = TestClient(
        create_app(settings, engine=engines[1], clock=first.clock, seed=8),
        raise_server_exceptions=False,
    )
    clients = [first.client, second]
    headers = first.headers("admin")
    try:
        with first.client, second:
            for attempt in range(25):
                versions = [_upload(first, 100 + 2 * attempt + i, activate=False) for i in (0, 1)]
                statuses = _at_once(clients, versions, headers)
                assert statuses == [200, 200], attempt
                active = _active_versions(engines[0])
                assert len(active) == 1, (attempt, active)
                history = first.get("/v1/policy/history", role="admin").json()
                assert history["activations"][-1]["version"] == active[0]
                assert active[0] in versions
                lead = {"lead_id": f"L{attempt}", "email": f"x{attempt}@acme{attempt}.com"}
                r = clients[attempt % 2].post("/v1/leads", json=lead, headers=headers)
                assert r.status_code == 201, r.text
                assert r.json()["decision"]["policy_version"] == active[0]
    finally:
        for eng in engines:
            eng.dispose()


def test_a_cache_miss_parses_the_requested_version_not_the_active_one(engine: sa.Engine) -> None:
    """Issue 13 item 3: the version an intake read is the version it routes (and logs)
    under, even when another version was activated in between and the cache is cold."""
    api = build_api(engine, make_reps(2))
    with api.client:
        old = _upload(api, 30, activate=True)
        lead = Lead(lead_id="L1", email="a@acme.com", created_at=T0)
        with engine.connect() as conn:
            reads = read_for_intake(conn, lead, T0, window_days=28)
        assert reads.policy_version == old
        new = _upload(api, 60, activate=True)
        assert _active_versions(engine) == [new]
    cold = RoutingInputs(scorer=None)
    with engine.connect() as conn:
        snapshot = cold.load_for_intake(conn, reads)
    assert snapshot.policy_version == old
    assert snapshot.policy.policy_hash == old
    assert snapshot.policy.lanes[0].sla_minutes == 30
