"""The low-overhead raw-score path gives LightGBM's own ``predict`` bits (the router scores a
few rows per lead through it, the batch scorer whole batches through ``predict``: a decision
must not depend on which path scored a row)."""

from __future__ import annotations

from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import pytest

from leadpilot.model import ConversionModel
from leadpilot.model.raw_predict import raw_scores
from leadpilot.model.rep_trees import RepTrees, fit_rep_trees
from leadpilot.model.scoring import candidate_matrix, few_rows_raw
from leadpilot.schema import Lead


def _rows(fitted: ConversionModel, n: int, seed: int) -> np.ndarray:
    """Feature rows as the scorer builds them (one lead x every rep, then the average rep),
    repeated to ``n`` rows, with 5% of the values missing."""
    state = fitted.fitted_
    rng = np.random.default_rng(seed)
    reps = list(state.state.rep_ids)
    lead = Lead(
        lead_id=f"L{seed}",
        industry="Software",
        company_size=120 + seed,
        engagement_score=40.0 + seed,
        created_at=datetime(2026, 3, 2, 10, tzinfo=UTC),
    )
    X, _ = candidate_matrix(state, lead, reps, rng.uniform(0.1, 30.0, len(reps)))
    X = np.vstack([X] * (n // len(X) + 1))[:n]
    X[rng.random(X.shape) < 0.05] = np.nan
    return np.ascontiguousarray(X)


@pytest.fixture(scope="module")
def rep_trees() -> RepTrees:
    """Per-rep boosters on a planted rep x feature effect (4 reps, 600 rows each)."""
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
    assert len(trees.boosters) == 4
    return trees


def test_raw_scores_equal_predict_bit_for_bit(fitted: ConversionModel) -> None:
    team = [b for b in fitted.fitted_.boosters if isinstance(b, lgb.Booster)]
    assert team
    for n in (1, 3, 57):
        X = _rows(fitted, n, seed=n)
        for booster in team:
            expected = np.asarray(booster.predict(X, raw_score=True, num_threads=1))
            for got in (raw_scores(booster, X), few_rows_raw(booster, X)):
                assert got.dtype == np.float64
                assert got.shape == (n,)
                assert np.array_equal(got, expected)
    # a strided view (a column slice of a wider matrix) is read as its values
    X = _rows(fitted, 20, seed=7)
    wide = np.hstack([X, np.zeros((20, 3))])[:, : X.shape[1]]
    assert np.array_equal(raw_scores(team[0], wide), team[0].predict(X, raw_score=True))


def test_rep_trees_raw_scores_equal_predict_bit_for_bit(rep_trees: RepTrees) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    X[:, 0] = rng.integers(0, 4, 40)
    X[:5, 0] = np.nan  # the average rep: no booster, 0
    X[5:8, 0] = 9.0  # a rep without trees: 0
    expected = rep_trees.predict(X)
    assert np.array_equal(rep_trees.raw_scores(X), expected)
    assert np.array_equal(few_rows_raw(rep_trees, X), expected)
    assert np.array_equal(expected[:8], np.zeros(8))
    assert np.all(expected[8:] != 0)
