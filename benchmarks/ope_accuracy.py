"""Off-policy estimates of candidate routing policies vs the synthetic world's truth.

For each world (seeds of the default world, plus worlds whose historical assignment rarely
explores, so overlap is poor):

1. the history's earlier 60% trains the outcome model (``ConversionModel``) and the later
   leads, up to 60 days before the history ends (so every outcome is settled), are replayed;
2. ``LoggingPolicyModel`` estimates the historical assignment's propensities from the whole
   history (segment columns + account owner + each rep's active span), clipped at 0.01;
3. two candidate policies choose a rep for each replayed lead under each rep's daily cap:
   ``greedy`` (the model's highest P(convert)) and ``round_robin``;
4. DM / IPS / SNIPS / DR estimate each candidate's conversions per lead with 95% bootstrap
   intervals, next to the truth: the world's true P(convert | lead, rep, delay) of each
   simulated assignment, averaged over the rep's delay distribution (the same draw of
   waiting-for-working-hours plus the rep's own response delay the history was made with),
   summed over the simulated decisions.

    python benchmarks/ope_accuracy.py                   # seeds 0-4 and two poor-overlap worlds
    python benchmarks/ope_accuracy.py --seeds 0 --poor-seeds
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.evaluate.offline import greedy_assignment, round_robin_assignment
from leadpilot.evaluate.ope import (
    ESTIMATORS,
    LoggingPolicyModel,
    ReplayData,
    clip_propensity,
    one_hot,
    overlap_diagnostics,
)
from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
from leadpilot.synth import World, expected_conversions, generate_world

CLIP = 0.01
TRAIN_SHARE = 0.6
SETTLE_DAYS = 60
DELAY_DRAWS = 16
POOR_EXPLORE = 0.01


def owners(world: World) -> pd.Series:
    """Each history lead's account owner (by email domain), or None."""
    owner = dict(zip(world.accounts["domain"], world.accounts["owner_rep_id"], strict=True))
    return world.history["domain"].map(owner).astype(object)


def true_rate(world: World, frame: pd.DataFrame, rep_ids: list[str | None]) -> float:
    """Expected conversions per lead of ``rep_ids`` on ``frame`` (unassigned leads: 0)."""
    return float(expected_conversions(world, frame, rep_ids, draws=DELAY_DRAWS).mean())


