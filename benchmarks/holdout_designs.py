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
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np

from leadpilot.evaluate.contrast import contrast
from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
from leadpilot.policy.batch import route_batch
from leadpilot.policy.inputs import router_inputs
from leadpilot.policy.policy_file import Policy, default_policy
from leadpilot.schema import Decision
from leadpilot.synth import expected_conversions, generate_world
from leadpilot.synth.truth import GroundTruthScorer

N_NEW_LEADS = 1500
DESIGNS: dict[str, dict[str, Any]] = {
    "all predictive": {"holdout": 0.0},
    "all holdout": {"holdout": 1.0},
    "per-lead 50%": {"holdout": 0.5},
    "switchback daily": {
        "holdout": 0.5,
        "holdout_design": "switchback",
        "switchback": {"block_minutes": 1440, "washout_minutes": 0},
    },
    "switchback hourly": {
        "holdout": 0.5,
        "holdout_design": "switchback",
        "switchback": {"block_minutes": 60, "washout_minutes": 10},
    },
}


def _policy(
    base: Policy, settings: dict[str, Any], seed: int, fairness_penalty: float | None
) -> Policy:
    predictive = base.predictive.model_dump()
    predictive.update(settings, shadow_prices=False)
    if "switchback" in settings:
        predictive["switchback"] = {**settings["switchback"], "seed": seed}
    document = {**base.model_dump(), "predictive": predictive}
    if fairness_penalty is not None:
        document["fairness"] = {**document["fairness"], "penalty": fairness_penalty}
    return Policy.model_validate(document)


def _estimate(decisions: list[Decision], value: np.ndarray) -> tuple[float, float, float]:
    """(estimate, ci_low, ci_high) of treated minus control from the decisions' tags."""
    sums: dict[tuple[bool, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for d, v in zip(decisions, value, strict=True):
        arm = next((c for c in d.reasons if c.startswith("SWITCHBACK_")), None)
        if arm is not None:
            if "WASHOUT" in d.reasons:
                continue
            treated, unit = arm.startswith("SWITCHBACK_ON"), arm.partition(":")[2]
        elif d.rep_id is not None and d.candidates:
            treated, unit = "HOLDOUT" not in d.reasons, d.lead_id
        else:
            continue  # nobody could take the lead: no arm was drawn
        acc = sums[(treated, unit)]
        acc[0] += v
        acc[1] += 1
    arms: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for (treated, _), (y, n) in sums.items():
        arms[treated][0].append(y)
        arms[treated][1].append(n)
    c = contrast(*arms[True], *arms[False])
    return c.difference, c.ci_low or math.nan, c.ci_high or math.nan


def run_world(
    world_seed: int, cap_scale: float, replications: int, fairness_penalty: float | None = None
) -> dict[str, Any]:
    """Truth and each design's estimates on one world, over ``replications`` routing seeds
    (which also draw the switchback blocks)."""
    started = time.process_time()
    world = generate_world(n_leads=3000, n_reps=8, n_new_leads=N_NEW_LEADS, seed=world_seed)
    reps = [
        dataclasses.replace(
            r,
            max_leads_per_day=max(1, round((r.max_leads_per_day or 0) * cap_scale)),
            max_open_leads=None,
        )
        for r in reps_from_frame(world.reps)
    ]
    leads = leads_from_frame(world.new_leads)
    history = leads_from_frame(world.history)
    scorer = GroundTruthScorer(world.truth)
    base = default_policy(reps)
    ids = list(world.new_leads["lead_id"])
    truths: list[float] = []
    estimates: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    unassigned: dict[str, list[float]] = defaultdict(list)
    for seed in range(replications):
        values = {}
        for name, settings in DESIGNS.items():
            policy = _policy(base, settings, seed, fairness_penalty)
            inputs = router_inputs(policy, reps, scorer=scorer, history=history)
            decisions = route_batch(leads, inputs, history=history, seed=seed)
            rep_of = {d.lead_id: d.rep_id for d in decisions}
            ec = expected_conversions(world, world.new_leads, [rep_of[i] for i in ids])
            value_of = dict(zip(ids, ec, strict=True))
            values[name] = float(ec.mean())
            unassigned[name].append(float(np.mean([d.rep_id is None for d in decisions])))
            if settings["holdout"] not in (0.0, 1.0):
                per_decision = np.array([value_of[d.lead_id] for d in decisions])
                estimates[name].append(_estimate(decisions, per_decision))
        truths.append(values["all predictive"] - values["all holdout"])
    cpu = time.process_time() - started
    print(f"  world {world_seed} caps x{cap_scale}: {cpu:.0f} s CPU", file=sys.stderr)
    return {
        "world": world_seed,
        "cap_scale": cap_scale,
        "truth": truths,
        "estimates": dict(estimates),
        "unassigned": {k: float(np.mean(v)) for k, v in unassigned.items()},
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
    names = [n for n in DESIGNS if DESIGNS[n]["holdout"] not in (0.0, 1.0)]
    print(
        "| daily caps | true lift (pts) | "
        + " | ".join(f"{n}: estimate / 95% CI covers truth" for n in names)
        + " | unassigned (all predictive) |"
    )
    print("|---" * (3 + len(names)) + "|")
    for r in rows:
        cells = []
        for n in names:
            est = r["estimates"][n]
            covers = sum(lo <= t <= hi for (_, lo, hi), t in zip(est, r["truth"], strict=True))
            cells.append(f"{_pts([e[0] for e in est])} / {covers} of {len(est)}")
        print(
            f"| x{r['cap_scale']} | {_pts(r['truth'])} | "
            + " | ".join(cells)
            + f" | {r['unassigned']['all predictive']:.1%} |"
        )
    print(
        "\n(mean ± standard error over routing seeds, in percentage points of conversion; "
        f"world {args.world}, {N_NEW_LEADS} leads over 20 business days, 8 reps)"
    )


if __name__ == "__main__":
    main()
