"""Acceptance on a synthetic world with known truth (issue 4, "Done when").

Margins come from ``benchmarks/model_quality_benchmark.py`` over seeds 0-9 at 20,000 leads:
model minus baseline AUC was at least +0.097 against every rate baseline and Brier at least
0.0076 better; against the logistic regression with rep x industry and rep x size
interactions (the true model's own form in this world) the model was ahead in 8 of 10 seeds
on AUC (mean +0.0034, sd 0.0035, worst -0.0014) and 7 of 10 on Brier (mean -0.0004, worst
+0.0004). So per seed the test asserts "not worse beyond that spread", and over seeds 0 and 1
that the model is ahead on average. ECE was 0.011 on average and at most 0.0188; the Spearman
correlation of rep x industry effects with the truth at least 0.62 (mean 0.76).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from leadpilot.model import ConversionModel
from leadpilot.synth import generate_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted() -> tuple[ConversionModel, object]:
    world = generate_world(n_leads=20_000, seed=0)
    return ConversionModel(random_state=0).fit(world.history, world.reps), world


def test_beats_the_rate_baselines_and_ties_the_logistic_one(fitted) -> None:  # type: ignore[no-untyped-def]
    model, _ = fitted
    res = model.metrics_
    m = res["model"]
    for name in ("global rate", "per-rep rate", "per-rep x industry rate"):
        assert m["auc"] > res[name]["auc"] + 0.05, name
        assert m["brier"] < res[name]["brier"] - 0.005, name
        assert model.evaluation_["comparisons"][name]["auc_diff_low"] > 0, name
    lr = res["logistic regression"]
    assert m["auc"] > lr["auc"] - 0.005
    assert m["brier"] < lr["brier"] + 0.001


def test_ahead_of_the_logistic_baseline_on_average(fitted) -> None:  # type: ignore[no-untyped-def]
    model, _ = fitted
    other = generate_world(n_leads=20_000, seed=1)
    second = ConversionModel(random_state=1).fit(other.history, other.reps)
    auc_gain = brier_gain = 0.0
    for res in (model.metrics_, second.metrics_):
        auc_gain += res["model"]["auc"] - res["logistic regression"]["auc"]
        brier_gain += res["logistic regression"]["brier"] - res["model"]["brier"]
    assert auc_gain > 0
    assert brier_gain > 0


def test_calibrated(fitted) -> None:  # type: ignore[no-untyped-def]
    model, _ = fitted
    assert model.metrics_["model"]["ece"] < 0.02
    rel = pd.DataFrame(model.evaluation_["reliability"])
    big = rel[rel["n"] >= 200]
    # Every well-populated bin's observed rate is within 3 points of its mean prediction.
    assert ((big["observed"] - big["predicted"]).abs() < 0.03).all()


def test_rep_by_industry_effects_agree_with_truth(fitted) -> None:  # type: ignore[no-untyped-def]
    model, world = fitted
    leads = world.history.sort_values("created_at").iloc[-4_000:]
    leads = leads.drop(columns=["rep_id"]).reset_index(drop=True)
    reps = list(world.truth.rep_ids)
    P = np.column_stack(
        [model.predict_proba(leads.assign(rep_id=r, time_to_contact_hours=np.nan)) for r in reps]
    )
    T = world.truth.true_probability(leads, reps)
    ind = leads["industry"].to_numpy()
    ours: list[float] = []
    true: list[float] = []
    for value in pd.unique(ind):
        mask = ind == value
        a, b = P[mask].mean(0), T[mask].mean(0)
        ours += list(a - a.mean())
        true += list(b - b.mean())
    assert spearmanr(ours, true).statistic > 0.6


def test_confidence_separates_clear_from_unclear_choices(fitted) -> None:  # type: ignore[no-untyped-def]
    model, world = fitted
    from leadpilot.ingest import leads_from_frame

    leads = leads_from_frame(world.new_leads.head(200))
    reps = list(world.active_rep_ids)
    truth = world.truth.true_probability(world.new_leads.head(200), reps)
    conf = np.array([model.score_candidates(lead, reps).confidence for lead in leads])
    top = np.array([int(np.argmax(model.score_candidates(lead, reps).p)) for lead in leads])
    true_edge = truth[np.arange(200), top] - truth.mean(axis=1)
    sure = conf > 0.9
    assert sure.sum() >= 20
    # When the model is sure, its top rep truly beats the pool average.
    assert (true_edge[sure] > 0).mean() > 0.9


def test_slower_response_lowers_the_score(fitted) -> None:  # type: ignore[no-untyped-def]
    model, world = fitted
    from leadpilot.ingest import leads_from_frame

    reps = list(world.active_rep_ids)
    lead = leads_from_frame(world.new_leads.head(1))[0]
    fast = model.score_candidates(lead, reps, expected_response_hours=np.full(len(reps), 0.25))
    slow = model.score_candidates(lead, reps, expected_response_hours=np.full(len(reps), 24.0))
    # The world's truth: log-odds fall by 0.3 x log(1 + hours), about -0.9 here.
    assert (slow.p < fast.p).all()
    drop = np.log(fast.p / (1 - fast.p)) - np.log(slow.p / (1 - slow.p))
    assert 0.4 < float(np.median(drop)) < 1.4
