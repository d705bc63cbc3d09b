"""Routing latency while a retrain runs: the service's intake path, idle and during a
scheduled retrain (the worker's child process, niced, as ``leadpilot serve`` starts it).

    python benchmarks/retrain_latency.py                 # 600 leads idle, then during training
    python benchmarks/retrain_latency.py --leads 300 --history 4000

One SQLite store holds a synthetic world (20 reps, --history past leads) and a first champion;
leads are routed in process through ``RoutingService.intake`` (the write path every request
takes: dedupe, decision, counters, timers, one transaction). Phase 1 routes --leads leads
with nothing else running; phase 2 starts ``run_retrain_job`` in a spawned child process
(what the worker does) and routes --leads more while it trains (routing goes on until the
child finishes, so every lead of phase 2 is routed under training load). Reported: median
and 95th percentile latency per lead with bootstrap 95% intervals, and the routing
process's CPU time per lead (training runs in the child, so it is not in that figure; the
child's own CPU time is reported beside it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np
from _figures import record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from leadpilot.ingest.roster import leads_from_frame, reps_from_frame  # noqa: E402
from leadpilot.lifecycle.retrain import RetrainOptions, retrain  # noqa: E402
from leadpilot.policy.retrain_settings import RetrainSettings  # noqa: E402
from leadpilot.service.core import RoutingService  # noqa: E402
from leadpilot.service.metrics import ServiceMetrics  # noqa: E402
from leadpilot.service.model_swap import scorer_of_row  # noqa: E402
from leadpilot.service.retrain_schedule import run_retrain_job  # noqa: E402
from leadpilot.settings import Settings  # noqa: E402
from leadpilot.store.engine import make_engine, write_transaction  # noqa: E402
from leadpilot.store.history import load_history_leads  # noqa: E402
from leadpilot.store.migrate import upgrade  # noqa: E402
from leadpilot.store.models import active_model_row  # noqa: E402
from leadpilot.store.reps import upsert_reps  # noqa: E402
from leadpilot.synth import generate_world  # noqa: E402


def _ci(values: np.ndarray, q: float, rng: np.random.Generator) -> tuple[float, float, float]:
    point = float(np.quantile(values, q))
    draws = [np.quantile(rng.choice(values, len(values)), q) for _ in range(1000)]
    low, high = np.quantile(draws, [0.025, 0.975])
    return point, float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=600)
    parser.add_argument("--history", type=int, default=6000)
    args = parser.parse_args()

    world = generate_world(n_leads=args.history, n_reps=20, n_new_leads=3 * args.leads, seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="lp-retrain-bench-"))
    url = f"sqlite:///{tmp / 'lp.db'}"
    engine = make_engine(url)
    upgrade(engine)
    roster = world.reps[world.reps["active"].fillna(False).astype(bool)].copy()
    roster["pool"], roster["timezone"], roster["working_hours"] = "all", "UTC", None
    for col in ("max_leads_per_day", "max_open_leads", "backup_rep_id"):
        roster[col] = None
    for col in ("regions", "industries", "products", "languages"):
        roster[col] = [() for _ in range(len(roster))]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps_from_frame(roster))
        load_history_leads(conn, leads_from_frame(world.history))
    end = world.history["created_at"].max().to_pydatetime()
    first = retrain(engine, tmp / "models", RetrainOptions(window=timedelta(days=3 * 365)), now=end)
    with engine.connect() as conn:
        scorer = scorer_of_row(active_model_row(conn), force=True)
    settings = Settings(environment="development", worker_enabled=False,
                        background_pricing=False, model_store=tmp / "models")  # fmt: skip
    service = RoutingService(engine, settings=settings, metrics=ServiceMetrics(), scorer=scorer,
                             clock=lambda: end, seed=0)  # fmt: skip
    leads = iter(leads_from_frame(world.new_leads))
    for _ in range(20):  # warm up: pricer, caches
        service.intake(next(leads))

    def job_running(job: object) -> bool:
        return job is not None and not job.done()  # type: ignore[attr-defined]

    def route(n: int, until_done: object = None) -> tuple[np.ndarray, float]:
        out = []
        cpu0 = time.process_time()
        while len(out) < n or (job_running(until_done)):
            lead = next(leads, None)
            if lead is None:
                break
            t = time.perf_counter()
            service.intake(lead)
            out.append(time.perf_counter() - t)
        return np.array(out) * 1000, time.process_time() - cpu0

    idle_ms, idle_cpu = route(args.leads)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    conf = RetrainSettings(window_months=36).model_dump()
    job = pool.submit(run_retrain_job, url, str(tmp / "models"), conf,
                      (end + timedelta(days=1)).isoformat(), "benchmark")  # fmt: skip
    time.sleep(2.0)  # the child has imported and started loading the training set
    busy_ms, busy_cpu = route(args.leads, until_done=job)
    result = job.result()
    pool.shutdown()
    rng = np.random.default_rng(0)
    rows = {}
    for name, ms, cpu in (("idle", idle_ms, idle_cpu), ("while training", busy_ms, busy_cpu)):
        p50, p95 = _ci(ms, 0.5, rng), _ci(ms, 0.95, rng)
        rows[name] = (p50, p95, 1000 * cpu / len(ms), len(ms))
        print(f"{name:>15}: {len(ms)} leads, median {p50[0]:.1f} ms ({p50[1]:.1f}-{p50[2]:.1f}), "
              f"p95 {p95[0]:.1f} ms ({p95[1]:.1f}-{p95[2]:.1f}), routing CPU "
              f"{1000 * cpu / len(ms):.2f} ms per lead")  # fmt: skip
    print(f"retrain in the child: {result.get('action')}, {result.get('cpu_seconds', 0):.1f} s "
          f"CPU, {result.get('wall_seconds', 0):.1f} s wall; first champion "
          f"{first.cpu_seconds:.1f} s CPU")  # fmt: skip
    idle, busy = rows["idle"], rows["while training"]
    record("routing median while a retrain runs", busy[0][0], "ms", floor=idle[0][0],
           floor_what="the same intake path with no retrain running",
           work={"leads": busy[3]}, cpu_s=busy[2] * busy[3] / 1000,
           note=f"idle {idle[0][0]:.1f} ms; retrain {result.get('cpu_seconds', 0):.1f} s"
                " CPU")  # fmt: skip


if __name__ == "__main__":
    main()
