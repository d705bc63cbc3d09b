"""Where the trained model loses the router's lift, measured with a synthetic world's truth.

For each world: the share of the true best capacity-feasible lift that the best offline
assignment on the MODEL's probabilities reaches (the router's ceiling with this model), and
the same share after replacing one part of the model's log-odds with the truth's:

- ``rep calibration``: each rep's mean probability error removed (the router compares
  probabilities across reps, so a per-rep bias costs lift);
- ``true rep level``: each rep's average edge over the pool from the truth;
- ``true lead x rep``: the lead-varying part of each rep's edge (the rep-specific effects,
  the comparative advantage the capacity constraints trade on) from the truth.

Then how much of each kind of rep-specific effect in ``truth.json`` the model picked up (the
slope of the model's lead-varying rep edge on the effect, within that rep: 1 = all of it,
0 = none), the per-lead rank correlation of the reps, and a ceiling: the same share when a
learner knows each effect's form and only estimates its size from the history (a per-rep
logistic fit of the amplitudes, the truth's other terms as offset).

    python benchmarks/model_gap.py --kind interactions thin --seeds 0 1 [--leads 80000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np
from _params import literal_params
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.stats import spearmanr

from leadpilot.evaluate.offline import best_assignment
from leadpilot.ingest import leads_from_frame
from leadpilot.synth import generate_world
from leadpilot.synth.kinds import KINDS
from leadpilot.synth.rep_effects import RepEffect, lead_columns

NDF = NDArray[np.float64]


def _logit(p: NDF) -> NDF:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def _sigmoid(z: NDF) -> NDF:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def form_of(effect: RepEffect) -> str:
    """The effect's form in words (``synth.kinds``' six), ``(changes)`` when it drifts."""
    if effect.column == "company_size":
        form = "size sweet spot"
    elif effect.column == "engagement_score":
        form = "engagement step" if effect.curve == "step" else "industry x engagement"
    elif "product" in effect.where:
        form = "product x industry x size"
    elif "region" in effect.where:
        form = "region x size"
    else:
        form = "industry x source"
    return form + (" (changes)" if effect.since or effect.until else "")


def split_edges(z: NDF) -> tuple[NDF, NDF, NDF]:
    """Log-odds ``(n_leads, n_reps)`` as each lead's level (mean over reps), each rep's
    average edge, and the lead-varying rest: ``z = level + rep + rest``."""
    level = z.mean(axis=1, keepdims=True)
    edge = z - level
    rep = edge.mean(axis=0, keepdims=True)
    return level, rep, edge - rep


def share_of_best(p_used: NDF, p_true: NDF, day: Any, cap: Any) -> float:
    """Share of the true best lift over a random rep that the best assignment on
    ``p_used`` reaches, scored by ``p_true``."""
    rows = np.arange(len(p_true))
    best = p_true[rows, best_assignment(p_true, day, cap).rep_index].sum()
    got = p_true[rows, best_assignment(p_used, day, cap).rep_index].sum()
    rr = p_true.mean(axis=1).sum()
    return float((got - rr) / (best - rr))


def _known_form_ceiling(world: Any, active: list[str], p_true: NDF) -> NDF:
    """P with each rep's effects at amplitudes fitted on its history (forms known)."""
    truth, hist = world.truth, world.history
    y = hist["converted"].to_numpy(dtype=float, na_value=np.nan)
    hours = hist["time_to_contact_hours"].to_numpy(dtype=float, na_value=np.nan)
    z_hist = _logit(truth.true_probability_assigned(hist, time_to_contact_hours=hours))
    cols_h = lead_columns(hist, truth._size_bands(hist))
    cols_n = lead_columns(world.new_leads, truth._size_bands(world.new_leads))
    z = _logit(p_true)
    for j, rep in enumerate(active):
        effects = [e for e in truth.rep_effects if e.rep_id == rep]
        if not effects:
            continue
        rows = np.flatnonzero((hist["rep_id"] == rep).to_numpy() & ~np.isnan(y))
        V = np.column_stack([e.values({k: v[rows] for k, v in cols_h.items()}) for e in effects])
        off, yy = z_hist[rows] - V.sum(axis=1), y[rows]

        def loss(b: NDF, V: NDF = V, off: NDF = off, yy: NDF = yy) -> float:
            m = off + V @ b
            return float(np.sum(np.logaddexp(0.0, m) - yy * m) + 0.5 * b @ b)

        b = minimize(loss, np.zeros(V.shape[1])).x
        Vn = np.column_stack([e.values(cols_n) for e in effects])
        z[:, j] += Vn @ b - Vn.sum(axis=1)
    return _sigmoid(z)


