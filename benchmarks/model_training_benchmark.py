"""Training time of the conversion model on a large synthetic history.

    python benchmarks/model_training_benchmark.py --rows 1000000

Generates a synthetic world with ``leadpilot.synth`` (not timed), then times
``ConversionModel.fit`` (features, linear part, trees, bags, calibration, baselines and the
full evaluation) and prints the stages' progress times and the test metrics.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from _figures import peak_rss_mb, peak_rss_reset, record

from leadpilot.model import ConversionModel
from leadpilot.model.evaluation import fit_and_evaluate
from leadpilot.synth import generate_world


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    world = generate_world(n_leads=args.rows, n_reps=args.reps, n_new_leads=100, seed=args.seed)
    print(f"generated {len(world.history):,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    stages: list[tuple[str, float]] = []
    generated_peak = peak_rss_mb()
    reset = peak_rss_reset()  # the fit's own peak, without the world generator's
    start, cpu_start = time.perf_counter(), time.process_time()

    def progress(stage: str, _fraction: float) -> None:
        stages.append((stage, time.perf_counter() - start))

    model = ConversionModel(n_jobs=os.cpu_count() or 1)
    report = fit_and_evaluate(model, world.history, world.reps, progress=progress)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    fit_peak = peak_rss_mb()
    for stage, t in stages:
        print(f"  {t:7.1f} s  {stage}")
    m = report.metrics["model"]
    lr = report.metrics["logistic regression"]
    print(f"fit: {total:.1f} s on {os.cpu_count()} cores for {len(world.history):,} rows")
    print(f"test AUC {m['auc']:.4f} (logistic regression {lr['auc']:.4f}), ECE {m['ece']:.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB (the world generator's {generated_peak:,.0f} MB included)")
    if reset:
        print(f"peak memory of the fit alone {fit_peak:,.0f} MB (world held in memory included)")
    rows = len(world.history)
    full = rows >= 1_000_000  # the targets are stated for 1M rows
    fit_mb = fit_peak if reset else peak
    record(
        f"training, {rows:,} rows",
        total,
        "s",
        target="< 60 s (1M rows)",
        met=total < 60 if full else None,
        work={"rows": rows},
        cpu_s=cpu,
        note=f"CPU {cpu:.1f} s on {os.cpu_count()} cores",
    )
    record(
        f"training peak RSS, {rows:,} rows",
        fit_mb,
        "MiB",
        target="< 4096 MiB (1M rows)",
        met=fit_mb < 4096 if full else None,
        note="the fit alone (history frame included)" if reset else "whole process",
    )


if __name__ == "__main__":
    main()
