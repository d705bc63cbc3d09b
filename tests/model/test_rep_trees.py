"""Rep-aware trees: they recover a rep effect the linear part cannot express (checked
against the synthetic world's ground truth), and survive saving and loading."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from leadpilot.ingest import leads_from_frame
from leadpilot.model import ConversionModel
from leadpilot.model.card import rep_structure_lines
from leadpilot.model.rep_trees import (
    RepTrees,
    RepTreesConfig,
    _number,
    average_boosters,
    fit_rep_trees,
    found_changes,
    found_combinations,
    leaf_values,
    tree_outputs,
)
from leadpilot.synth import World, generate_world
from leadpilot.synth.history import draw_outcomes
from leadpilot.synth.rep_effects import RepEffect

NDF = np.ndarray


@pytest.fixture(scope="module")
def planted() -> tuple[World, str, object]:
    """An additive world whose outcomes are redrawn with one planted effect: the active rep
    with the most history gains 1.5 log-odds on engaged leads and loses as much on cold ones
    (a tanh step at 50)."""
    world = generate_world(n_leads=8_000, n_reps=5, n_new_leads=400, seed=5)
    counts = world.history["rep_id"].value_counts()
    rep = max(world.active_rep_ids, key=lambda r: counts.get(r, 0))
    effect = RepEffect(rep, 1.5, column="engagement_score", curve="step", centre=50.0, width=10.0)
    truth = replace(world.truth, rep_effects=(effect,), kind="interactions")
    end = world.history["created_at"].max()
    history = draw_outcomes(np.random.default_rng(1), world.history, truth, end)
    return replace(world, history=history, truth=truth), rep, effect


def _advantage(p: NDF, j: int) -> NDF:
    """Rep ``j``'s log-odds minus the other reps' mean, per lead."""
    z = np.log(p / (1 - p))
    return np.asarray(z[:, j] - np.delete(z, j, axis=1).mean(axis=1))


@pytest.mark.slow
def test_rep_trees_recover_a_planted_engagement_effect(planted: tuple[World, str, object]) -> None:
    world, rep, _effect = planted
    active = world.active_rep_ids
    j = active.index(rep)
    eng = world.new_leads["engagement_score"].to_numpy()
    hot, cold = eng > 65, eng < 35
    truth = _advantage(world.truth.true_probability(world.new_leads, active), j)
    true_gap = truth[hot].mean() - truth[cold].mean()  # about 2.8 log-odds
    leads = leads_from_frame(world.new_leads)
    gaps = {}
    for rep_trees in (True, False):
        model = ConversionModel(rep_trees=rep_trees, n_bags=2).fit(world.history, world.reps)
        trees = [b for b in model.fitted_.boosters if isinstance(b, RepTrees)]
        assert bool(trees) == rep_trees
        got = _advantage(model.score_batch(leads, active).p, j)
        if rep_trees:
            model_with_trees = model
        gaps[rep_trees] = got[hot].mean() - got[cold].mean()
    assert true_gap > 2.5
    # with the rep's own trees most of the effect is found; without, much less of it
    assert gaps[True] > 0.7 * true_gap
    assert gaps[False] < 0.65 * true_gap
    assert abs(gaps[True] - true_gap) < abs(gaps[False] - true_gap) - 0.4
    # the model card's table names it first: this rep, by engagement, best with the hottest
    top = model_with_trees.fitted_.rep_effects[0]
    assert (top["rep"], top["feature"]) == (rep, "engagement_score")
    assert float(top["best"].split(" to ")[0]) > 50 > float(top["worst"].split(" to ")[1])
    assert top["best_points"] > 0 > top["worst_points"]
    card = "\n".join(rep_structure_lines(model_with_trees.fitted_.rep_effects, True))
    assert f"| {rep} | engagement score | {top['best']} |" in card


def test_rep_trees_save_and_load(planted: tuple[World, str, object], tmp_path: Path) -> None:
    world, _rep, _effect = planted
    model = ConversionModel(n_bags=2).fit(world.history, world.reps)
    trees = next(b for b in model.fitted_.boosters if isinstance(b, RepTrees))
    again = RepTrees.from_string(trees.model_to_string())
    X = np.random.default_rng(0).normal(size=(50, len(trees.feature_name())))
    X[:, trees.rep_column] = np.repeat(np.arange(5.0), 10)
    X[:5, trees.rep_column] = np.nan  # the average rep: no rep trees
    np.testing.assert_array_equal(again.predict(X), trees.predict(X))
    assert np.all(trees.predict(X)[:5] == 0.0)
    model.save(tmp_path / "m")
    loaded = ConversionModel.load(tmp_path / "m")
    leads = leads_from_frame(world.new_leads.iloc[:30])
    active = world.active_rep_ids
    np.testing.assert_allclose(
        loaded.score_batch(leads, active).p, model.score_batch(leads, active).p, rtol=1e-12
    )
    assert loaded.version == model.version


def test_average_boosters_scores_and_explains_as_the_average() -> None:
    """The stitched booster of a rep equals the mean of its bags, raw score and SHAP values
    alike (numeric and categorical splits), against the bags' own predictions."""
    rng = np.random.default_rng(3)
    X = rng.random((600, 3))
    X[:, 2] = rng.integers(0, 7, 600)
    z = 2.0 * X[:, 0] - 1.0 + 0.8 * np.isin(X[:, 2], (2, 5))
    y = (rng.random(600) < 1 / (1 + np.exp(-z))).astype(float)
    data = lgb.Dataset(
        X, y, init_score=np.full(600, -0.2), categorical_feature=[2], params={"verbose": -1}
    )
    params = {"objective": "binary", "verbose": -1, "num_leaves": 5, "min_data_per_group": 10,
              "max_cat_to_onehot": 2, "bagging_fraction": 0.7, "bagging_freq": 1}  # fmt: skip
    bags = [lgb.train(params | {"bagging_seed": s, "seed": s}, data, 15) for s in range(4)]
    merged = average_boosters(bags)
    assert merged.num_trees() == 60
    assert any("num_cat=1" in b.model_to_string() for b in bags)  # a categorical split is in
    Xt = rng.random((40, 3))
    Xt[:, 2] = rng.integers(0, 7, 40)
    mean_raw = np.mean([b.predict(Xt, raw_score=True) for b in bags], axis=0)
    np.testing.assert_allclose(merged.predict(Xt, raw_score=True), mean_raw, atol=1e-12)
    mean_shap = np.mean([b.predict(Xt, pred_contrib=True) for b in bags], axis=0)
    np.testing.assert_allclose(merged.predict(Xt, pred_contrib=True), mean_shap, atol=1e-12)
    assert average_boosters(bags[:1]) is bags[0]


