"""How well does the trained model rank reps WITHIN a lead (what routing needs)?

For each seed: a default synthetic world, ``fit_and_evaluate(ConversionModel(), history, reps)``,
then every new lead scored against every active rep with ``score_candidates`` and the same
response hours the router passes (``typical_response_hours(world.history)``, empty queue).
Reports

* ``within_r``: correlation of model and true log-odds after removing each lead's mean over
  reps (the rep-to-rep differences the router acts on), pooled over leads;
* ``best_share``: the best capacity-feasible offline assignment computed on the MODEL's p,
  evaluated on the truth, as a share of the true best lift over round-robin (the router's
  ceiling with this model);
* AUC / Brier of the model and of the logistic-regression baseline on the temporal test slice.

Much faster than ``router_benchmark.py --model`` (no routing)::

    python benchmarks/model_routing_quality.py --seeds 0 1 2 3 4 [--leads 20000]
    python benchmarks/model_routing_quality.py --param n_bags=4  # any constructor parameter
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

from leadpilot.evaluate.offline import best_assignment, round_robin_assignment
from leadpilot.ingest import leads_from_frame
from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
from leadpilot.model.evaluation import fit_and_evaluate
from leadpilot.policy.pricing import typical_response_hours
from leadpilot.synth import generate_world


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(p / (1 - p)))


def measure(
    seed: int, n_leads: int, params: dict[str, Any], hours_from: str = "router"
) -> dict[str, float]:
    """One seed's figures (see the module docstring)."""
    world = generate_world(n_leads=n_leads, seed=seed)
    started = time.perf_counter()
    model = ConversionModel(**params)
    report = fit_and_evaluate(model, world.history, world.reps)
    fit_s = time.perf_counter() - started
    active = world.active_rep_ids
    typical = typical_response_hours(world.history)
    fallback = float(np.median(list(typical.values())))
    hours = np.array([typical.get(r, fallback) for r in active])
    if hours_from == "truth":  # the delays the ground truth scores assignments with
        hours = world.truth.expected_response_hours(active)
    leads = leads_from_frame(world.new_leads)
    p_model = np.vstack(
        [model.score_candidates(x, active, expected_response_hours=hours).p for x in leads]
    )
    p_true = world.truth.true_probability(world.new_leads, active)
    zm, zt = _logit(p_model), _logit(p_true)
    dm = (zm - zm.mean(axis=1, keepdims=True)).ravel()
    dt = (zt - zt.mean(axis=1, keepdims=True)).ravel()
    day, cap = world.new_lead_days(), world.daily_capacity(active)
    rr = round_robin_assignment(p_true, day, cap).expected_conversions
    best = best_assignment(p_true, day, cap).expected_conversions
    idx = best_assignment(p_model, day, cap).rep_index
    got = float(p_true[np.flatnonzero(idx >= 0), idx[idx >= 0]].sum())
    m = report.metrics
    return {
        "within_r": float(np.corrcoef(dm, dt)[0, 1]),
        "slope": float(dm @ dt / (dt @ dt)),
        "best_share": (got - rr) / (best - rr),
        "auc": m["model"]["auc"],
        "auc_logit": m["logistic regression"]["auc"],
        "brier": m["model"]["brier"],
        "brier_logit": m["logistic regression"]["brier"],
        "ece": m["model"].get("ece", float("nan")),
        "fit_s": fit_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument(
        "--hours",
        choices=["router", "truth"],
        default="router",
        help="response hours passed to the model: the router's (history medians) or the truth's",
    )
    parser.add_argument("--param", action="append", default=[], help="name=value (Python)")
    args = parser.parse_args()
    params = literal_params(args.param)
    rows = []
    for seed in args.seeds:
        row = measure(seed, args.leads, params, args.hours)
        rows.append(row)
        print(f"seed {seed}: " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    print("mean (sd, worst):")
    for key in rows[0]:
        vals = [r[key] for r in rows]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"  {key:>12}: {statistics.mean(vals):.4f} ({sd:.4f}, min {min(vals):.4f})")
    seeds = " ".join(str(s) for s in args.seeds)
    share = [r["best_share"] for r in rows]
    record(
        f"offline best assignment on the model's p, share of the true best lift, seeds {seeds}",
        100 * statistics.mean(share),
        "%",
        note=f"worst seed {100 * min(share):.1f}%; the router's ceiling with this model",
    )
    record(
        f"model vs truth, within-lead log-odds correlation, seeds {seeds}",
        statistics.mean(r["within_r"] for r in rows),
        "r",
        note=f"test AUC {statistics.mean(r['auc'] for r in rows):.4f} (logistic regression "
        f"{statistics.mean(r['auc_logit'] for r in rows):.4f})",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
