"""Routed leads/s across ``leadpilot serve`` replicas on one PostgreSQL database.

    python benchmarks/replica_throughput.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/replica_throughput.py --replicas 1 2 4 --pools 1 4 --leads 3000 --seconds 30
    python benchmarks/replica_throughput.py --smoke

For each configuration (replicas x pools) a database of its own is created on the server of
``--db`` (and dropped afterwards), migrated, given ``--reps`` reps split evenly over the pools
(``member_pools``; each pool picks its leads by region, so pools share no rep) and a
round-robin policy, then ``--replicas`` ``leadpilot serve`` processes start on loopback ports
(the background worker on, as in production). A closed-loop load generator of
``--clients`` threads posts new leads to the replicas in turn, each thread sending its next
lead when the previous one is answered, until ``--leads`` leads or ``--seconds`` seconds,
whichever comes first (after a warm-up of 10 leads per replica, not counted). Reported per
configuration: routed leads/s, latency p50/p99 (ms, send to answer), the servers' CPU per
lead and the database backends' CPU per lead (both from /proc), the load generator's own CPU
per lead, how many cores the three keep busy, and the mean wait for the routing lock per
intake (the servers' own ``leadpilot_routing_lock_wait_seconds``), with the load average.
Output: a table, and JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
from _figures import descendants_cpu_s, descendants_cpu_since, process_cpu_s, record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from leadpilot.schema import Rep  # noqa: E402
from leadpilot.store.engine import make_engine, routing_transaction, write_transaction  # noqa: E402
from leadpilot.store.migrate import upgrade  # noqa: E402
from leadpilot.store.policies import activate_policy, save_policy  # noqa: E402
from leadpilot.store.reps import upsert_reps  # noqa: E402
from leadpilot.store.tokens import create_token  # noqa: E402

WARMUP_PER_REPLICA = 10


@dataclass
class Result:
    """One configuration's figures."""

    replicas: int
    pools: int
    leads: int
    errors: int
    wall_s: float
    leads_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_lead: float
    db_cpu_ms_per_lead: float
    client_cpu_ms_per_lead: float  # the load generator's (this process's) CPU
    cores_busy: float  # (server + database + load generator CPU) / wall
    lock_wait_ms_per_intake: float
    lock_retries: float
    load_avg_1m: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# No scheduled retrain: on a store without a registered model one starts at once, in a
# child process on the same cores, and would count as the servers' CPU.
_NO_RETRAIN = "retrain:\n  enabled: false\n"


def _policy(pools: int) -> str:
    if pools == 1:
        return (
            "lanes:\n  - name: standard\npools:\n  - name: all\n    strategy: round_robin\n"
            + _NO_RETRAIN
        )
    lines = ["lanes:", "  - name: standard", "pools:"]
    for p in range(pools):
        lines += [
            f"  - name: pool{p}",
            f"    member_pools: [pool{p}]",
            "    strategy: round_robin",
            f"    when: [{{field: region, equals: region{p}}}]",
            "    eligibility: {territory: false}",
        ]
    return "\n".join(lines) + "\n" + _NO_RETRAIN


def _prepare(url: str, pools: int, n_reps: int) -> str:
    """Migrate the database at ``url``, load the reps and the policy; a writer token."""
    engine = make_engine(url)
    upgrade(engine)
    reps = [
        Rep(
            rep_id=f"rep-{i:03d}",
            pool=f"pool{i % pools}" if pools > 1 else None,
            max_leads_per_day=1_000_000,
            timezone="UTC",
        )
        for i in range(n_reps)
    ]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        save_policy(conn, version="bench", text=_policy(pools), author_token_id=None, author=None)
        token, _ = create_token(conn, role="writer", name="bench")
    with routing_transaction(engine) as conn:
        activate_policy(conn, "bench", action="upload", author_token_id=None, author=None)
    engine.dispose()
    return token


