"""Against the synthetic world's ground truth: best matches and projected lift.

World: 20,000 historical leads, 20 reps, seed 1 (about 15% conversion, history logged by a
confounded policy, rep x industry / size-band affinities of +-0.3..0.9 log-odds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadpilot.analyze import Analysis, analyze
from leadpilot.analyze.recommend import segment_keys
from leadpilot.evaluate.offline import best_assignment, round_robin_assignment
from leadpilot.synth import World, generate_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synth() -> tuple[World, Analysis]:
    world = generate_world(n_leads=20_000, n_reps=20, n_new_leads=100, seed=1)
    return world, analyze(world.history, reps=world.reps, seed=1)


def _true_cells(world: World, dimension: str) -> pd.DataFrame:
    """True lift of every rep in every segment over the segment's round-robin average (the
    truth's probabilities averaged over the history's leads of that segment), and the z-score
    that gap would have on the rep's number of leads there (how detectable it is)."""
    h = world.history
    reps = sorted(h["rep_id"].dropna().unique())
    p = world.truth.true_probability(h, reps)
    rows = []
    for seg, idx in h.groupby(dimension).indices.items():
        rates = p[idx].mean(axis=0)
        avg = rates.mean()
        counts = h["rep_id"].iloc[idx].value_counts()
        for r, rep in enumerate(reps):
            n = int(counts.get(rep, 0))
            z = (rates[r] - avg) / np.sqrt(avg * (1 - avg) / max(n, 1))
            rows.append((rep, seg, rates[r] / avg - 1, n, z))
    return pd.DataFrame(rows, columns=["rep", "segment", "true_lift", "leads", "z"])


def test_best_matches_recover_the_strong_true_matches(synth: tuple[World, Analysis]) -> None:
    world, analysis = synth
    reported = analysis.to_dict()["best_matches"]
    dims = ("industry", "size_band")  # the truth has no rep x source affinity
    found = {(m["dimension"], m["rep"], m["segment"]) for m in reported if m["dimension"] in dims}
    truth = pd.concat([_true_cells(world, d).assign(dimension=d) for d in dims])
    truth["found"] = [
        (d, r, s) in found
        for d, r, s in zip(truth["dimension"], truth["rep"], truth["segment"], strict=True)
    ]
    # "Strong": the rep converts the segment's leads at least 25% better than the segment's
    # round-robin average. "Detectable": that gap is at least 3 standard errors on the rep's
    # leads in the segment; a single test then has about even odds at alpha = 0.003 and much
    # better at the 10% FDR used here, so most (>= 60%) must be found, not all. (Over seeds
    # 1-5 of this world size, 67-100% are.) A fixed lead count would not do: at a 15% base
    # rate even 150 leads leave a +30% gap at about 1.5 standard errors.
    strong = truth[(truth["true_lift"] >= 0.25) & (truth["z"] >= 3.0)]
    assert len(strong) >= 5
    assert strong["found"].mean() >= 0.6
    # At a 10% false discovery rate about 90% of reported matches should be real: allow 85%.
    hits = truth[truth["found"]]
    assert len(hits) == len(found)
    assert (hits["true_lift"] > 0).mean() >= 0.85


def _oracle_lift(world: World, reps: list[str], share: np.ndarray) -> float:
    """best_assignment vs round_robin_assignment on the truth's probabilities over the history
    mix, in time-ordered blocks of 500 leads with each rep's capacity share of the block."""
    p = world.truth.true_probability(world.history, reps)
    block = np.arange(len(world.history)) // 500
    cap = np.ceil(500 * share).astype(np.int64)
    best = best_assignment(p, block, cap)
    rr = round_robin_assignment(p, block, cap)
    return best.expected_conversions / rr.expected_conversions - 1


def test_projected_lift_is_in_the_truths_ballpark(synth: tuple[World, Analysis]) -> None:
    world, analysis = synth
    plan = analysis.plan
    assert plan is not None
    verdict = analysis.to_dict()["verdict"]
    assert verdict["supports_predictive_routing"] is True
    # the recommended plan's true lift: truth probabilities per rep x segment over the history
    data = world.history.rename(columns={"rep_id": "rep"})
    seg = segment_keys(data, ["industry", "size_band"]).to_numpy()
    p = world.truth.true_probability(world.history, plan.reps)
    true_rate = np.stack([p[seg == s].mean(axis=0) for s in plan.segments], axis=1)
    plan_truth = float((true_rate * plan.plan).sum() / (true_rate * plan.round_robin).sum() - 1)
    oracle = _oracle_lift(world, plan.reps, plan.capacity / plan.capacity.sum())
    lift = verdict["projected_lift"]
    print(f"oracle {oracle:.3f}  plan truth {plan_truth:.3f}  projected {lift}")
    # The per-lead oracle knows every lead's true probability: a rule set over segments
    # learned from noisy outcomes gets a good part of it, never more.
    assert 0.3 * oracle <= plan_truth <= oracle
    # The projection (the model's posterior) is positive and in the truth's ballpark. It runs
    # high on this world: +36.1% (+28.0% to +43.8%) against a true +27.8% for the plan (the
    # posterior mean of a plan chosen on it keeps some optimism); this pins it there so that
    # it cannot drift further.
    assert lift["ci_low"] > 0
    assert 0.4 * plan_truth <= lift["value"] <= 1.35 * plan_truth
    assert lift["ci_low"] <= plan_truth * 1.05


def test_recommended_rules_point_at_reps_who_really_are_better(
    synth: tuple[World, Analysis],
) -> None:
    world, analysis = synth
    plan = analysis.plan
    assert plan is not None
    rules = analysis.to_dict()["recommendations"]["rules"]
    assert len(rules) >= 3
    data = world.history.rename(columns={"rep_id": "rep"})
    seg = segment_keys(data, ["industry", "size_band"]).to_numpy()
    share = plan.capacity / plan.capacity.sum()
    better = 0
    for rule in rules:
        leads = world.history[seg == rule["segment"]]
        true_rr = float(world.truth.true_probability(leads, plan.reps).mean(axis=0) @ share)
        targets = [t["rep"] for t in rule["route_to"]]
        true_target = float(world.truth.true_probability(leads, targets).mean())
        better += true_target > true_rr
    assert better >= 0.8 * len(rules)
