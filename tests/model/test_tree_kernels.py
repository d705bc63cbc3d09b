"""The compiled tree walk gives LightGBM's own ``predict`` bits: numerical splits with each
missing type (NaN, zero, none) and default direction, categorical splits, values within 1e-35
of zero, one-leaf trees, early-stopped models, the fitted model's boosters and rep trees."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from leadpilot.model import ConversionModel, glm_kernels, tree_kernels
from leadpilot.model.raw_predict import raw_scores
from leadpilot.model.rep_trees import RepTrees, fit_rep_trees

pytestmark = pytest.mark.skipif(not glm_kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(autouse=True, scope="module")
def _loaded() -> None:
    """numba loaded, as in a process that has scored a batch."""
    assert glm_kernels.load()


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns, one mostly zero, a categorical of 40 levels (codes past 31 use a
    second bitset word), 10% missing; the label depends on all of them."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),
            np.where(rng.random(n) < 0.6, 0.0, rng.normal(size=n)),
            rng.integers(0, 40, n).astype(float),
            rng.uniform(-3, 3, n),
        ]
    )
    logit = X[:, 0] - 0.8 * X[:, 1] + np.sin(X[:, 2]) + 0.5 * (X[:, 3] > 1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _probe(X: np.ndarray, seed: int) -> np.ndarray:
    """Rows that reach every branch kind: NaNs, exact zeros, +-1e-36 (read as zero by
    LightGBM), unseen and negative categories, infinities."""
    rng = np.random.default_rng(seed)
    P = X[rng.integers(0, len(X), 3_000)].copy()
    P[:50, 1] = 1e-36
    P[50:100, 1] = -1e-36
    P[100:150, 2] = 45.0  # a category the training never saw
    P[150:200, 2] = -3.0
    P[200:210, 0] = np.inf
    P[210:220, 3] = -np.inf
    return P


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"max_cat_to_onehot": 64},  # one-vs-rest categorical splits
    ],
)
def test_walk_equals_predict_bit_for_bit(params: dict[str, object]) -> None:
    X, y = _data(4_000, seed=len(params))
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 10, "verbose": -1,
         "min_data_per_group": 5, "cat_smooth": 1.0, **params},
        lgb.Dataset(X, y, categorical_feature=[2]),
        num_boost_round=30,
    )  # fmt: skip
    text = booster.model_to_string()
    assert "decision_type=" in text
    if not params:  # the default model has categorical splits and NaN-missing splits
        kinds = {int(v) for line in text.split("\n") if line.startswith("decision_type=")
                 for v in line.split("=")[1].split()}  # fmt: skip
        assert any(k & 1 for k in kinds)
        assert any((k >> 2) & 3 == 2 for k in kinds)
    trees = tree_kernels.compiled(booster)
    assert trees is not None
    P = _probe(X, seed=1)
    expected = booster.predict(P, raw_score=True, num_threads=1)
    got = tree_kernels.raw_scores(trees, P)
    assert np.array_equal(got, expected)
    assert np.array_equal(raw_scores(booster, P[:7]), expected[:7])
    assert len(np.unique(expected)) > 100  # the rows take many different paths


def test_best_iteration_and_one_leaf_trees() -> None:
    """``predict`` stops at ``best_iteration`` when one is set (as early stopping sets it on
    a kept booster); trees whose split ran out of data are one leaf."""
    X, y = _data(400, seed=9)
    P = _probe(X, seed=2)
    stump = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 300, "verbose": -1},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    assert "num_leaves=1\n" in stump.model_to_string()
    expected = stump.predict(P, raw_score=True, num_threads=1)
    assert np.array_equal(raw_scores(stump, P), expected)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 20, "verbose": -1},
        lgb.Dataset(X, y),
        num_boost_round=40,
    )
    full = booster.predict(P, raw_score=True, num_threads=1)
    assert np.array_equal(tree_kernels.raw_scores(tree_kernels.compiled(booster), P), full)  # type: ignore[arg-type]
    booster.best_iteration = 7
    delattr(booster, "_leadpilot_compiled_trees")  # read again with the new iteration count
    seven = booster.predict(P, raw_score=True, num_threads=1)
    assert not np.array_equal(seven, full)
    assert np.array_equal(raw_scores(booster, P), seven)


def test_the_fitted_models_boosters(fitted: ConversionModel) -> None:
    rng = np.random.default_rng(3)
    for booster in fitted.fitted_.boosters:
        if isinstance(booster, RepTrees):
            continue
        n = booster.num_feature()
        P = rng.normal(size=(500, n)) * 3
        P[rng.random(P.shape) < 0.2] = np.nan
        assert np.array_equal(
            raw_scores(booster, P), booster.predict(P, raw_score=True, num_threads=1)
        )


def test_rep_trees_through_the_walk() -> None:
    rng = np.random.default_rng(0)
    n = 2_400
    X = rng.normal(size=(n, 5))
    X[:, 0] = np.repeat(np.arange(4), n // 4).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 1.5) * X[:, 1]))).astype(float)
    trees, _ = fit_rep_trees(
        X, y, np.zeros(n), rep_column=0, ignore=[], feature_names=[f"f{i}" for i in range(5)],
        categorical=[], rounds=15,
    )  # fmt: skip
    assert trees is not None
    P = X[rng.integers(0, n, 300)]
    P[rng.random(P.shape) < 0.1] = np.nan
    assert np.array_equal(trees.raw_scores(P), trees.predict(P))


def test_a_model_it_does_not_read_keeps_lightgbm() -> None:
    """Several outputs per iteration (multiclass): no walk, ``raw_scores`` asks LightGBM."""
    X, y = _data(600, seed=4)
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1},
        lgb.Dataset(X, (y + (X[:, 3] > 0)).astype(int)),
        num_boost_round=3,
    )
    assert tree_kernels.compiled(booster) is None
