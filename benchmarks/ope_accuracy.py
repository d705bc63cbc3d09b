"""Off-policy estimates of candidate routing policies vs the synthetic world's truth.

For each world (seeds of the default world at one or more sizes, plus worlds whose
historical assignment rarely explores, so overlap is poor):

1. the history's earlier 60% trains the routing model (``ConversionModel``) and the later
   leads, up to 60 days before the history ends (so every outcome is settled), are replayed;
2. ``LoggingPolicyModel`` estimates the historical assignment's propensities from the whole
   history (segment columns + account owner + each rep's active span), clipped at 0.01;
3. two candidate policies choose a rep for each replayed lead under each rep's daily cap:
   ``greedy`` (the routing model's highest P(convert)) and ``round_robin``;
4. the outcome model the estimates read is cross-fitted (``cross_fitted_reward_matrix``: each
   half of the replayed leads scored by a model trained on the earlier history plus the other
   half), as ``leadpilot simulate`` does;
5. DM / IPS / SNIPS / DR / SWITCH-DR estimate each candidate's conversions per lead with 95%
   bootstrap intervals, next to the truth: the world's true P(convert | lead, rep, delay) of
   each simulated assignment, averaged over the rep's delay distribution (the same draw of
   waiting-for-working-hours plus the rep's own response delay the history was made with),
   summed over the simulated decisions. With exact propensities DR is also computed on the
   noise-free outcomes (each logged lead's true probability instead of its 0/1 outcome): its
   gap to the truth is the error DR would make without outcome noise (bias plus the weights'
   spread over the model's residuals); the rest of DR's error is outcome noise.

A row is flagged "cannot tell to +-10%" when DR's own 95% interval is wider than +-10% of its
estimate: the replayed leads then cannot pin the value to 10% with any unbiased estimator
(DR's variance is mostly the squared weights times the outcomes' Bernoulli noise).

    python benchmarks/ope_accuracy.py                       # 20,000 leads, seeds 0-4 + 2 poor
    python benchmarks/ope_accuracy.py --leads 60000 --seeds 0 1 2 3 4 --poor-seeds
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.evaluate.offline import greedy_assignment, round_robin_assignment
from leadpilot.evaluate.ope import (
    ESTIMATORS,
    DoublyRobust,
    LoggingPolicyModel,
    ReplayData,
    clip_propensity,
    one_hot,
    overlap_diagnostics,
)
from leadpilot.evaluate.replay import cross_fitted_reward_matrix, reward_matrix
from leadpilot.model import ConversionModel  # type: ignore[attr-defined]
from leadpilot.synth import World, expected_conversions, generate_world

CLIP = 0.01
TRAIN_SHARE = 0.6
SETTLE_DAYS = 60
DELAY_DRAWS = 16
POOR_EXPLORE = 0.01
TARGET = 0.10  # the target: within 10% (relative) of the truth


def owners(world: World) -> pd.Series:
    """Each history lead's account owner (by email domain), or None."""
    owner = dict(zip(world.accounts["domain"], world.accounts["owner_rep_id"], strict=True))
    return world.history["domain"].map(owner).astype(object)


def world_arrays(seed: int, n_leads: int, explore: float | None) -> dict[str, np.ndarray]:
    """Everything the estimates read for one world: the routing model's and the cross-fitted
    outcome model's P(convert) (``q``, ``qx``), the estimated logging distribution ``ld``, the
    logged ``action`` / ``reward`` / ``exact`` propensity, each logged lead's true probability
    ``p_logged``, and per candidate its rep positions and per-lead truth."""
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
    early = hist[created < cut]
    model = ConversionModel(n_bags=2).fit(early, world.reps)
    logging = LoggingPolicyModel().fit(hist)
    reps = logging.reps_
    logging_dist = logging.predict_proba(replay)
    q = reward_matrix(model, replay, reps)
    q_eval = cross_fitted_reward_matrix(
        lambda train: ConversionModel(n_bags=2).fit(train, world.reps), replay, early, reps
    )
    day = np.unique(replay["created_at"].dt.floor("D").to_numpy(), return_inverse=True)[1]
    cap = world.daily_capacity(reps)
    ok = logging_dist > 0  # reps taking leads at the time
    assert world.history_propensity is not None
    out = {
        "q": q,
        "qx": q_eval,
        "ld": logging_dist,
        "action": np.searchsorted(np.array(reps), replay["rep_id"].astype(str).to_numpy()),
        "reward": replay["converted"].astype(float).to_numpy(),
        "exact": world.history_propensity[replay_rows],
        "p_logged": expected_conversions(world, replay, list(replay["rep_id"]), draws=DELAY_DRAWS),
    }
    for name, assign in (("greedy", greedy_assignment), ("round_robin", round_robin_assignment)):
        pos = assign(q, day, cap, ok).rep_index
        out[f"pos_{name}"] = pos
        out[f"truth_{name}"] = expected_conversions(
            world, replay, [reps[p] if p >= 0 else None for p in pos], draws=DELAY_DRAWS
        )
    return out


