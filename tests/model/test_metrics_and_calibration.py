"""Metrics checked against scikit-learn / hand computation; calibration choices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from leadpilot.model.calibration import Calibrator
from leadpilot.model.confidence import top_vs_pool
from leadpilot.model.metrics import (
    _weighted_auc,
    auc_difference,
    auc_differences,
    expected_calibration_error,
    metrics,
    metrics_by_group,
    reliability_table,
)
from leadpilot.model.training import temporal_split


def test_ece_by_hand() -> None:
    p = np.array([0.05, 0.05, 0.15, 0.15, 0.95])
    y = np.array([0.0, 1.0, 0.0, 0.0, 1.0])
    # bins: [0,0.1): mean p 0.05, observed 0.5, n 2; [0.1,0.2): 0.15 vs 0, n 2; [0.9,1]: 0.95 vs 1
    expected = (2 * 0.45 + 2 * 0.15 + 1 * 0.05) / 5
    assert expected_calibration_error(y, p) == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.integers(0, 3)), min_size=4))
def test_weighted_auc_matches_sklearn(rows: list[tuple[int, bool, int]]) -> None:
    score = np.array([r[0] for r in rows], dtype=np.float64)
    y = np.array([r[1] for r in rows], dtype=np.float64)
    w = np.array([r[2] for r in rows], dtype=np.float64)
    if len(set(y[w > 0])) < 2:
        return
    order = np.argsort(score, kind="stable")
    s = score[order]
    tie = np.concatenate([[True], s[1:] != s[:-1]])
    ours = _weighted_auc(order, tie, y, w)
    assert ours == pytest.approx(roc_auc_score(y, score, sample_weight=w))


def test_auc_difference_interval_covers_point_and_sign() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(3_000) < 0.3).astype(float)
    good = y + rng.normal(0, 1.0, 3_000)
    bad = y + rng.normal(0, 3.0, 3_000)
    d = auc_difference(y, good, bad, n_boot=100)
    assert d["auc_diff_low"] < d["auc_diff"] < d["auc_diff_high"]
    assert d["auc_diff_low"] > 0
    assert d["auc_diff"] == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, bad))


def test_auc_differences_equal_one_call_per_other_model() -> None:
    """Sharing the bootstrap weights across the other models changes no number: each
    entry is bit for bit the pairwise call's (ties in the scores included)."""
    rng = np.random.default_rng(5)
    y = (rng.random(2_000) < 0.25).astype(float)
    model = y + rng.normal(0, 1.0, 2_000)
    others = {
        "noisy": y + rng.normal(0, 2.0, 2_000),
        "tied": np.round(y + rng.normal(0, 1.5, 2_000)),  # a handful of distinct scores
        "constant": np.full(2_000, 0.3),
    }
    got = auc_differences(y, model, others, n_boot=50, seed=3)
    assert list(got) == list(others)
    for name, p in others.items():
        assert got[name] == auc_difference(y, model, p, n_boot=50, seed=3)
    assert got["constant"]["auc_diff"] == pytest.approx(roc_auc_score(y, model) - 0.5)


def test_temporal_split_is_ordered_and_complete() -> None:
    tr, ca, te = temporal_split(1_000)
    assert (tr.stop, ca.start, ca.stop, te.start, te.stop) == (700, 700, 800, 800, 1_000)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def test_auto_leaves_a_calibrated_model_alone() -> None:
    # A 5%-level test: over 40 calibrated slices about 2 are flagged (2 of 40 measured).
    flagged = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.05, 0.6, 4_000)
        y = (rng.random(4_000) < p).astype(float)
        flagged += Calibrator().fit(_logit(p), y).method_ != "none"
    assert flagged <= 5


def test_auto_fixes_overconfidence_with_platt_on_small_slices() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.6, 2_000)
    y = (rng.random(2_000) < p).astype(float)
    z = 2.5 * _logit(p)  # overconfident scores
    cal = Calibrator().fit(z, y, check=(z[:500], y[:500]))
    assert cal.method_ == "platt"
    assert cal.a_ == pytest.approx(0.4, abs=0.08)
    back = Calibrator.from_json(cal.to_json())
    np.testing.assert_allclose(back.transform(z), cal.transform(z))