def test_tree_outputs_match_one_predict_per_tree() -> None:
    """The per-tree outputs read from the leaves equal LightGBM's own one-tree predictions
    (numeric and categorical splits), and sum to the booster's raw score."""
    rng = np.random.default_rng(4)
    X = rng.random((500, 3))
    X[:, 2] = rng.integers(0, 6, 500)
    z = 1.5 * X[:, 0] - 0.7 + 0.9 * np.isin(X[:, 2], (1, 4))
    y = (rng.random(500) < 1 / (1 + np.exp(-z))).astype(float)
    data = lgb.Dataset(X, y, categorical_feature=[2], params={"verbose": -1})
    params = {"objective": "binary", "verbose": -1, "num_leaves": 6, "min_data_per_group": 10,
              "max_cat_to_onehot": 2}  # fmt: skip
    booster = lgb.train(params, data, 25)
    Xt = rng.random((60, 3))
    Xt[:, 2] = rng.integers(0, 6, 60)
    got = tree_outputs(booster, Xt)
    assert got.shape == (25, 60)
    for i in range(25):
        one = booster.predict(Xt, raw_score=True, start_iteration=i, num_iteration=1)
        np.testing.assert_array_equal(got[i], one)
    np.testing.assert_allclose(got.sum(axis=0), booster.predict(Xt, raw_score=True), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leaf_values_are_lightgbms_own(seed: int) -> None:
    """The leaf values read from the model text are ``get_leaf_output``'s doubles bit for
    bit, on boosters grown as the round search grows them (bagged, from an init score, a
    categorical column; values of many magnitudes; one stops growing before its last round)."""
    rng = np.random.default_rng(seed)
    X = rng.random((300, 4))
    X[:, 3] = rng.integers(0, 5, 300)
    init = rng.normal(-1.5, 0.7, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-init - X[:, 0]))).astype(float)
    data = lgb.Dataset(X, y, init_score=init, categorical_feature=[3],
                       params={"verbose": -1, "min_data_in_leaf": 1})  # fmt: skip
    params = {"objective": "binary", "verbose": -1, "num_leaves": 6, "learning_rate": 0.05,
              "lambda_l2": 30.0, "min_data_in_leaf": 40, "bagging_fraction": 0.7,
              "bagging_freq": 1, "bagging_seed": seed, "seed": seed,
              "min_data_per_group": 5}  # fmt: skip
    booster = lgb.train(params, data, 120)
    values = leaf_values(booster)
    assert len(values) == booster.num_trees() > 50
    for t, vals in enumerate(values):
        expected = [booster.get_leaf_output(t, leaf) for leaf in range(len(vals))]
        assert vals.tolist() == expected  # exact, not approximate
    assert max(len(v) for v in values) >= 3  # trees that split, not only stumps


