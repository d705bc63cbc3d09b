"""How long one alert pass (every rule of ``service.alerting``) takes on a store of N leads.

    python benchmarks/alert_pass.py --leads 100000 [--db postgresql+psycopg://...]

Writes N routed leads with one live intake decision each, spread over 35 days across 20 reps
of one pool (meetings, reassignments, duplicates and model probabilities included, so every
rule has data to read), then times ``check_alerts`` (wall and CPU of this process; the
database's own CPU is not counted on PostgreSQL). The worker runs one pass every
``alerts.every_seconds`` (default 60).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from _figures import record

from leadpilot.schema import Rep
from leadpilot.service.alerting import check_alerts
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import decisions, duplicate_intakes, leads

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _fill(engine, n: int, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    reps = [Rep(rep_id=f"rep-{i:02d}", pool="sdr", max_leads_per_day=200) for i in range(20)]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
    ages = rng.uniform(0, 35 * 86400, n)
    for start in range(0, n, 5000):
        lead_rows, decision_rows, dup_rows = [], [], []
        for i in range(start, min(n, start + 5000)):
            at = NOW - timedelta(seconds=float(ages[i]))
            rep = f"rep-{rng.integers(20):02d}"
            lead_rows.append({
                "lead_id": f"L{i}", "fields": {"source": str(rng.choice(["web", "event", "ads"]))},
                "created_at": at, "received_at": at, "status": "routed", "rep_id": rep,
                "lane": "standard", "reassignments": int(rng.random() < 0.04),
                "first_touch_at": at + timedelta(minutes=10),
                "meeting_at": at if rng.random() < 0.2 else None,
                "closed_won": bool(rng.random() < 0.1),
            })  # fmt: skip
            decision_rows.append({
                "lead_id": f"L{i}", "seq": 1, "live": True, "trigger": "intake", "rep_id": rep,
                "pool": "sdr", "lane": "standard", "strategy": "predictive", "reasons": [],
                "candidates": [], "exclusions": {}, "decided_at": at, "mode": "live",
                "model_version": "m1", "p_convert": float(rng.beta(2, 18)),
                "fit_score": float(rng.uniform(0, 100)), "intent_score": float(rng.uniform(0, 100)),
                "sla_deadline": at + timedelta(hours=4),
            })  # fmt: skip
            if rng.random() < 0.02:
                dup_rows.append({"lead_id": f"L{i}", "matched_on": "email", "payload": {},
                                 "received_at": at})  # fmt: skip
        with write_transaction(engine) as conn:
            conn.execute(leads.insert(), lead_rows)
            conn.execute(decisions.insert(), decision_rows)
            if dup_rows:
                conn.execute(duplicate_intakes.insert(), dup_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'alerts.db'}"
        engine = make_engine(url)
        upgrade(engine)
        _fill(engine, args.leads)
        app = create_app(
            Settings(environment="development", worker_enabled=False),
            engine=engine,
            clock=lambda: NOW,
        )
        service = app.state.ctx.service
        walls, cpus, opened = [], [], []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            done = check_alerts(service, NOW)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            opened.append(len(done.opened) + len(done.refreshed))
        engine.dispose()
    print(f"{args.leads:,} leads on {engine.dialect.name}: one alert pass (all rules) takes "
          f"median {statistics.median(walls) * 1000:.0f} ms wall, "
          f"{statistics.median(cpus) * 1000:.0f} ms CPU "
          f"(min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f} ms wall; "
          f"{args.repeats} passes; conditions found: {opened[-1]})")  # fmt: skip
    record(
        f"alert pass, every rule, {args.leads:,} leads ({engine.dialect.name})",
        statistics.median(walls) * 1000,
        "ms",
        note=f"median of {args.repeats}, {statistics.median(cpus) * 1000:.0f} ms CPU; the worker "
        "runs one every alerts.every_seconds",
    )


if __name__ == "__main__":
    main()
