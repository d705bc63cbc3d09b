"""How far each holdout design misstates the lift of predictive routing when reps' capacity
is tight, on synthetic worlds with known truth.

For each world, the world's new leads are routed in arrival order by leadpilot's router
(``route_batch``) with the world's true conversion probabilities as the scorer and every
rep's daily cap scaled to ``--cap-scale`` of the roster's, five times:

- ``all predictive`` (no holdout) and ``all holdout`` (every lead to the fallback,
  round-robin): the truth is the difference of their expected conversions per lead;
- ``per-lead 50%``: each lead randomized; the estimate is treated minus holdout;
- ``switchback daily`` and ``switchback hourly`` (50% of blocks OFF; hourly blocks with a
  10-minute washout): the estimate is ON blocks minus OFF blocks, blocks as units.

Outcomes are the world's expected conversions of each assignment (``expected_conversions``:
the true probability averaged over the rep's contact delays), not coin flips, so the gap
between an estimate and the truth is the design's bias plus randomization noise, not
outcome noise. Leads nobody could take count as 0 in the truth; the designs' estimates
use the randomized leads, as ``leadpilot report lift`` does.

    python benchmarks/holdout_designs.py        # 8 seeds, tight (x0.8) and loose (x3) caps
    python benchmarks/holdout_designs.py --replications 3 --cap-scale 3 --fairness-penalty 0

The comparison itself is ``leadpilot.evaluate.holdout_designs`` (``leadpilot simulate
--holdout-designs`` runs it on a synthetic world's history).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

from leadpilot.evaluate.holdout_designs import RANDOMIZED, compare_designs
from leadpilot.ingest.roster import reps_from_frame
from leadpilot.synth import expected_conversions, generate_world
from leadpilot.synth.truth import GroundTruthScorer

N_NEW_LEADS = 1500


def run_world(
    world_seed: int, cap_scale: float, replications: int, fairness_penalty: float | None = None
) -> dict[str, Any]:
    """Truth and each design's estimates on one world, over ``replications`` routing seeds
    (which also draw the switchback blocks)."""
    started = time.process_time()
    world = generate_world(n_leads=3000, n_reps=8, n_new_leads=N_NEW_LEADS, seed=world_seed)
    result = compare_designs(
        world.new_leads,
        reps_from_frame(world.reps),
        GroundTruthScorer(world.truth),
        lambda leads, rep_ids: expected_conversions(world, leads, rep_ids),
        history=world.history,
        cap_scale=cap_scale,
        replications=replications,
        fairness_penalty=fairness_penalty,
    )
    cpu = time.process_time() - started
    print(f"  world {world_seed} caps x{cap_scale}: {cpu:.0f} s CPU", file=sys.stderr)
    return {
        "world": world_seed,
        "cap_scale": cap_scale,
        "truth": result.truth,
        "estimates": result.estimates,
        "unassigned": result.unassigned,
        "cpu_seconds": cpu,
    }


def _pts(values: list[float]) -> str:
    """Mean and standard error over replications, in percentage points."""
    arr = 100 * np.asarray(values)
    se = arr.std(ddof=1) / math.sqrt(len(arr)) if len(arr) > 1 else math.nan
    return f"{arr.mean():+.2f} ± {se:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", type=int, default=0)
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--cap-scale", type=float, nargs="+", default=[0.8, 3.0])
    parser.add_argument(
        "--fairness-penalty",
        type=float,
        default=None,
        help="override the policy's fairness penalty (0: no fairness band)",
    )
    args = parser.parse_args()
    rows = [
        run_world(args.world, c, args.replications, args.fairness_penalty) for c in args.cap_scale
    ]
    print(
        "| daily caps | true lift (pts) | "
        + " | ".join(f"{n}: estimate / 95% CI covers truth" for n in RANDOMIZED)
        + " | unassigned (all predictive) |"
    )
    print("|---" * (3 + len(RANDOMIZED)) + "|")
    for r in rows:
        cells = []
        for n in RANDOMIZED:
            est = r["estimates"][n]
            covers = sum(lo <= t <= hi for (_, lo, hi), t in zip(est, r["truth"], strict=True))
            cells.append(f"{_pts([e[0] for e in est])} / {covers} of {len(est)}")
        print(
            f"| x{r['cap_scale']} | {_pts(r['truth'])} | "
            + " | ".join(cells)
            + f" | {r['unassigned']:.1%} |"
        )
    print(
        "\n(mean ± standard error over routing seeds, in percentage points of conversion; "
        f"world {args.world}, {N_NEW_LEADS} leads over 20 business days, 8 reps)"
    )


if __name__ == "__main__":
    main()