def test_isotonic_on_large_slices_round_trips() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.6, 20_000)
    y = (rng.random(20_000) < p).astype(float)
    z = 2.5 * _logit(p)
    cal = Calibrator().fit(z, y)
    assert cal.method_ == "isotonic"
    out = cal.transform(z)
    assert abs(out.mean() - y.mean()) < 0.01
    back = Calibrator.from_json(cal.to_json())
    np.testing.assert_array_equal(back.transform(z), out)


def test_seasonal_dip_in_one_slice_is_not_calibrated_away() -> None:
    rng = np.random.default_rng(4)
    p = np.full(3_000, 0.6)
    y_slice = (rng.random(3_000) < 0.5).astype(float)  # a dip only in the calibration slice
    y_before = (rng.random(3_000) < 0.6).astype(float)  # the window before: no dip
    cal = Calibrator().fit(_logit(p), y_slice, check=(_logit(p), y_before))
    assert cal.method_ == "none"


def test_confidence_from_bags() -> None:
    p = np.array([0.30, 0.20, 0.10])
    sure = np.array([[0.31, 0.20, 0.10], [0.29, 0.21, 0.09], [0.30, 0.19, 0.11]])
    unsure = np.array([[0.40, 0.20, 0.10], [0.20, 0.25, 0.15], [0.30, 0.15, 0.05]])
    a, b = top_vs_pool(sure, p), top_vs_pool(unsure, p)
    assert a.top_index == 0
    assert a.difference == pytest.approx(0.1)
    assert a.probability > 0.99
    assert 0.5 < b.probability < a.probability
    assert b.low < 0 < b.high


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=1, max_size=200),
    st.sampled_from([1.0, 1e-7, 0.999_999_9]),
)
def test_metrics_are_scikit_learns(rows: list[tuple[int, bool]], scale: float) -> None:
    """AUC, log loss, Brier and ECE equal scikit-learn's functions and the reliability
    table's weighted gaps (ties, one class, and probabilities beyond the clip included)."""
    from sklearn.metrics import brier_score_loss, log_loss

    p = np.array([r[0] for r in rows], dtype=np.float64) / 20 * scale
    y = np.array([r[1] for r in rows], dtype=np.float64)
    got = metrics(y, p)
    pc = np.clip(p, 1e-6, 1 - 1e-6)
    assert got["n"] == len(y)
    assert got["positives"] == y.sum()
    if 0 < y.sum() < len(y):
        assert got["auc"] == pytest.approx(roc_auc_score(y, pc), abs=1e-12)
    else:
        assert np.isnan(got["auc"])
    assert got["log_loss"] == pytest.approx(log_loss(y, pc, labels=[0, 1]), rel=1e-12)
    assert got["brier"] == pytest.approx(brier_score_loss(y, pc), rel=1e-12, abs=1e-15)
    table = reliability_table(y, pc)
    gaps = (table["observed"] - table["predicted"]).abs() * table["n"]
    assert got["ece"] == pytest.approx(gaps.sum() / table["n"].sum(), abs=1e-12)


def test_metrics_by_group_is_metrics_of_each_group() -> None:
    rng = np.random.default_rng(4)
    n = 3_000
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = np.clip(0.3 + 0.2 * (y - 0.3) + rng.normal(0, 0.1, n), 0.01, 0.99)
    groups = pd.Series(rng.choice(["a", "b", "c", None, "tiny"], n, p=[0.4, 0.3, 0.2, 0.09, 0.01]))
    got = metrics_by_group(y, p, groups)
    keys = groups.where(groups.notna(), "(missing)")
    sizes = keys.value_counts()
    assert list(got["group"]) == [k for k in sizes.index if sizes[k] >= 30]
    for _, row in got.iterrows():
        mask = (keys == row["group"]).to_numpy()
        assert row.drop("group").to_dict() == metrics(y[mask], p[mask])