@pytest.mark.parametrize(
    ("n_rows", "bags"),
    # floor(5 * 2,500 / n) between 1 and 5; every bag up to 2,500 leads
    [
        (300, 5),
        (2_500, 5),
        (2_501, 4),
        (3_125, 4),
        (3_126, 3),
        (4_000, 3),
        (5_000, 2),
        (6_250, 2),
        (6_251, 1),
        (1_000_000, 1),
    ],
)
def test_bags_for_shrinks_with_the_reps_leads(n_rows: int, bags: int) -> None:
    assert RepTreesConfig().bags_for(n_rows) == bags
    assert RepTreesConfig(bags=1).bags_for(n_rows) == 1


def test_fit_rep_trees_bags_small_reps_and_recovers_planted_effects() -> None:
    """Two reps whose outcomes differ from the team's prediction (``init``) by a known
    step on one attribute (+0.8 log-odds above 0.5, -0.8 below; the opposite for the other
    rep): a rep with 1,500 leads gets 5 averaged boosters, one with 12,000 leads one, and
    each rep's trees recover the sign of its step and most of its size (the rounds are
    chosen for both reps together, so both are shrunk alike)."""
    rng = np.random.default_rng(11)
    n_small, n_big = 1_500, 12_000
    n = n_small + n_big
    rep = rng.permutation(np.r_[np.zeros(n_small), np.ones(n_big)])
    X = np.column_stack([rng.random(n), rng.random(n), rep])
    init = rng.normal(-0.5, 0.5, n)
    sign = np.where(rep == 0, 1.0, -1.0)
    step = 0.8 * sign * np.where(X[:, 0] > 0.5, 1.0, -1.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-(init + step)))).astype(float)
    cfg = RepTreesConfig()
    trees, rounds = fit_rep_trees(
        X,
        y,
        init,
        rep_column=2,
        ignore=[2],
        feature_names=["a", "b", "rep"],
        categorical=[],
        config=cfg,
    )
    assert trees is not None
    assert rounds > 0
    assert trees.boosters[0].num_trees() == 5 * rounds
    assert trees.boosters[1].num_trees() == rounds
    grid = np.column_stack([np.linspace(0.01, 0.99, 99), np.full(99, 0.5), np.zeros(99)])
    recovered = {}
    for code, s in ((0, 1.0), (1, -1.0)):
        grid[:, 2] = code
        z = trees.predict(grid)
        gap = z[grid[:, 0] > 0.55].mean() - z[grid[:, 0] < 0.45].mean()  # true gap: 1.6 * s
        recovered[code] = gap / (1.6 * s)
        assert 0.6 < recovered[code] < 1.1


def _changed_skill(seed: int, change: bool) -> tuple[NDF, NDF, NDF, NDF]:
    """Two reps, 3,000 leads each over 300 days; rep 0 gains 1.2 log-odds on leads with
    attribute ``a`` above 0.5 from day 150 on (``change``) or all along (not ``change``)."""
    rng = np.random.default_rng(seed)
    n = 6_000
    days = np.sort(rng.uniform(0.0, 300.0, n))
    rep = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([rng.random(n), rng.random(n), rep])
    init = np.full(n, -1.0)
    live = days >= 150.0 if change else np.ones(n, dtype=bool)
    effect = 1.2 * ((rep == 0) & (X[:, 0] > 0.5) & live)
    y = (rng.random(n) < 1 / (1 + np.exp(-(init + effect)))).astype(float)
    return X, y, init, days


def _fit(X: NDF, y: NDF, init: NDF, days: NDF, **kw: object) -> RepTrees:
    trees, _ = fit_rep_trees(
        X,
        y,
        init,
        rep_column=2,
        ignore=[2],
        feature_names=["a", "b", "rep"],
        categorical=[],
        times=days,
        **kw,  # type: ignore[arg-type]
    )
    assert trees is not None
    return trees


