"""Off-policy estimates of candidate routing policies vs the synthetic world's truth.

For each world (seeds at one or more sizes, plus worlds whose historical assignment rarely
explores, so overlap is poor):

1. the history's earlier 60% trains the routing model (``ConversionModel``) and the later
   leads, up to 60 days before the history ends (so every outcome is settled), are replayed;
2. ``LoggingPolicyModel`` estimates the historical assignment's propensities from the whole
   history (segment columns + account owner + each rep's active span), clipped at 0.01;
3. two candidate policies choose a rep for each replayed lead under each rep's daily cap, as
   leadpilot's router orders it: an ownership hold first (the account's owner, when taking
   leads and under cap), else the pool's strategy: ``greedy`` (the routing model's highest
   P(convert)) or ``round_robin``;
4. the outcome model the estimates read is cross-fitted (``cross_fitted_reward_matrix``: each
   half of the replayed leads scored by a model trained on the earlier history plus the other
   half), as ``leadpilot simulate`` does;
5. DM / IPS / SNIPS / DR / SNDR / DRos / SWITCH-DR estimate each candidate's conversions per
   lead with 95% bootstrap intervals, next to the truth: the world's true
   P(convert | lead, rep, delay) of each simulated assignment, averaged over the rep's delay
   distribution (the same draw of waiting-for-working-hours plus the rep's own response delay
   the history was made with), summed over the simulated decisions.

Two kinds of world (``--kinds``):

- ``pools`` (the default): a team that routes by segment, as examples/policy.yaml does
  (1-200 employees to the inbound SDRs, 201-1000 to the mid-market AEs, 1001+ to
  enterprise): the history was assigned inside each lead's pool (``generate_world(...,
  history_pools=True)``) and the candidates choose inside the same pool; holds on (they are
  on by default in every leadpilot policy).
- ``all``: this benchmark's first world: history and candidates range over every active rep
  (leadpilot's default policy is one pool of all reps) and the candidates ignore holds
  (``greedy`` / ``round_robin``); ``greedy+holds`` / ``round_robin+holds`` add them.

Each row also gives the efficiency bound: the narrowest 95% interval any unbiased estimator
can have on those leads (with the exact propensities and the world's true probabilities),
which DR reaches with the true outcome model; and the history size at which that bound is
+-10% (it shrinks as 1 / sqrt(leads)). The reps' daily caps scale with the history
(``new_leads_for``): a larger world is the same 20 reps over the same 18 months with caps
sized to its volume, not a team that can take a third of its leads.

    python benchmarks/ope_accuracy.py                       # 20,000 leads, seeds 0-4 + poor 0-4
    python benchmarks/ope_accuracy.py --leads 20000 60000 --arrays DIR   # two sizes, cached
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _figures import record

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
from leadpilot.synth.history import segment_pool_members

CLIP = 0.01
TRAIN_SHARE = 0.6
SETTLE_DAYS = 60
DELAY_DRAWS = 16
POOR_EXPLORE = 0.01
# A poor-overlap history also sticks to the managers' beliefs (scores x 4): inside a pool of
# 4-9 reps a soft belief alone spreads the leads almost as widely as random exploration.
POOR_SHARPNESS = 4.0
TARGET = 0.10  # the target: within 10% (relative) of the truth
Z95 = 1.959963984540054


def owners(world: World) -> pd.Series:
    """Each history lead's account owner (by email domain), or None."""
    owner = dict(zip(world.accounts["domain"], world.accounts["owner_rep_id"], strict=True))
    return world.history["domain"].map(owner).astype(object)


