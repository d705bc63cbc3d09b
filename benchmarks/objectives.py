"""Objectives benchmark: what does ``objective: pipeline_value`` buy, and what does it cost?

For each seed: a synthetic world whose deal sizes vary with the rep and the segment
(``deal_values="rep_segment"``: 8,000 past leads, 10 reps, 500 new leads over 20 business
days); route the new leads with the default policy under ``objective: conversions`` and under
``objective: pipeline_value`` (the batch router, shadow prices and the fairness band), with
P(convert) from the world's truth and the deal values either from the truth (oracle) or
learnt from the history (``model.value.fit_value_model``); score every arm's decisions with
the truth: expected conversions, pipeline value (P(convert) x E(deal)) and won revenue.

Reported per variant: the mean change of pipeline value and of conversions (value objective
against conversions objective, paired by seed) with a 95% t-interval across seeds, and the
CPU seconds per routed lead.

    python benchmarks/objectives.py --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _figures import record
from rich.console import Console
from rich.table import Table
from scipy import stats

from leadpilot.model.value import fit_value_model
from leadpilot.synth import generate_world
from leadpilot.synth.objectives import compare_objectives

N_LEADS, N_REPS, N_NEW_LEADS = 8_000, 10, 500


def _interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval across seeds."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--leads", type=int, default=N_LEADS, help="past leads per world")
    parser.add_argument("--reps", type=int, default=N_REPS)
    parser.add_argument("--new-leads", type=int, default=N_NEW_LEADS)
    args = parser.parse_args()
    console = Console()
    rows: dict[str, dict[str, list[float]]] = {
        v: {"value": [], "conv": [], "won": [], "fair_low": []} for v in ("oracle", "learnt")
    }
    cpu = 0.0
    routed = 0
    for seed in args.seeds:
        world = generate_world(
            n_leads=args.leads,
            n_reps=args.reps,
            n_new_leads=args.new_leads,
            seed=seed,
            deal_values="rep_segment",
        )
        for variant in ("oracle", "learnt"):
            start = time.process_time()
            values = fit_value_model(world.history) if variant == "learnt" else None
            arms = compare_objectives(
                world,
                objectives=("conversions", "pipeline_value"),
                value_model=values,
                seed=seed,
            )
            cpu += time.process_time() - start
            routed += 2 * args.new_leads
            conv, pipe = arms["conversions"], arms["pipeline_value"]
            out = rows[variant]
            out["value"].append(pipe.pipeline_value / conv.pipeline_value - 1)
            out["conv"].append(pipe.conversions / conv.conversions - 1)
            out["won"].append(pipe.won_revenue / conv.won_revenue - 1)
            out["fair_low"].append(min(pipe.fairness[0], conv.fairness[0]))
            console.print(
                f"seed {seed} {variant}: pipeline value {out['value'][-1]:+.1%}, "
                f"conversions {out['conv'][-1]:+.1%}, won revenue {out['won'][-1]:+.1%}"
            )
    table = Table(
        title=f"objective: pipeline_value vs conversions, {len(args.seeds)} seeds "
        "(mean, 95% interval across seeds)"
    )
    for col in ("deal values", "pipeline value", "conversions", "won revenue", "lowest fairness"):
        table.add_column(col, justify="left" if col == "deal values" else "right")
    for variant, out in rows.items():
        cells = []
        for key in ("value", "conv", "won"):
            mean, lo, hi = _interval(out[key])
            cells.append(f"{mean:+.1%} ({lo:+.1%} to {hi:+.1%})")
            record(
                f"objectives.{variant}.{key}_change",
                mean,
                "relative change",
                note=(
                    f"95% interval across {len(args.seeds)} seeds: {lo:+.3f} to {hi:+.3f}"
                    if len(args.seeds) > 1
                    else "1 seed: no interval across seeds (the deep tier runs 4)"
                ),
            )
        table.add_row(variant, *cells, f"{min(out['fair_low']):.2f}")
    console.print(table)
    per_lead = cpu / max(routed, 1)
    record(
        "objectives.cpu_per_routed_lead",
        per_lead * 1000,
        "ms CPU per routed lead (incl. world scoring and value fit)",
        work={"leads": routed},
        cpu_s=cpu,
    )
    console.print(
        f"CPU {cpu:.1f} s for {routed:,} routed leads ({per_lead * 1000:.1f} ms per lead, "
        "including the truth's scoring and, for 'learnt', fitting the value model)."
    )


if __name__ == "__main__":
    main()
