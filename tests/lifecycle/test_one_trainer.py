"""One replica retrains at a time: the ``retrain`` lease (an advisory lock on PostgreSQL, a
lease row on SQLite). Replicas are separate engines (PostgreSQL: separate processes too)."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.policy.retrain_settings import RetrainSettings
from leadpilot.service.retrain_schedule import run_retrain_job
from leadpilot.store.engine import make_engine
from leadpilot.store.leases import exclusive, lease_key
from leadpilot.store.migrate import upgrade
from leadpilot.store.models import list_versions

from .conftest import NOW, load_world


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the test server (fails, not skips, when the variable is set and
    the server is unreachable)."""
    base = os.environ.get("LEADPILOT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("LEADPILOT_TEST_POSTGRES_URL is not set")
    schema = f"lp_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _hammer(url: str, n_replicas: int = 4, rounds: int = 15) -> list[tuple[int, float, float]]:
    """Each replica (its own engine) tries the lease repeatedly and holds it briefly when
    it gets it; returns (replica, start, end) of every hold."""
    holds: list[tuple[int, float, float]] = []
    lock = threading.Lock()
    engines = [make_engine(url) for _ in range(n_replicas)]

    def replica(i: int) -> None:
        # `rounds` tries, then on until this replica has held the lease once (bounded): on a
        # loaded machine a replica can lose every one of its first tries to the others.
        tries = got = 0
        while tries < rounds or (not got and tries < 20 * rounds):
            tries += 1
            with exclusive(engines[i], "retrain") as mine:
                if mine:
                    got += 1
                    start = time.monotonic()
                    time.sleep(0.01)
                    with lock:
                        holds.append((i, start, time.monotonic()))
            time.sleep(0.002 * (i + 1))

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(n_replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    return holds


def _no_overlap(holds: list[tuple[int, float, float]]) -> None:
    spans = sorted((s, e) for _, s, e in holds)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two replicas held the retrain lease at once"


def test_sqlite_lease_is_exclusive(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    upgrade(make_engine(url))
    holds = _hammer(url, rounds=5)
    _no_overlap(holds)
    assert holds  # some replica trained
    # Handed on, deterministically: A holds, B is refused; A releases, B gets it.
    engine = make_engine(url)
    other = make_engine(url)
    with exclusive(engine, "retrain") as a:
        assert a
        with exclusive(other, "retrain") as b:
            assert not b
    with exclusive(other, "retrain") as b:
        assert b
    # An expired lease (its holder died) is taken over.
    with exclusive(engine, "retrain", ttl=timedelta(seconds=-1)) as first:
        assert first
        with exclusive(make_engine(url), "retrain") as second:
            assert second  # the first one's lease had already expired


def _settings() -> dict[str, Any]:
    return RetrainSettings(window_months=36).model_dump()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_replicas_never_train_at_once_on_postgres(pg_url: str, tmp_path: Path,
                                                      small_world: Any) -> None:  # fmt: skip
    load_world(pg_url, small_world).dispose()
    holds = _hammer(pg_url)
    _no_overlap(holds)
    assert {i for i, _, _ in holds} == {0, 1, 2, 3}  # every replica got its turn
    # A replica whose worker finds a retrain due while another holds the lock skips it:
    # another process (the worker's child), another connection.
    replica_a = make_engine(pg_url)
    spawn = get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        with exclusive(replica_a, "retrain") as mine:
            assert mine
            skipped = pool.submit(run_retrain_job, pg_url, str(tmp_path / "m"), _settings(),
                                  NOW.isoformat(), "test").result()  # fmt: skip
        assert skipped == {"action": "skipped", "reason": "another replica is retraining"}
        # Two replicas' children started together: one trains, the other skips.
        jobs = [
            ProcessPoolExecutor(max_workers=1, mp_context=spawn).submit(
                run_retrain_job, pg_url, str(tmp_path / "m"), _settings(), NOW.isoformat(), "t"
            )
            for _ in range(2)
        ]
        actions = sorted(j.result()["action"] for j in jobs)
    assert actions in (["first_champion", "skipped"], ["first_champion", "unchanged"])
    with replica_a.connect() as conn:
        versions = list_versions(conn)
    assert len(versions) == 1  # never two trainings registering side by side
    key = lease_key("retrain") & 0xFFFFFFFFFFFFFFFF  # pg_locks shows it as two halves
    with replica_a.connect() as conn:  # and the advisory lock is released
        held = conn.execute(
            sa.text("select count(*) from pg_locks where locktype = 'advisory' and granted "
                    "and classid::bigint = :hi and objid::bigint = :lo and objsubid = 1 "
                    "and database = (select oid from pg_database "
                    "where datname = current_database())"),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
        ).scalar_one()  # fmt: skip
    assert held == 0
    replica_a.dispose()
