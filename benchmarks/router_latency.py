"""Router latency: one lead in-process (policy + scoring the reps + choosing).

A synthetic world (``--reps`` reps); its ground truth scores every rep for each lead (an
oracle, as fast as a table lookup: the trained model's own scoring time is benchmarked by
the model). Each of the new leads is routed with the default policy (predictive, shadow
prices, fairness band), committing each decision to an in-memory state. The headline is the
service's way (what issue 16's decision-latency target is about): prices refreshed off the
request path in a one-process solver pool, a decision reading the pool's latest prices while
a refresh runs, the first prices solved before the first lead as the service's start-up
does, and the lead's pool screened once (``route_priced``, what ``Snapshot.route`` calls).
For comparison: prices refreshed inline (as ``route-batch`` does; a decision may wait for an
LP) and fairness prices only. The floor, measured in the same run on the same leads:
scoring the candidate rows with the same scorer.

    python benchmarks/router_latency.py [--reps 50] [--leads 2000]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _figures import record

from leadpilot.ingest import leads_from_frame, reps_from_frame
from leadpilot.policy import (
    DemandModel,
    InMemoryState,
    ShadowPricer,
    default_policy,
    refresh_prices,
    route,
    router_inputs,
)
from leadpilot.policy.pricer import route_priced
from leadpilot.policy.pricing import warm_up_solver
from leadpilot.synth import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--history", type=int, default=20_000, help="past leads of the world")
    args = parser.parse_args()
    world = generate_world(n_leads=args.history, n_reps=args.reps, n_new_leads=args.leads, seed=3)
    reps = reps_from_frame(world.reps)
    leads = leads_from_frame(world.new_leads)
    scorer = world.truth.as_scorer()
    policy = default_policy(reps)
    history = leads_from_frame(world.history)
    base = router_inputs(policy, reps, scorer=scorer, history=history)
    demand = DemandModel.from_leads(history, seed=0)
    active = [r.rep_id for r in reps if r.active]
    scoring, writing = _floor_ms(leads, active, scorer, base.response_hours)
    for what, ms in (("scoring the candidate rows", scoring), ("one committed row", writing)):
        print(f"floor, {what}: median {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")
    for label in ("prices off the request path", "shadow prices inline", "fairness prices only"):
        solver = ProcessPoolExecutor(max_workers=1) if label.endswith("path") else None
        pricer = None if label.startswith("fairness") else ShadowPricer(demand, solver=solver)
        state = InMemoryState()
        rng = np.random.default_rng(0)
        times, cpu_times = [], []
        inputs = base
        if solver is not None:  # the service's start-up: solver loaded, first prices solved
            solver.submit(warm_up_solver).result()
            first = leads[0].created_at
            assert first is not None
            inputs = refresh_prices(leads[0], inputs, state, first, pricer)
        cpu0 = time.process_time()
        for lead in leads:
            assert lead.created_at is not None
            started, cpu_started = time.perf_counter(), time.thread_time()
            # A decision's time includes its price refresh: synchronous inline, or handing
            # a due one to the solver process (the decision then reads the latest prices).
            now = lead.created_at
            if solver is not None:  # the service's decision (Snapshot.route)
                decision, inputs = route_priced(lead, inputs, state, now, rng, pricer)
            else:
                inputs = refresh_prices(lead, inputs, state, now, pricer)
                decision = route(lead, inputs, state, now, rng)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.thread_time() - cpu_started)
            state.commit(decision)
        cpu = time.process_time() - cpu0
        solver_cpu = None
        if solver is not None:
            solver.shutdown(wait=True)
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            solver_cpu = usage.ru_utime + usage.ru_stime
        ms, cpu_ms = np.array(times) * 1000, np.array(cpu_times) * 1000
        refreshes = pricer.refreshes if pricer is not None else 0
        background = pricer.background_refreshes if pricer is not None else 0
        print(
            f"{label}: {len(ms)} leads x {len(reps)} reps: median {np.median(ms):.2f} ms, "
            f"p90 {np.percentile(ms, 90):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
            f"mean {ms.mean():.2f} ms; {cpu * 1000 / len(ms):.2f} ms CPU per decision in this "
            f"process (LP refreshes: {refreshes}, {background} in the solver process"
            + (f", solver CPU {solver_cpu:.1f} s" if solver_cpu is not None else "")
            + f"); CPU of one decision: median {np.median(cpu_ms):.2f} ms, "
            f"p99 {np.percentile(cpu_ms, 99):.2f} ms"
        )
        if label != "fairness prices only":
            _record(ms, scoring, writing, len(reps), cpu, label)


def _floor_ms(
    leads: list, rep_ids: list[str], scorer: object, response: object
) -> tuple[np.ndarray, np.ndarray]:
    """Per lead, the least a decision must cost: scoring its candidate rows with the same
    scorer (ms), and committing one decision row to SQLite with the service's durability
    (WAL, synchronous=FULL; ms). In-process routing pays the first, the service both."""
    hours = np.array([response.get(r, np.nan) for r in rep_ids]) if response else None
    scoring, writing = [], []
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE decisions (lead_id TEXT PRIMARY KEY, rep_id TEXT, p REAL)")
        for lead in leads:
            started = time.perf_counter()
            scores = scorer.score_candidates(lead, rep_ids, expected_response_hours=hours)
            best = int(np.argmax(scores.p))
            scored = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO decisions VALUES (?, ?, ?)",
                (lead.lead_id, rep_ids[best], float(scores.p[best])),
            )
            conn.execute("COMMIT")
            scoring.append(scored - started)
            writing.append(time.perf_counter() - scored)
        conn.close()
    return np.array(scoring) * 1000, np.array(writing) * 1000


def _record(
    ms: np.ndarray, scoring: np.ndarray, writing: np.ndarray, n_reps: int, cpu_s: float, how: str
) -> None:
    target = {50: 5.0, 500: 15.0}.get(n_reps)
    for q, label in ((50, "median"), (99, "p99")):
        value, low = float(np.percentile(ms, q)), float(np.percentile(scoring, q))
        # The target is for the service's way: prices off the request path.
        q_target = target if how == "prices off the request path" else None
        record(
            f"decision latency {label}, {n_reps} reps (in-process, {how})",
            value,
            "ms",
            floor=low,
            floor_what="scoring the candidate rows",
            target=f"p99 < {q_target:g} ms, within 3x of the floor"
            if q_target and q == 99
            else None,
            met=(value < q_target and value <= 3 * low) if q_target and q == 99 else None,
            work={"leads": len(ms)},
            cpu_s=cpu_s,
        )
    record(
        "one committed decision row p99 (SQLite WAL, synchronous=FULL)",
        float(np.percentile(writing, 99)),
        "ms",
        note=f"p50 {np.percentile(writing, 50):.2f} ms; the service's floor adds this",
    )


if __name__ == "__main__":
    main()