def run_world(
    seed: int, n_leads: int, explore: float | None, arrays_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Rows of the table for one world (one per candidate policy and estimator); with
    ``arrays_dir`` the world's arrays are read from (or saved to) an ``.npz`` there."""
    started = time.perf_counter()
    cached = None
    if arrays_dir is not None:
        cached = arrays_dir / f"s{seed}_n{n_leads}_e{explore}.npz"
    if cached is not None and cached.exists():
        a = dict(np.load(cached))
    else:
        a = world_arrays(seed, n_leads, explore)
        if cached is not None:
            np.savez(cached, **a)
    action, reward, logging_dist, q_eval = a["action"], a["reward"], a["ld"], a["qx"]
    n, k = logging_dist.shape
    pscore = clip_propensity(logging_dist[np.arange(n), action], CLIP)
    rows = []
    for name, (source, ps) in itertools.product(
        ("greedy", "round_robin"), (("exact", a["exact"]), ("estimated", pscore))
    ):
        positions = a[f"pos_{name}"]
        data = ReplayData(action, reward, ps, one_hot(positions, k), q_eval)
        diag = overlap_diagnostics(data, logging_dist)
        truth = float(a[f"truth_{name}"].mean())
        noise_free = DoublyRobust().estimate_policy_value(
            ReplayData(action, a["p_logged"], ps, one_hot(positions, k), q_eval)
        )
        for est_name, est in ESTIMATORS.items():
            if source == "exact" and est_name == "dm":
                continue  # DM uses no propensities
            iv = est().estimate_interval(data, n_bootstrap=400, random_state=seed)
            rows.append(
                {
                    "world": f"seed {seed}" + ("" if explore is None else f", explore {explore}"),
                    "leads": n_leads,
                    "dr_noise_free_error": noise_free / truth - 1,
                    "half_width": iv.relative_half_width,
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
                    "logged_truth": float(a["p_logged"].mean()),
                    "logged_rate": reward.mean(),
                }
            )
    print(f"  world seed {seed} explore {explore} leads {n_leads}: "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
    return rows


def _fmt(r: dict[Any, Any]) -> str:
    mark = "" if r["covers"] else "*"
    return f"{r['rate']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f}){mark} {r['rel_error']:+.0%}"


def _print(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    print(
        "| world | history leads | policy | replayed | truth | DM | IPS | SNIPS | DR (exact p) | "
        "DR (estimated p) | SWITCH-DR | DR error without outcome noise (exact p) | "
        "DR +- / can tell 10%? | "
        "ESS | verdict |"
    )
    print("|---" * 15 + "|")
    for (world, leads, policy), g in frame.groupby(["world", "leads", "policy"], sort=False):
        cell = {(r["estimator"], r["propensity"]): r for r in g.to_dict("records")}
        dr = cell[("dr", "estimated")]
        can = dr["half_width"] <= TARGET
        needed = int(np.ceil(dr["n"] * (dr["half_width"] / TARGET) ** 2))
        tell = "yes" if can else f"**no** (~{needed:,} replayed leads would)"
        print(
            f"| {world} | {leads:,} | {policy} | {dr['n']:,} | {dr['truth']:.3f} "
            f"| {_fmt(cell[('dm', 'estimated')])} | {_fmt(cell[('ips', 'estimated')])} "
            f"| {_fmt(cell[('snips', 'estimated')])} | {_fmt(cell[('dr', 'exact')])} "
            f"| {_fmt(dr)} | {_fmt(cell[('switch_dr', 'estimated')])} "
            f"| {cell[('dr', 'exact')]['dr_noise_free_error']:+.1%} "
            f"| +-{dr['half_width']:.0%} / {tell} | {dr['ess']:.0f} | {dr['verdict']} |"
        )
    print(
        "\n(estimated propensities unless marked exact; * = the 95% interval misses the "
        "truth; percentages = relative error)"
    )


def _summary(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    frame["overlap"] = np.where(frame["world"].str.contains("explore"), "poor", "default")
    # a row "can tell" when DR's own interval (estimated propensities) is within +-10%
    dr = frame[(frame["estimator"] == "dr") & (frame["propensity"] == "estimated")]
    can = dict(zip(zip(dr["world"], dr["leads"], dr["policy"], strict=True),
                   dr["half_width"] <= TARGET, strict=True))  # fmt: skip
    frame["can_tell"] = [can[k] for k in zip(frame["world"], frame["leads"], frame["policy"],
                                             strict=True)]  # fmt: skip
    print("\nSummary: rows within 10% of the truth; intervals covering it; rows that can tell:")
    keys = ["overlap", "leads", "estimator", "propensity"]
    for (overlap, leads, est, source), g in frame.groupby(keys, sort=False):
        within = g["rel_error"].abs() <= TARGET
        told = g[g["can_tell"]]
        print(
            f"  {overlap:7s} {leads:>7,} {est:9s} {source:9s}: within 10% {int(within.sum())}/"
            f"{len(g)}; covers {int(g['covers'].sum())}/{len(g)}; mean |error| "
            f"{g['rel_error'].abs().mean():.1%}; rows that can tell +-10%: {len(told)}, of "
            f"them within 10% {int((told['rel_error'].abs() <= TARGET).sum())}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--poor-seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--leads", type=int, nargs="+", default=[20_000])
    parser.add_argument(
        "--arrays",
        type=Path,
        default=None,
        help="folder caching each world's arrays (.npz): re-estimate without re-simulating",
    )
    args = parser.parse_args()
    started = time.process_time()
    rows: list[dict[str, Any]] = []
    for leads in args.leads:
        for seed in args.seeds:
            rows += run_world(seed, leads, None, args.arrays)
        for seed in args.poor_seeds:
            rows += run_world(seed, leads, POOR_EXPLORE, args.arrays)
    _print(rows)
    _summary(rows)
    print(f"\n{time.process_time() - started:.0f} s CPU")


if __name__ == "__main__":
    main()