@dataclass
class _Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(url: str, log_dir: Path) -> _Server:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = (log_dir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "leadpilot.cli.main", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--db", url, "--no-migrate"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 180  # a start-up wait on a loaded machine, not a figure
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"leadpilot serve exited: see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return _Server(port, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"leadpilot serve did not start: see {log.name}")


def _stop(server: _Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


def _metric(text: str, name: str) -> float:
    """Sum of the samples of ``name`` (any labels) in a Prometheus text page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def _lock_figures(servers: list[_Server], token: str) -> tuple[float, float, float]:
    """(seconds waited for per-pool routing locks, their count, lock retries) summed over
    the servers."""
    wait = count = retries = 0.0
    for server in servers:
        page = httpx.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).text
        wait += _metric(page, 'leadpilot_routing_lock_wait_seconds_sum{scope="pools"}')
        count += _metric(page, 'leadpilot_routing_lock_wait_seconds_count{scope="pools"}')
        retries += _metric(page, "leadpilot_routing_lock_retries_total")
    return wait, count, retries


def _backend_pids(admin: sa.Engine, database: str) -> list[int]:
    with admin.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
        ).scalars()
        return [int(pid) for pid in rows]


class _BackendCpu:
    """CPU of the database's backends over a run, sampled every 0.25 s from /proc: a pool
    closes its overflow connections when they are handed back, and a backend that exited is
    gone from /proc, so its last sample is what counts (a new backend starts from 0)."""

    def __init__(self, admin: sa.Engine, database: str) -> None:
        self._admin, self._database = admin, database
        self._start = {pid: process_cpu_s(pid) for pid in _backend_pids(admin, database)}
        self._last = dict(self._start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self._take()

    def _take(self) -> None:
        for pid in _backend_pids(self._admin, self._database):
            cpu = process_cpu_s(pid)
            if cpu:
                self._last[pid] = cpu

    def stop(self) -> float:
        """Stop sampling; the backends' CPU seconds since the start."""
        self._stop.set()
        self._thread.join()
        self._take()
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._last.items())


def run_config(
    admin: sa.Engine,
    base: str,
    *,
    replicas: int,
    pools: int,
    n_reps: int,
    n_leads: int,
    seconds: float,
    clients: int,
    log_dir: Path,
) -> Result:
    """One configuration on a database of its own (created here, dropped afterwards)."""
    database = f"lp_replicas_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = make_url(base).set(database=database).render_as_string(hide_password=False)
    servers: list[_Server] = []
    try:
        token = _prepare(url, pools, n_reps)
        servers = [_start(url, log_dir) for _ in range(replicas)]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=60) as client:
            for i in range(WARMUP_PER_REPLICA * replicas):
                server = servers[i % replicas]
                body = {"lead_id": f"warm-{i}", "region": f"region{i % pools}"}
                answer = client.post(f"{server.url}/v1/leads", json=body)
                if answer.status_code != 201:  # say what the server said, and its log
                    logs = "".join(
                        p.read_text(errors="replace")[-3000:] for p in log_dir.glob("serve-*.log")
                    )
                    raise RuntimeError(
                        f"warm-up lead {i}: {answer.status_code} {answer.text[:500]}\n{logs}"
                    )
        wait0, count0, retries0 = _lock_figures(servers, token)
        backend_cpu = _BackendCpu(admin, database)
        client_cpu0 = time.process_time()
        server_cpu0 = [process_cpu_s(s.process.pid) for s in servers]
        solver_cpu0 = [descendants_cpu_s(s.process.pid) for s in servers]
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        next_lead = [0]
        started = time.perf_counter()
        stop_at = started + seconds

        def worker() -> None:
            with httpx.Client(headers=headers, timeout=60) as client:
                while time.perf_counter() < stop_at:
                    with lock:
                        i = next_lead[0]
                        if i >= n_leads:
                            return
                        next_lead[0] += 1
                    server = servers[i % replicas]
                    body = {
                        "lead_id": f"lead-{i}",
                        "email": f"l{i}@bench{i}.example",
                        "region": f"region{(i // replicas) % pools}",
                    }
                    sent = time.perf_counter()
                    try:
                        ok = client.post(f"{server.url}/v1/leads", json=body).status_code == 201
                    except httpx.HTTPError:
                        ok = False
                    elapsed = time.perf_counter() - sent
                    with lock:
                        if ok:
                            latencies.append(elapsed * 1000)
                        else:
                            errors[0] += 1

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        # each server's process and its price solver (a child process)
        server_cpu = sum(process_cpu_s(s.process.pid) for s in servers) - sum(server_cpu0)
        server_cpu += sum(
            descendants_cpu_since(s.process.pid, before)
            for s, before in zip(servers, solver_cpu0, strict=True)
        )
        client_cpu = time.process_time() - client_cpu0
        db_cpu = backend_cpu.stop()
        load = os.getloadavg()[0]
        wait1, count1, retries1 = _lock_figures(servers, token)
    finally:
        for server in servers:
            _stop(server)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    n = len(latencies)
    intakes = max(count1 - count0, 1.0)
    return Result(
        replicas=replicas,
        pools=pools,
        leads=n,
        errors=errors[0],
        wall_s=round(wall, 2),
        leads_per_s=round(n / wall, 1),
        p50_ms=round(float(np.percentile(latencies, 50)), 1) if n else float("nan"),
        p99_ms=round(float(np.percentile(latencies, 99)), 1) if n else float("nan"),
        server_cpu_ms_per_lead=round(server_cpu * 1000 / max(n, 1), 2),
        db_cpu_ms_per_lead=round(db_cpu * 1000 / max(n, 1), 2),
        client_cpu_ms_per_lead=round(client_cpu * 1000 / max(n, 1), 2),
        cores_busy=round((server_cpu + db_cpu + client_cpu) / wall, 2),
        lock_wait_ms_per_intake=round((wait1 - wait0) * 1000 / intakes, 2),
        lock_retries=retries1 - retries0,
        load_avg_1m=round(load, 2),
    )


