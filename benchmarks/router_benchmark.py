"""Router benchmark: does the default predictive policy beat round-robin on synthetic worlds?

For each seed: a synthetic world (20,000 past leads, 20 reps, 2,000 new leads over 20
business days); route the new leads in arrival order with ``--strategy round_robin`` and with
the default policy (predictive with shadow prices and the fairness band), using the world's
ground truth as the scorer (and a trained model with ``--model``); compare with greedy argmax
and the best capacity-feasible offline assignment, all scored by the ground truth.

Pass criteria (issue #6): predictive captures >= 70% of (best - round_robin), no rep over its
daily cap, every rep's fairness index in 0.8-1.2. ``--kind`` picks the kinds of world
(``leadpilot synth --kind``: additive, interactions, drift, thin; thin has 12,000 past
leads unless ``--leads`` is given); each kind gets its own summary.

    python benchmarks/router_benchmark.py --seeds 0 1 2 3 4 [--model] [--kind interactions drift]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np
from _figures import record
from _params import literal_params
from rich.console import Console

from leadpilot.evaluate.compare import compare_strategies
from leadpilot.synth import generate_world
from leadpilot.synth.kinds import KINDS


def _trained_scorer(world: object, params: dict[str, Any]) -> object:
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]

    return ConversionModel(**params).fit(world.history, world.reps)  # type: ignore[attr-defined]


def _with_model_p(world: Any, scorer: Any, row: dict[str, float]) -> dict[str, float]:
    """Greedy and best offline assignments made on the MODEL's p but scored by the truth:
    how much of the gap is the model's error rather than the router's."""
    from leadpilot.evaluate.offline import best_assignment, greedy_assignment
    from leadpilot.ingest import leads_from_frame

    active = world.active_rep_ids
    leads = leads_from_frame(world.new_leads)
    p_model = np.vstack([scorer.score_candidates(lead, active).p for lead in leads])
    p_true = world.truth.true_probability(world.new_leads, active)
    day, cap = world.new_lead_days(), world.daily_capacity(active)
    gap = row["best"] - row["round_robin"]
    out = {}
    for name, solver in (("model_greedy", greedy_assignment), ("model_best", best_assignment)):
        idx = solver(p_model, day, cap).rep_index
        got = float(p_true[np.flatnonzero(idx >= 0), idx[idx >= 0]].sum())
        out[f"{name}_share"] = (got - row["round_robin"]) / gap
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--model", action="store_true", help="also route with a trained model")
    parser.add_argument(
        "--no-oracle",
        action="store_true",
        help="with --model: skip the oracle arm (it does not depend on the model)",
    )
    parser.add_argument(
        "--leads", type=int, default=None, help="past leads (default: the kind's, 20,000 / 12,000)"
    )
    parser.add_argument("--kind", nargs="+", default=["additive"], choices=sorted(KINDS))
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--new-leads", type=int, default=2_000)
    parser.add_argument(
        "--model-param",
        action="append",
        default=[],
        help="ConversionModel parameter as name=value (Python literal), e.g. refit_all=False",
    )
    args = parser.parse_args()
    params = literal_params(args.model_param)
    out = Console()
    arms = ([] if args.no_oracle and args.model else ["oracle"]) + (["model"] if args.model else [])
    ok = True
    for kind in args.kind:
        ok &= _run_kind(args, params, out, kind, arms)
    out.print("[green]PASS[/]" if ok else "[red]FAIL[/]")
    return 0 if ok else 1


def _run_kind(
    args: argparse.Namespace, params: dict[str, Any], out: Console, kind: str, arms: list[str]
) -> bool:
    rows: dict[str, list[dict[str, float]]] = {arm: [] for arm in arms}
    ok = True
    for seed in args.seeds:
        world = generate_world(
            n_leads=args.leads, n_reps=args.reps, n_new_leads=args.new_leads, seed=seed, kind=kind
        )
        for arm in arms:
            started = time.perf_counter()
            cpu = time.process_time()
            scorer = _trained_scorer(world, params) if arm == "model" else None
            res = compare_strategies(world, scorer)  # type: ignore[arg-type]
            pred = res["predictive"]
            row = {
                "seed": seed,
                "round_robin": res["round_robin"]["expected"],
                "predictive": pred["expected"],
                "greedy": res["greedy"]["expected"],
                "best": res["best"]["expected"],
                "share": pred["share_of_best_lift"],
                "greedy_share": res["greedy"]["share_of_best_lift"],
                "fi_min": pred["fairness"][0],
                "fi_max": pred["fairness"][1],
                "capacity_fi_min": pred["fairness_capacity"][0],
                "capacity_fi_max": pred["fairness_capacity"][1],
                "over_cap": pred["over_cap_rep_days"],
                "unassigned": pred["unassigned"],
                "seconds": time.perf_counter() - started,
                "cpu": time.process_time() - cpu,
            }
            if arm == "model":
                row.update(_with_model_p(world, scorer, row))
            rows[arm].append(row)
            passed = (
                row["share"] >= 0.70
                and row["over_cap"] == 0
                and row["fi_min"] >= 0.8
                and row["fi_max"] <= 1.2
            )
            ok &= passed or arm == "model"
            out.print(
                f"{kind} seed {seed} [{arm}]: RR {row['round_robin']:.1f}  predictive "
                f"{row['predictive']:.1f}  greedy {row['greedy']:.1f}  best {row['best']:.1f}  "
                f"share of best lift {row['share']:.1%} (greedy {row['greedy_share']:.1%})  "
                f"fairness {row['fi_min']:.2f}-{row['fi_max']:.2f}  over-cap rep-days "
                f"{row['over_cap']}  unassigned {row['unassigned']}  "
                f"({row['seconds']:.0f}s, {row['cpu']:.0f}s CPU) {'PASS' if passed else 'FAIL'}"
            )
            if arm == "model":
                out.print(
                    f"  with the model's p, scored by the truth: offline greedy "
                    f"{row['model_greedy_share']:.1%}, offline best {row['model_best_share']:.1%}"
                    " of the true best lift (the router's ceiling with this model)"
                )
    for arm, got in rows.items():
        out.rule(f"{kind}, {arm}: mean (sd) over {len(got)} seeds")
        keys = ["round_robin", "predictive", "greedy", "best", "share", "greedy_share",
                "fi_min", "fi_max", "capacity_fi_min", "capacity_fi_max"]  # fmt: skip
        if arm == "model":
            keys += ["model_greedy_share", "model_best_share"]
        for key in keys:
            values = [r[key] for r in got]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            fmt = ".1%" if "share" in key else ".3f" if key[:2] in ("fi", "pl") else ".1f"
            out.print(f"{key:>13}: {statistics.mean(values):{fmt}} ({sd:{fmt}})")
        out.print(f"{'worst share':>13}: {min(r['share'] for r in got):.1%}")
        cpu_s = sum(r["cpu"] for r in got)
        out.print(f"{'CPU':>13}: {cpu_s:.0f} s ({cpu_s / len(got):.0f} s per seed)")
        share = statistics.mean(r["share"] for r in got)
        record(
            f"router share of the oracle's best lift ({arm} scorer"
            + ("" if kind == "additive" else f", {kind} world")
            + "), seeds "
            + " ".join(str(r["seed"]) for r in got),
            100 * share,
            "%",
            target=">= 70% (oracle)" if arm == "oracle" else None,
            met=share >= 0.70 if arm == "oracle" else None,
            work={"leads": args.new_leads * len(got)},
            cpu_s=cpu_s,
            note=f"worst seed {min(r['share'] for r in got):.1%}, fairness "
            f"{min(r['fi_min'] for r in got):.2f}-{max(r['fi_max'] for r in got):.2f}, "
            f"{sum(r['over_cap'] for r in got)} over-cap rep-days",
        )
    return ok


if __name__ == "__main__":
    sys.exit(main())
