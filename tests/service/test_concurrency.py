"""Concurrency and durability with real ``leadpilot serve`` processes.

PostgreSQL: four replicas, 2,000 leads from 16 client threads, then the same with one
replica killed (SIGKILL) mid-load and its in-flight requests retried with their
Idempotency-Keys. SQLite: one process with concurrent clients. Invariants: every lead has
exactly one live decision, no rep is over its cap, round-robin counts within 1, no 5xx.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadpilot.schema import Rep

from .scenario import check_invariants, post_leads, prepare_database, start_server, stop


def _roster() -> list[Rep]:
    # rep-00 has a small cap, so the cap binds mid-load; the others rotate freely.
    reps = [Rep(rep_id="rep-00", max_leads_per_day=20, timezone="UTC")]
    reps += [
        Rep(rep_id=f"rep-{i:02d}", max_leads_per_day=1000, timezone="UTC") for i in range(1, 16)
    ]
    return reps


def _run(
    db_url: str, tmp_path: Path, *, n_servers: int, n_leads: int, n_threads: int, kill: bool
) -> None:
    reps = _roster()
    token = prepare_database(db_url, reps)
    servers = [start_server(db_url, tmp_path) for _ in range(n_servers)]
    try:
        result = post_leads(
            servers, token, n_leads, n_threads, kill_after=n_leads // 3 if kill else None
        )
    finally:
        for server in servers:
            stop(server)
    assert result.errors == []
    assert all(code < 500 for code in result.statuses), result.statuses
    assert set(result.statuses) <= {200, 201}
    assert len(result.answers) == n_leads
    per_rep = check_invariants(db_url, reps, n_leads)
    assert per_rep["rep-00"] == 20
    free = [per_rep.get(r.rep_id, 0) for r in reps[1:]]
    assert max(free) - min(free) <= 1, per_rep
    assert sum(free) + 20 == n_leads
    if kill:
        assert result.retried, "the kill happened after every request had finished"
        for lead_id in set(result.retried):
            assert result.answers[lead_id]["lead_id"] == lead_id


@pytest.mark.slow
def test_sqlite_one_process_concurrent_clients(tmp_path: Path) -> None:
    _run(
        f"sqlite:///{tmp_path / 'lp.db'}",
        tmp_path,
        n_servers=1,
        n_leads=400,
        n_threads=8,
        kill=False,
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_four_replicas_2000_leads(pg_url: str, tmp_path: Path) -> None:
    _run(pg_url, tmp_path, n_servers=4, n_leads=2000, n_threads=16, kill=False)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_replica_killed_mid_load(pg_url: str, tmp_path: Path) -> None:
    _run(pg_url, tmp_path, n_servers=4, n_leads=2000, n_threads=16, kill=True)
