"""Benchmark: time and peak memory to generate and write synthetic worlds of several sizes,
and the offline yardsticks (optimal / round-robin / greedy) over seeds.

    python benchmarks/synth_generate.py [--sizes 20000,200000,1000000] [--seeds 10]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time

from _figures import record

from leadpilot.ingest.roster import leads_from_frame
from leadpilot.synth import generate_world, write_world
from leadpilot.synth.yardsticks import world_yardsticks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20000,200000,1000000")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        world = generate_world(n_leads=n, seed=0)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            write_world(world, out)
        t2 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"n_leads={n:>9,}  generate {t1 - t0:6.2f} s  write {t2 - t1:6.2f} s  "
            f"peak RSS so far {peak:,.0f} MB"
        )
        record(
            f"synthetic world generation, {n:,} leads",
            t1 - t0,
            "s",
            note=f"writing it {t2 - t1:.1f} s; peak RSS so far {peak:,.0f} MB",
        )
    # The oracle scorer (router tests): one lead against 100 reps.
    world = generate_world(n_leads=2_000, n_reps=100, n_new_leads=500, seed=0)
    scorer = world.truth.as_scorer()
    leads = leads_from_frame(world.new_leads.head(200))
    reps = list(world.truth.rep_ids)
    times = []
    for lead in leads * 5:
        t0 = time.perf_counter()
        scorer.score_candidates(lead, reps)
        times.append(time.perf_counter() - t0)
    print(f"oracle score_candidates, 100 reps: median {statistics.median(times) * 1e6:.0f} us")
    t0 = time.perf_counter()
    y = world_yardsticks(generate_world(seed=0))
    print(
        f"yardsticks on 2,000 new leads x 19 reps (LP + rotation + greedy): "
        f"{time.perf_counter() - t0:.2f} s"
    )

    lifts, greedy, share, fair = [], [], [], []
    for seed in range(args.seeds):
        y = world_yardsticks(generate_world(seed=seed))
        lifts.append(y.optimal_lift)
        greedy.append(y.greedy_lift)
        share.append(y.greedy_share_of_optimal_lift)
        fair.append(y.fair_optimal_lift if y.fair_optimal_lift is not None else float("nan"))
        print(
            f"seed {seed}: round-robin {y.round_robin:.1f}  greedy {y.greedy:.1f} "
            f"({y.greedy_lift:+.1%})  fair optimum ({fair[-1]:+.1%})  "
            f"optimal {y.optimal:.1f} ({y.optimal_lift:+.1%})"
        )

    if not lifts:
        return

    def fmt(xs: list[float]) -> str:
        return f"mean {statistics.mean(xs):+.1%}, min {min(xs):+.1%}, max {max(xs):+.1%}"

    print(f"optimal vs round-robin: {fmt(lifts)}")
    record(
        f"best capacity-feasible assignment vs round-robin (true expected conversions), "
        f"{len(lifts)} seeds",
        100 * statistics.mean(lifts),
        "%",
        note=f"range {100 * min(lifts):+.1f}% to {100 * max(lifts):+.1f}%; greedy argmax "
        f"{100 * statistics.mean(greedy):+.1f}%",
    )
    print(f"greedy  vs round-robin: {fmt(greedy)}")
    print(f"greedy share of optimal lift: {fmt(share)}")
    print(f"fair optimum (0.8-1.2) vs round-robin: {fmt(fair)}")


if __name__ == "__main__":
    main()