def test_rep_trees_read_the_clock_when_a_skill_changed_mid_history() -> None:
    """A skill that started halfway through the history: the out-of-time check keeps the
    clock, and the trees score it as it is now (the latest day), nearer its full 1.2 than
    trees blind to time, which average it over the history (about 0.6)."""
    X, y, init, days = _changed_skill(3, change=True)
    timed = _fit(X, y, init, days)
    blind = _fit(X, y, init, days, clock=False)
    assert timed.now == pytest.approx(days.max())
    assert blind.now is None
    grid = np.column_stack([np.r_[np.full(50, 0.75), np.full(50, 0.25)], np.full(100, 0.5)])
    grid = np.column_stack([grid, np.zeros(100)])

    def gap(trees: RepTrees) -> float:
        z = trees.predict(grid)
        return float(z[:50].mean() - z[50:].mean())

    assert gap(timed) > gap(blind) + 0.15
    # the contributions still add up to the score, the clock's share in the constant column
    contrib = timed.predict(grid, pred_contrib=True)
    assert contrib.shape == (100, 4)
    np.testing.assert_allclose(contrib.sum(axis=1), timed.predict(grid), atol=1e-9)
    loaded = RepTrees.from_string(timed.model_to_string())
    assert loaded.now == timed.now
    np.testing.assert_array_equal(loaded.predict(grid), timed.predict(grid))
    np.testing.assert_array_equal(loaded.raw_scores(grid), timed.predict(grid))


def test_rep_trees_stay_blind_to_the_clock_when_skills_did_not_change() -> None:
    X, y, init, days = _changed_skill(4, change=False)
    assert _fit(X, y, init, days).now is None


def test_found_combinations_names_an_edge_that_lives_in_two_attributes() -> None:
    """Rep 0 gains 1.5 log-odds only where both ``a`` and ``b`` (0-100) are above 50 (a
    quarter of its leads), rep 1 has no edge: the card's combination row is rep 0's, on the top
    ranges of ``a`` and ``b``, and its figures are the trees' own scores (checked with
    ``predict``, not the SHAP values the finder sums)."""
    rng = np.random.default_rng(21)
    n = 8_000
    rep = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([100 * rng.random(n), 100 * rng.random(n), rep])
    init = np.full(n, -1.0)
    effect = 1.5 * ((rep == 0) & (X[:, 0] > 50) & (X[:, 1] > 50))
    y = (rng.random(n) < 1 / (1 + np.exp(-(init + effect)))).astype(float)
    trees, _ = fit_rep_trees(
        X, y, init, rep_column=2, ignore=[2], feature_names=["a", "b", "rep"], categorical=[]
    )
    assert trees is not None
    base = np.full(n, 1 / (1 + np.exp(1.0)))
    found = found_combinations(trees, X, base, rep_names=["r0", "r1"], levels={})
    assert found
    assert found[0]["rep"] == "r0"
    top = found[0]
    assert sorted(top["features"]) == ["a", "b"]
    lows = [float(level.split(" to ")[0]) for level in top["levels"]]
    assert min(lows) >= 50  # the cell is inside the planted one (both above 50)
    mine = np.flatnonzero(rep == 0)
    score = trees.predict(X[mine])
    score -= score.mean()
    # by hand: the quintile edges of a and b on rep 0's rows, the cell the finder named
    masks = []
    for feature, level in zip(top["features"], top["levels"], strict=True):
        x = X[mine, ["a", "b"].index(feature)]
        edges = np.quantile(x, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        whole = edges[-1] - edges[0] >= 10
        k = [
            f"{_number(lo, whole)} to {_number(hi, whole)}" for lo, hi in itertools.pairwise(edges)
        ]
        i = k.index(level)
        masks.append((x >= edges[i]) & ((x < edges[i + 1]) | (i == 4)))
    cell = masks[0] & masks[1]
    assert top["rows"] == int(cell.sum())
    assert top["log_odds"] == pytest.approx(score[cell].mean(), abs=1e-9)
    joint = score[cell].mean() - score[masks[0]].mean() - score[masks[1]].mean()
    assert top["joint_log_odds"] == pytest.approx(joint, abs=1e-9)
    assert top["log_odds"] > 0.3  # the cell is where rep 0 does better


def test_found_changes_reports_a_skill_that_started_mid_history() -> None:
    X, y, init, days = _changed_skill(3, change=True)
    trees = _fit(X, y, init, days)
    base = np.full(len(y), 1 / (1 + np.exp(1.0)))
    found = found_changes(
        trees, X, base, since=float(days.min()), rep_names=["r0", "r1"], levels={}
    )
    r0 = next(e for e in found if e["rep"] == "r0")
    assert r0["kind"] == "change"
    # rep 0 gained on high ``a`` since the start (true: +1.2 there, 0 below)
    assert r0["feature"] == "a"
    assert r0["log_odds"] > 0.3
    mine = np.flatnonzero(X[:, 2] == 0)
    then = trees.boosters[0].predict(
        np.column_stack([X[mine], np.full(len(mine), days.min())]), raw_score=True
    )
    now = trees.predict(X[mine])
    assert r0["mean_log_odds"] == pytest.approx(float(np.mean(now - then)), abs=1e-9)
    blind = _fit(X, y, init, days, clock=False)
    assert found_changes(blind, X, base, since=0.0, rep_names=["r0", "r1"], levels={}) == []