def diagnose(
    kind: str, seed: int, params: dict[str, Any], leads: int | None = None
) -> dict[str, Any]:
    from leadpilot.model import ConversionModel  # type: ignore[attr-defined]

    world = generate_world(n_leads=leads, n_reps=20, n_new_leads=2_000, seed=seed, kind=kind)
    active = world.active_rep_ids
    cpu = time.process_time()
    model = ConversionModel(**params).fit(world.history, world.reps)
    cpu = time.process_time() - cpu
    P = np.asarray(model.score_batch(leads_from_frame(world.new_leads), active).p)
    p_true = world.truth.true_probability(world.new_leads, active)
    day, cap = world.new_lead_days(), world.daily_capacity(active)
    zm, zt = _logit(P), _logit(p_true)
    lm, rm, vm = split_edges(zm)
    _, rt, vt = split_edges(zt)
    shares = {
        "model": share_of_best(P, p_true, day, cap),
        "rep calibration": share_of_best(
            np.clip(P - (P - p_true).mean(axis=0), 1e-6, 1 - 1e-6), p_true, day, cap
        ),
        "true rep level": share_of_best(_sigmoid(lm + rt + vm), p_true, day, cap),
        "true lead x rep": share_of_best(_sigmoid(lm + rm + vt), p_true, day, cap),
    }
    if world.truth.rep_effects:
        shares["known forms"] = share_of_best(
            _known_form_ceiling(world, active, p_true), p_true, day, cap
        )
    cols = lead_columns(world.new_leads, world.truth._size_bands(world.new_leads))
    where = {r: j for j, r in enumerate(active)}
    capture: dict[str, list[float]] = defaultdict(list)
    for effect in world.truth.rep_effects:
        j = where.get(effect.rep_id)
        v = effect.values(cols) if j is not None else np.zeros(0)
        v = v - v.mean() if len(v) else v
        if j is not None and float(v @ v) > 1e-9:
            capture[form_of(effect)].append(float(vm[:, j] @ v / (v @ v)))
    rank = [spearmanr(a, b)[0] for a, b in zip(zm[:500], zt[:500], strict=True)]
    return {
        "shares": shares,
        "capture": {k: (float(np.mean(v)), len(v)) for k, v in sorted(capture.items())},
        "rank_corr": float(np.nanmean(rank)),
        "edge_corr": float(np.sum(vm * vt) / np.sqrt(np.sum(vm * vm) * np.sum(vt * vt))),
        "cpu": cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", nargs="+", default=["interactions"], choices=sorted(KINDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--leads", type=int, default=None, help="past leads (default: the kind's)")
    parser.add_argument("--model-param", action="append", default=[], help="name=value")
    args = parser.parse_args()
    params = literal_params(args.model_param)
    for kind in args.kind:
        for seed in args.seeds:
            got = diagnose(kind, seed, params, args.leads)
            shares = ", ".join(f"{k} {v:.1%}" for k, v in got["shares"].items())
            capture = ", ".join(f"{k} {m:.2f} (n={n})" for k, (m, n) in got["capture"].items())
            print(
                f"{kind} seed {seed} (fit {got['cpu']:.0f} s CPU): per-lead rank corr of the "
                f"reps {got['rank_corr']:.2f}, lead x rep edge corr {got['edge_corr']:.2f}"
            )
            print(f"  best assignment's share of the true best lift: {shares}")
            if capture:
                print(f"  effect captured (1 = all): {capture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