def table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    head = (
        "| replicas | pools | leads | leads/s | p50 ms | p99 ms | server CPU ms/lead "
        "| DB CPU ms/lead | client CPU ms/lead | cores busy | lock wait ms/intake | load 1m |"
    )
    rows = [head, "|" + "---|" * 12]
    for r in results:
        rows.append(
            f"| {r.replicas} | {r.pools} | {r.leads} | {r.leads_per_s} | {r.p50_ms} | "
            f"{r.p99_ms} | {r.server_cpu_ms_per_lead} | {r.db_cpu_ms_per_lead} | "
            f"{r.client_cpu_ms_per_lead} | {r.cores_busy} | {r.lock_wait_ms_per_intake} | "
            f"{r.load_avg_1m} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("LEADPILOT_TEST_POSTGRES_URL"),
        help="a PostgreSQL URL; its server gets a database of its own per configuration",
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pools", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--leads", type=int, default=3000, help="at most this many per config")
    parser.add_argument("--seconds", type=float, default=30.0, help="at most this long per config")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    parser.add_argument("--smoke", action="store_true", help="tiny: 1-2 replicas, 2 pools")
    args = parser.parse_args()
    if not args.db or not args.db.startswith("postgresql"):
        parser.error("needs a PostgreSQL URL: --db or LEADPILOT_TEST_POSTGRES_URL")
    if args.smoke:
        args.replicas, args.pools, args.leads, args.seconds, args.clients = [1, 2], [2], 40, 20, 4
    if args.reps < max(args.pools):
        parser.error("--reps must be at least the largest --pools")
    admin = sa.create_engine(
        make_url(args.db).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="lp-replicas-") as logs:
        for pools in args.pools:
            for replicas in args.replicas:
                result = run_config(
                    admin, args.db, replicas=replicas, pools=pools, n_reps=args.reps,
                    n_leads=args.leads, seconds=args.seconds, clients=args.clients,
                    log_dir=Path(logs),
                )  # fmt: skip
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)
                record(
                    f"replicas_{replicas}_pools_{pools}_leads_per_s",
                    result.leads_per_s,
                    "leads/s",
                    work={"leads": result.leads},
                    cpu_s=result.server_cpu_ms_per_lead * result.leads / 1000,
                    note=(
                        f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
                        f"{result.server_cpu_ms_per_lead} ms server CPU/lead, "
                        f"{result.db_cpu_ms_per_lead} ms DB CPU/lead, "
                        f"lock wait {result.lock_wait_ms_per_intake} ms/intake, "
                        f"load {result.load_avg_1m}"
                    ),
                )
    admin.dispose()
    print(table(results))
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
