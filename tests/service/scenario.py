"""Real-server scenario: ``leadpilot serve`` processes, many client threads, optional kill -9.

Used by the concurrency tests on SQLite (one process) and PostgreSQL (four processes).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from leadpilot.schema import Rep
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import decisions, leads
from leadpilot.store.tokens import create_token

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(db_url: str, log_dir: Path, *, extra_env: dict[str, str] | None = None) -> Server:
    """Start ``leadpilot serve`` on a free loopback port and wait until /healthz answers."""
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "LEADPILOT_WORKER_POLL_SECONDS": "1",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadpilot.cli.main",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            db_url,
            "--no-migrate",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    # Generous: a loaded 2-core machine can take a minute to import and migrate; this is a
    # start-up wait, not a timing assertion.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Server(port, process, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


def prepare_database(db_url: str, reps: list[Rep]) -> str:
    """Migrate, load reps, and return a writer token."""
    engine = make_engine(db_url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        token, _ = create_token(conn, role="writer", name="load-test")
    engine.dispose()
    return token


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    retried: list[str] = field(default_factory=list)
    answers: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def post_leads(
    servers: list[Server],
    token: str,
    n_leads: int,
    n_threads: int,
    *,
    kill_after: int | None = None,
) -> LoadResult:
    """Post ``n_leads`` from ``n_threads`` threads spread over ``servers``; each lead has an
    Idempotency-Key. With ``kill_after``, server 0 gets SIGKILL once that many leads were
    answered; requests that fail on a connection error are retried on another live server
    with the same key (bounded attempts)."""
    result = LoadResult()
    lock = threading.Lock()
    done = [0]
    killed = threading.Event()
    headers = {"Authorization": f"Bearer {token}"}

    def worker(k: int) -> None:
        with httpx.Client(timeout=30, headers=headers) as client:
            for i in range(k, n_leads, n_threads):
                lead_id = f"lead-{i:05d}"
                body = {"lead_id": lead_id, "email": f"p{i}@company{i % 97}.com"}
                attempt = 0
                target = i % len(servers)
                while True:
                    attempt += 1
                    server = servers[target]
                    try:
                        resp = client.post(
                            f"{server.url}/v1/leads",
                            json=body,
                            headers={"Idempotency-Key": f"key-{lead_id}"},
                        )
                    except httpx.TransportError as exc:
                        if attempt >= 8:
                            with lock:
                                result.errors.append(f"{lead_id}: {exc}")
                            break
                        with lock:
                            result.retried.append(lead_id)
                        target = (target + 1) % len(servers)
                        if target == 0 and killed.is_set():
                            target = 1
                        continue
                    with lock:
                        result.statuses[resp.status_code] += 1
                        if resp.status_code < 300:
                            result.answers[lead_id] = resp.json()
                        else:
                            result.errors.append(f"{lead_id}: {resp.status_code} {resp.text[:200]}")
                        done[0] += 1
                        if kill_after is not None and done[0] == kill_after and not killed.is_set():
                            servers[0].process.send_signal(signal.SIGKILL)
                            killed.set()
                    break

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return result


def check_invariants(db_url: str, reps: list[Rep], n_leads: int) -> dict[str, int]:
    """Every lead stored once with exactly one live decision; nobody over a cap.
    Returns the number of leads per rep."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one() == n_leads
        live = conn.execute(
            sa.select(decisions.c.lead_id, sa.func.count())
            .where(decisions.c.live)
            .group_by(decisions.c.lead_id)
        ).all()
        assert len(live) == n_leads
        assert all(n == 1 for _, n in live)
        total = conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one()
        assert total == n_leads  # no lead was routed twice, even after a retry
        per_rep = dict(
            conn.execute(
                sa.select(decisions.c.rep_id, sa.func.count())
                .where(decisions.c.rep_id.is_not(None))
                .group_by(decisions.c.rep_id)
            ).all()
        )
    engine.dispose()
    for rep in reps:
        if rep.max_leads_per_day is not None:
            assert per_rep.get(rep.rep_id, 0) <= rep.max_leads_per_day, rep.rep_id
    return per_rep
