"""Latency of ``POST /v1/leads`` on loopback: 100 reps, the predictive policy, a fixed rate.

    python benchmarks/service_latency.py                      # SQLite, 5,000 requests
    python benchmarks/service_latency.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

The server (uvicorn, one process, the background worker on) runs in a subprocess, with the
world's 5,000 history leads loaded (shadow prices learn the lead mix from them), and scores
with the synthetic world's ground truth (an oracle with the Scorer interface; pass --model
DIR to use a trained model instead). Requests are sent open-loop at --rate per second by a
pool of client threads; latency is measured from each request's scheduled send time, so a
server that falls behind is charged for the queueing it causes. Caps are scaled up so the
whole run routes (a queued lead is cheaper to decide than a routed one).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from leadpilot.ingest.history import read_history  # noqa: E402
from leadpilot.ingest.roster import leads_from_frame  # noqa: E402
from leadpilot.synth import generate_world, write_world  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(args: argparse.Namespace) -> None:
    """Child process: migrate, load 100 reps, run the app with the oracle scorer."""
    import uvicorn

    from leadpilot.ingest.roster import read_reps, reps_from_frame
    from leadpilot.schema import Scorer
    from leadpilot.service.app import create_app
    from leadpilot.service.inputs import load_scorer
    from leadpilot.settings import Settings
    from leadpilot.store.engine import make_engine, write_transaction
    from leadpilot.store.history import load_history_leads
    from leadpilot.store.migrate import upgrade
    from leadpilot.store.reps import upsert_reps
    from leadpilot.store.tokens import create_token
    from leadpilot.synth.truth import GroundTruthScorer, load_truth

    world = Path(args.world)
    engine = make_engine(args.db)
    upgrade(engine)
    reps = [
        dataclasses.replace(
            r, max_leads_per_day=(r.max_leads_per_day or 10) * 20, max_open_leads=None
        )
        for r in reps_from_frame(read_reps(world / "reps.csv"))
    ]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        # history: dedupe context and the lead mix the shadow prices are learned from
        load_history_leads(conn, leads_from_frame(read_history(world / "history.csv").frame))
        token, _ = create_token(conn, role="writer", name="bench")
    (world / "token").write_text(token)
    scorer: Scorer = (
        load_scorer(Path(args.model))
        if args.model
        else GroundTruthScorer(load_truth(world / "truth.json"))
    )
    app = create_app(Settings(database_url=args.db), engine=engine, scorer=scorer)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error")


def run(db: str, world: Path, *, n: int, rate: float, threads: int, model: str | None) -> dict:
    """Start the server, send ``n`` leads at ``rate``/s, return latency figures in ms."""
    port = _free_port()
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        "--db",
        db,
        "--world",
        str(world),
        "--port",
        str(port),
    ] + (["--model", model] if model else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen(cmd, env=env)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = (world / "token").read_text()
        frame = read_history(world / "new_leads.csv", keep_extra=True).frame
        leads = leads_from_frame(frame)
        bodies = []
        for i in range(n):
            lead = leads[i % len(leads)]
            bodies.append(
                {
                    "lead_id": f"b{i}",
                    "email": f"b{i}@bench{i}.example",
                    "company": lead.company,
                    "industry": lead.industry,
                    "company_size": lead.company_size,
                    "region": lead.region,
                    "country": lead.country,
                    "product": lead.product,
                    "language": lead.language,
                    "source": lead.source,
                    "engagement_score": lead.engagement_score,
                    "attributes": {"demo_request": bool(lead.attributes.get("demo_request"))},
                }
            )
        latencies = np.zeros(n)
        handler = np.zeros(n)  # the server's own time in the app (x-process-time-ms)
        statuses: list[int] = [0] * n
        local = threading.local()

        def client() -> httpx.Client:
            if not hasattr(local, "c"):
                local.c = httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    timeout=30,
                    headers={"Authorization": f"Bearer {token}"},
                )
            return local.c

        start = time.perf_counter() + 0.5

        def send(i: int) -> None:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = {
                k: v
                for k, v in bodies[i].items()
                if v is not None and not (isinstance(v, float) and np.isnan(v))
            }
            r = client().post("/v1/leads", json=body)
            latencies[i] = (time.perf_counter() - due) * 1000
            statuses[i] = r.status_code
            handler[i] = float(r.headers.get("x-process-time-ms", "nan"))

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, range(n)))
        ok = sum(1 for s in statuses if s == 201)
        return {
            "db": db.split(":")[0].split("+")[0],
            "requests": n,
            "rate_per_s": rate,
            "status_201": ok,
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p90_ms": round(float(np.percentile(latencies, 90)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "max_ms": round(float(latencies.max()), 2),
            "app_p50_ms": round(float(np.nanpercentile(handler, 50)), 2),
            "app_p99_ms": round(float(np.nanpercentile(handler, 99)), 2),
            "achieved_rate_per_s": round(n / (time.perf_counter() - start), 1),
        }
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--model", default=None, help="trained model dir (default: oracle)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--world", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        write_world(generate_world(n_leads=5_000, n_reps=100, n_new_leads=2_000, seed=11), world)
        db = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if db.startswith("postgresql"):  # a fresh schema, dropped afterwards
            import sqlalchemy as sa

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(db)
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in db else "?"
            try:
                result = run(
                    f"{db}{sep}options=-csearch_path%3D{schema}",
                    world,
                    n=args.requests,
                    rate=args.rate,
                    threads=args.threads,
                    model=args.model,
                )
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        else:
            result = run(
                db, world, n=args.requests, rate=args.rate, threads=args.threads, model=args.model
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