def new_leads_for(n_leads: int) -> int:
    """The world's new-lead count, which sets the reps' daily caps: one twentieth of the
    history, so a larger history has proportionally larger caps (with a fixed 1,000 a
    60,000-lead history left two thirds of the replayed leads without a rep)."""
    return max(1_000, n_leads // 20)


def assign_with_holds(
    strategy: str,
    q: np.ndarray,
    day: np.ndarray,
    cap: np.ndarray,
    ok: np.ndarray,
    owner: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """Rep position per lead (-1: nobody) as leadpilot's router orders it: an ownership hold
    first (the account's owner, whatever their pool, when ``active`` (taking leads) then and
    under today's cap), else the pool's strategy among the eligible (``ok``) reps under
    today's cap (``greedy``: the highest ``q``; ``round_robin``: the next rep in rotation).
    ``owner`` -1: no hold."""
    n, k = q.shape
    out = np.full(n, -1, dtype=np.int64)
    used = np.zeros(k, dtype=np.int64)
    cursor, today = 0, None
    owner_ok = (owner >= 0) & active[np.arange(n), np.maximum(owner, 0)]
    for i in range(n):
        if day[i] != today:
            today, used[:] = day[i], 0
        if owner_ok[i] and used[owner[i]] < cap[owner[i]]:
            out[i] = owner[i]
        elif strategy == "greedy":
            score = np.where(ok[i] & (used < cap), q[i], -np.inf)
            r = int(np.argmax(score))
            out[i] = r if np.isfinite(score[r]) else -1
        else:
            for step in range(k):
                r = (cursor + step) % k
                if ok[i, r] and used[r] < cap[r]:
                    out[i], cursor = r, r + 1
                    break
        if out[i] >= 0:
            used[out[i]] += 1
    return out


# The candidates each kind of world replays: (name, strategy, within the lead's segment pool,
# honouring ownership holds). "all" is the world this benchmark used first: the history and
# the candidates range over every active rep and ignore holds; its "+holds" rows are
# leadpilot's default policy (one pool of all reps, holds on by default). "pools" is a team
# routing by segment, history and candidates alike, holds on (as examples/policy.yaml).
CANDIDATES: dict[str, tuple[tuple[str, str, bool, bool], ...]] = {
    "all": (
        ("greedy", "greedy", False, False),
        ("round_robin", "round_robin", False, False),
        ("greedy+holds", "greedy", False, True),
        ("round_robin+holds", "round_robin", False, True),
    ),
    "pools": (
        ("greedy", "greedy", True, True),
        ("round_robin", "round_robin", True, True),
    ),
}


def world_arrays(
    seed: int, n_leads: int, explore: float | None, kind: str = "pools"
) -> dict[str, np.ndarray]:
    """Everything the estimates read for one world: the routing model's and the cross-fitted
    outcome model's P(convert) (``q``, ``qx``), the estimated logging distribution ``ld``, the
    logged ``action`` / ``reward`` / ``exact`` propensity, each logged lead's true probability
    ``p_logged``, and per candidate its rep positions and per-lead truth."""
    kwargs: dict[str, Any] = {}
    if explore is not None:
        kwargs = {"explore_share": explore, "belief_sharpness": POOR_SHARPNESS}
    world = generate_world(
        n_leads=n_leads,
        n_reps=20,
        n_new_leads=new_leads_for(n_leads),
        seed=seed,
        history_pools=kind == "pools",
        **kwargs,
    )
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
        lambda train, like: ConversionModel(n_bags=2).fit(train, world.reps, like=like),
        replay,
        early,
        reps,
        share_choices=True,  # as simulate: the second fold reuses the first's choices
    )
    day = np.unique(replay["created_at"].dt.floor("D").to_numpy(), return_inverse=True)[1]
    cap = world.daily_capacity(reps)
    ok = logging_dist > 0  # reps taking leads at the time
    roles = world.reps.set_index("rep_id").loc[reps, "role"].to_numpy()
    in_pool = segment_pool_members(replay["size_band"], roles)
    owner = np.array([reps.index(o) if o in reps else -1 for o in replay["owner_rep_id"]])
    assert world.history_propensity is not None
    out = {
        "q": q,
        "qx": q_eval,
        "ld": logging_dist,
        "action": np.searchsorted(np.array(reps), replay["rep_id"].astype(str).to_numpy()),
        "reward": replay["converted"].astype(float).to_numpy(),
        "exact": world.history_propensity[replay_rows],
        "p_logged": expected_conversions(world, replay, list(replay["rep_id"]), draws=DELAY_DRAWS),
        "owner": owner,
    }
    for name, strategy, pooled, holds in CANDIDATES[kind]:
        eligible = ok & in_pool if pooled else ok
        pos = assign_with_holds(
            strategy, q, day, cap, eligible, owner if holds else np.full(len(owner), -1), ok
        )
        out[f"pos_{name}"] = pos
        out[f"truth_{name}"] = expected_conversions(
            world, replay, [reps[p] if p >= 0 else None for p in pos], draws=DELAY_DRAWS
        )
    return out


def load_arrays(
    seed: int, n_leads: int, explore: float | None, kind: str, arrays_dir: Path | None
) -> dict[str, np.ndarray]:
    """The world's arrays, read from (or saved to) ``arrays_dir`` when given."""
    cached = None
    if arrays_dir is not None:
        poor = "" if explore is None else f"x{POOR_SHARPNESS}"
        cached = arrays_dir / f"{kind}_s{seed}_n{n_leads}_e{explore}{poor}.npz"
    if cached is not None and cached.exists():
        return dict(np.load(cached))
    started = time.process_time()
    a = world_arrays(seed, n_leads, explore, kind)
    print(f"  world {kind} seed {seed} explore {explore} leads {n_leads}: "
          f"{time.process_time() - started:.0f} s CPU", file=sys.stderr)  # fmt: skip
    if cached is not None:
        np.savez(cached, **a)
    return a


def _poor_label(explore: float | None) -> str:
    return "" if explore is None else f", explore {explore}, beliefs x{POOR_SHARPNESS:g}"


def efficiency_bound(w: np.ndarray, p_logged: np.ndarray, truth_lead: np.ndarray) -> float:
    """The smallest relative 95% half-width any unbiased estimator can have on these leads
    (with the exact propensities): 1.96 sqrt((Var(v(x)) + E[w^2 p(1 - p)]) / n) / V, the
    semiparametric efficiency bound of a policy value, which DR attains with the true outcome
    model; ``v(x)`` the candidate's true P(convert) per lead, ``p`` the logged rep's."""
    n = len(w)
    var = float(np.var(truth_lead) + np.mean(w**2 * p_logged * (1 - p_logged)))
    return Z95 * np.sqrt(var / n) / float(truth_lead.mean())


def run_world(
    seed: int,
    n_leads: int,
    explore: float | None,
    kind: str = "pools",
    arrays_dir: Path | None = None,
    n_bootstrap: int = 400,
) -> list[dict[str, Any]]:
    """Rows of the table for one world (one per candidate policy, propensity source and
    estimator)."""
    a = load_arrays(seed, n_leads, explore, kind, arrays_dir)
    action, reward, logging_dist, q_eval = a["action"], a["reward"], a["ld"], a["qx"]
    n, k = logging_dist.shape
    pscore = clip_propensity(logging_dist[np.arange(n), action], CLIP)
    rows = []
    names = [c[0] for c in CANDIDATES[kind]]
    for name, (source, ps) in itertools.product(
        names, (("exact", a["exact"]), ("estimated", pscore))
    ):
        positions = a[f"pos_{name}"]
        dist = one_hot(positions, k)
        data = ReplayData(action, reward, ps, dist, q_eval)
        diag = overlap_diagnostics(data, logging_dist)
        truth = float(a[f"truth_{name}"].mean())
        noise_free = DoublyRobust().estimate_policy_value(
            ReplayData(action, a["p_logged"], ps, dist, q_eval)
        )
        w_exact = dist[np.arange(n), action] / a["exact"]
        bound = efficiency_bound(w_exact, a["p_logged"], a[f"truth_{name}"])
        for est_name, est in ESTIMATORS.items():
            if source == "exact" and est_name == "dm":
                continue  # DM uses no propensities
            iv = est().estimate_interval(data, n_bootstrap=n_bootstrap, random_state=seed)
            rows.append(
                {
                    "kind": kind,
                    "world": f"seed {seed}" + _poor_label(explore),
                    "overlap": "default" if explore is None else "poor",
                    "leads": n_leads,
                    "dr_noise_free_error": noise_free / truth - 1,
                    "half_width": iv.relative_half_width,
                    "bound": bound,
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
                    "matched": diag.matched,
                    "unsupported": diag.unsupported_share,
                    "verdict": diag.verdict,
                    "n": n,
                    "logged_truth": float(a["p_logged"].mean()),
                    "logged_rate": reward.mean(),
                }
            )
    return rows


def _fmt(r: dict[Any, Any]) -> str:
    mark = "" if r["covers"] else "*"
    return f"{r['rate']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f}){mark} {r['rel_error']:+.0%}"


SHOWN = ("dm", "ips", "snips", "dr", "sndr", "dr_os", "switch_dr")
LABELS = {"dm": "DM", "ips": "IPS", "snips": "SNIPS", "dr": "DR", "sndr": "SNDR",
          "dr_os": "DRos", "switch_dr": "SWITCH-DR"}  # fmt: skip


def history_for(half_width: float, n: int, leads: int) -> int:
    """History leads at which a 95% half-width of ``half_width`` at ``n`` replayed leads
    (out of ``leads``) shrinks to +-10% (it falls as 1 / sqrt(leads))."""
    return int(np.ceil(leads * (half_width / TARGET) ** 2))


def _print(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    print(
        "| world | history leads | policy | replayed | truth | "
        + " | ".join(LABELS[e] for e in SHOWN)
        + " | DR (exact p) | DR +- (bound) | history for DR +-10% | ESS | verdict |"
    )
    print("|---" * (10 + len(SHOWN)) + "|")
    keys = ["kind", "world", "leads", "policy"]
    for (kind, world, leads, policy), g in frame.groupby(keys, sort=False):
        cell = {(r["estimator"], r["propensity"]): r for r in g.to_dict("records")}
        dr = cell[("dr", "estimated")]
        print(
            f"| {kind}, {world} | {leads:,} | {policy} | {dr['n']:,} | {dr['truth']:.3f} | "
            + " | ".join(_fmt(cell[(e, "estimated")]) for e in SHOWN)
            + f" | {_fmt(cell[('dr', 'exact')])} "
            f"| +-{dr['half_width']:.0%} (+-{dr['bound']:.0%}) "
            f"| ~{history_for(dr['bound'], dr['n'], leads):,} "
            f"| {dr['ess']:.0f} | {dr['verdict']} |"
        )
    print(
        "\n(estimated propensities unless marked exact; * = the 95% interval misses the "
        "truth; percentages = relative error; bound = the efficiency bound's +-, the least "
        "any unbiased estimator can have on these leads)"
    )


def _summary(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    print("\nSummary: rows within 10% of the truth; intervals covering it; |error|:")
    keys = ["kind", "overlap", "leads", "estimator", "propensity"]
    for (kind, overlap, leads, est, source), g in frame.groupby(keys, sort=False):
        err = g["rel_error"].abs()
        print(
            f"  {kind:5s} {overlap:7s} {leads:>7,} {est:9s} {source:9s}: within 10% "
            f"{int((err <= TARGET).sum())}/{len(g)}; covers {int(g['covers'].sum())}/{len(g)}; "
            f"|error| mean {err.mean():.1%}, max {err.max():.1%}"
        )
    dr = frame[(frame["estimator"] == "dr") & (frame["propensity"] == "estimated")]
    print("\nDR's precision by world size (estimated propensities):")
    for (kind, overlap, leads), g in dr.groupby(["kind", "overlap", "leads"], sort=False):
        need = [history_for(b, n, leads) for b, n in zip(g["bound"], g["n"], strict=True)]
        print(
            f"  {kind:5s} {overlap:7s} {leads:>7,}: replayed {int(g['n'].median()):,}; "
            f"DR +- median {g['half_width'].median():.0%} (bound {g['bound'].median():.0%}); "
            f"ESS median {g['ess'].median():.0f}; verdicts "
            + ", ".join(f"{v} {c}" for v, c in g["verdict"].value_counts().items())
            + f"; history for +-10% (bound) {min(need):,}-{max(need):,}"
        )


def within_target_share(half_width: float) -> float:
    """The chance that an unbiased, normally distributed estimate whose 95% half-width is
    ``half_width`` (relative) lands within ``TARGET`` of the truth."""
    if not half_width > 0:
        return 1.0
    z = TARGET / (half_width / Z95)
    return float(math.erf(z / math.sqrt(2)))


def _target(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's target, judged per world size on the default-overlap worlds: DR
    (estimated propensities) within 10% of the truth on every row, its interval covering
    the truth on most; with how far a miss is, and how often an unbiased estimator at the
    efficiency bound would land within 10% there."""
    frame = pd.DataFrame(rows)
    dr = frame[
        (frame["estimator"] == "dr")
        & (frame["propensity"] == "estimated")
        & (frame["overlap"] == "default")
    ]
    lines = []
    for (kind, leads), g in dr.groupby(["kind", "leads"], sort=False):
        err = g["rel_error"].abs()
        within, covers, n = int((err <= TARGET).sum()), int(g["covers"].sum()), len(g)
        met = within == n and covers > n / 2
        shares = [within_target_share(b) for b in g["bound"]]
        expected, every = sum(shares), math.prod(shares)
        verdict = "MET" if met else "MISSED"
        miss = (
            ""
            if within == n
            else f", worst |error| {err.max():.1%} ({100 * (err.max() - TARGET):.1f} points past "
            f"{TARGET:.0%})"
        )
        record(
            f"off-policy DR, worst |error| vs the truth ({kind} worlds of {leads:,} past "
            f"leads: {', '.join(sorted(g['world'].unique()))})",
            100 * float(err.max()),
            "%",
            target=f"within {TARGET:.0%} on every row, interval covering on most",
            met=met,
            note=f"within {TARGET:.0%} on {within}/{n} rows, interval covers on {covers}/{n}, "
            f"efficiency bound +-{g['bound'].median():.0%} (median)",
        )
        lines.append(
            f"  {kind:5s} {leads:>7,} past leads: {verdict}: DR within {TARGET:.0%} on "
            f"{within}/{n} rows{miss}; its interval covers the truth on {covers}/{n}; "
            f"efficiency bound +-{g['bound'].median():.0%} (median): an unbiased estimator at "
            f"the bound lands within {TARGET:.0%} on ~{expected:.1f} of {n} rows, on all {n} "
            f"with probability {every:.0%}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--poor-seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--leads", type=int, nargs="+", default=[20_000])
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=sorted(CANDIDATES),
        default=["pools"],
        help="pools: history and candidates inside segment pools, holds on (the default); "
        "all: every active rep (this benchmark's first world)",
    )
    parser.add_argument(
        "--arrays",
        type=Path,
        default=None,
        help="folder caching each world's arrays (.npz): re-estimate without re-simulating",
    )
    parser.add_argument(
        "--arrays-only", action="store_true", help="only simulate and save the worlds' arrays"
    )
    parser.add_argument("--bootstrap", type=int, default=400, help="bootstrap resamples")
    args = parser.parse_args()
    if args.arrays is not None:
        args.arrays.mkdir(parents=True, exist_ok=True)
    started = time.process_time()
    rows: list[dict[str, Any]] = []
    worlds = [(s, None) for s in args.seeds] + [(s, POOR_EXPLORE) for s in args.poor_seeds]
    for kind, leads, (seed, explore) in itertools.product(args.kinds, args.leads, worlds):
        if args.arrays_only:
            load_arrays(seed, leads, explore, kind, args.arrays)
        else:
            rows += run_world(seed, leads, explore, kind, args.arrays, args.bootstrap)
    if rows:
        _print(rows)
        _summary(rows)
        print(
            f"\nTarget: DR within {TARGET:.0%} of the truth on every seed, its interval covering "
            "it on most (default-overlap worlds, estimated propensities):"
        )
        print("\n".join(_target(rows)))
    print(f"\n{time.process_time() - started:.0f} s CPU")


if __name__ == "__main__":
    main()
