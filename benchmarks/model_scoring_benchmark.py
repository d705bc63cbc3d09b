"""Latency of scoring one lead against 100 reps in-process (``score_candidates``).

    python benchmarks/model_scoring_benchmark.py --reps 100 --calls 5000

Trains on a synthetic world with 100 reps (not timed), then times ``score_candidates``
for new leads (calibrated p for every rep, the bagged confidence and per-rep sufficiency),
cycling through the world's new leads; prints the median and 99th percentile.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _figures import record

from leadpilot.ingest import leads_from_frame
from leadpilot.model import ConversionModel
from leadpilot.synth import generate_world


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--leads", type=int, default=30_000)
    ap.add_argument("--calls", type=int, default=5_000)
    ap.add_argument(
        "--trees", type=int, default=None, help="force this many trees (no early stopping)"
    )
    args = ap.parse_args()
    world = generate_world(n_leads=args.leads, n_reps=args.reps, n_new_leads=500, seed=0)
    if args.trees:
        model = ConversionModel(n_estimators=args.trees, early_stopping_rounds=None)
    else:
        model = ConversionModel()
    model.fit(world.history, world.reps)
    leads = leads_from_frame(world.new_leads)
    rep_ids = list(world.reps["rep_id"])[: args.reps]
    hours = world.truth.expected_response_hours(rep_ids)
    for lead in leads[:50]:  # warm-up
        model.score_candidates(lead, rep_ids, expected_response_hours=hours)
    times = np.empty(args.calls)
    cpu0 = time.process_time()
    for i in range(args.calls):
        lead = leads[i % len(leads)]
        t = time.perf_counter()
        model.score_candidates(lead, rep_ids, expected_response_hours=hours)
        times[i] = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    ms = times * 1e3
    print(
        f"score_candidates, 1 lead x {len(rep_ids)} reps, {model.n_bags} bags, "
        f"{model.fitted_.n_rounds} trees: median {np.median(ms):.3f} ms, p99 "
        f"{np.percentile(ms, 99):.3f} ms over {args.calls:,} calls"
    )

    for q, label in ((50, "median"), (99, "p99")):
        record(
            f"model scoring {label}, 1 lead x {len(rep_ids)} reps (score_candidates)",
            float(np.percentile(ms, q)),
            "ms",
            work={"leads": args.calls},
            cpu_s=cpu,
        )


if __name__ == "__main__":
    main()