def run_world(seed: int, n_leads: int, explore: float | None) -> list[dict[str, Any]]:
    """Rows of the table for one world (one per candidate policy and estimator)."""
    started = time.perf_counter()
    kwargs = {} if explore is None else {"explore_share": explore}
    world = generate_world(n_leads=n_leads, n_reps=20, n_new_leads=1000, seed=seed, **kwargs)
    hist = world.history.copy()
    hist["owner_rep_id"] = owners(world)
    created = hist["created_at"]
    cut = created.quantile(TRAIN_SHARE)
    end = created.max() - pd.Timedelta(days=SETTLE_DAYS)
    keep = (created >= cut) & (created <= end) & hist["converted"].notna()
    replay_rows = np.flatnonzero(keep.to_numpy())
    replay = hist[keep].reset_index(drop=True)
    model = ConversionModel(n_bags=2).fit(hist[created < cut], world.reps)
    logging = LoggingPolicyModel().fit(hist)
    reps = logging.reps_
    logging_dist = logging.predict_proba(replay)
    n, k = len(replay), len(reps)
    pairs = replay.loc[np.repeat(np.arange(n), k)].reset_index(drop=True)
    pairs["rep_id"] = np.tile(reps, n)
    pairs = pairs.drop(columns=["time_to_contact_hours", "first_contact_at"])
    q = model.predict_proba(pairs).reshape(n, k)
    action = np.searchsorted(np.array(reps), replay["rep_id"].astype(str).to_numpy())
    reward = replay["converted"].astype(float).to_numpy()
    pscore = clip_propensity(logging_dist[np.arange(n), action], CLIP)
    day = np.unique(replay["created_at"].dt.floor("D").to_numpy(), return_inverse=True)[1]
    cap = world.daily_capacity(reps)
    ok = logging_dist > 0  # reps taking leads at the time
    candidates = {
        "greedy": greedy_assignment(q, day, cap, ok).rep_index,
        "round_robin": round_robin_assignment(q, day, cap, ok).rep_index,
    }
    logged_truth = true_rate(world, replay, list(replay["rep_id"]))
    assert world.history_propensity is not None
    exact = world.history_propensity[replay_rows]
    rows = []
    for (name, positions), (source, ps) in itertools.product(
        candidates.items(), (("exact", exact), ("estimated", pscore))
    ):
        data = ReplayData(action, reward, ps, one_hot(positions, k), q)
        diag = overlap_diagnostics(data, logging_dist)
        truth = true_rate(world, replay, [reps[p] if p >= 0 else None for p in positions])
        for est_name, est in ESTIMATORS.items():
            if source == "exact" and est_name == "dm":
                continue  # DM uses no propensities
            iv = est().estimate_interval(data, n_bootstrap=400, random_state=seed)
            rows.append(
                {
                    "world": f"seed {seed}" + ("" if explore is None else f", explore {explore}"),
                    "policy": name,
                    "propensity": source,
                    "estimator": est_name,
                    "truth": truth,
                    "rate": iv.rate,
                    "ci_low": iv.ci_low,
                    "ci_high": iv.ci_high,
                    "rel_error": iv.rate / truth - 1,
                    "covers": iv.ci_low <= truth <= iv.ci_high,
                    "ess": diag.ess,
                    "unsupported": diag.unsupported_share,
                    "verdict": diag.verdict,
                    "n": n,
                    "logged_truth": logged_truth,
                    "logged_rate": reward.mean(),
                }
            )
    print(f"  world seed {seed} explore {explore}: {time.perf_counter() - started:.0f} s",
          file=sys.stderr)  # fmt: skip
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    print(
        "| world | policy | replayed leads | truth | DM | IPS (exact / estimated p) | "
        "SNIPS (exact / est.) | DR (exact / est.) | ESS (est.) | unsupported | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    for (world, policy), g in frame.groupby(["world", "policy"], sort=False):
        cell = {(r["estimator"], r["propensity"]): r for r in g.to_dict("records")}
        est = cell[("dr", "estimated")]

        def fmt(r: dict[str, Any]) -> str:
            mark = "" if r["covers"] else "*"
            ci = f"({r['ci_low']:.3f}-{r['ci_high']:.3f})"
            return f"{r['rate']:.3f} {ci}{mark} {r['rel_error']:+.0%}"

        print(
            f"| {world} | {policy} | {est['n']:,} | {est['truth']:.3f} "
            f"| {fmt(cell[('dm', 'estimated')])} "
            + "".join(
                f"| {fmt(cell[(e, 'exact')])} / {fmt(cell[(e, 'estimated')])} "
                for e in ("ips", "snips", "dr")
            )
            + f"| {est['ess']:.0f} | {est['unsupported']:.1%} | {est['verdict']} |"
        )
    print("\n(* = the 95% interval misses the truth; percentages = relative error)")


def _summary(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    frame["poor"] = frame["world"].str.contains("explore")
    print("\nSummary (|relative error|: mean / worst; interval coverage):")
    for (poor, est, source), g in frame.groupby(["poor", "estimator", "propensity"], sort=False):
        err = g["rel_error"].abs()
        print(
            f"  {'poor overlap' if poor else 'default     '} {est:5s} {source:9s}: "
            f"{err.mean():.1%} / {err.max():.1%}; covers {int(g['covers'].sum())}/{len(g)}; "
            f"verdicts {dict(g['verdict'].value_counts())}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--poor-seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--leads", type=int, default=20_000)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        rows += run_world(seed, args.leads, None)
    for seed in args.poor_seeds:
        rows += run_world(seed, args.leads, POOR_EXPLORE)
    _print(rows)
    _summary(rows)


if __name__ == "__main__":
    main()
