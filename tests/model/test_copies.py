"""Rows that are copies of one lead (the retrain's inverse-propensity row counts): grouped
by hand-checked ids, counted as leads by the calibration test, resampled together by the
bootstraps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from leadpilot.copies import LeadBootstrap, copy_id, effective_size, lead_groups, source_id
from leadpilot.model.calibration import CHI2_2DF_95, Calibrator
from leadpilot.model.metrics import auc_differences


def test_lead_groups_by_hand() -> None:
    ids = ["a", "b", copy_id("b", 1), copy_id("b", 2), "c#1", None, "d", "a", float("nan")]
    # b#1, b#2 copy b; c#1 has no "c" row, so it is a lead; missing ids are leads each;
    # a repeated id is the same lead
    assert list(lead_groups(ids)) == [0, 1, 1, 1, 2, 3, 4, 0, 5]
    assert copy_id("x", 0) == "x"


def test_effective_size_by_hand() -> None:
    # copy counts 1, 3, 2: (6)^2 / (1 + 9 + 4)
    assert effective_size(np.array([0, 1, 1, 1, 2, 2])) == pytest.approx(36 / 14)
    assert effective_size(np.arange(7)) == pytest.approx(7.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=30), st.integers(0, 2**31))
def test_lead_bootstrap_draws_whole_leads(counts: list[int], seed: int) -> None:
    groups = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(seed)
    idx = LeadBootstrap(groups).draw(rng)
    picked = np.random.default_rng(seed).integers(0, len(counts), len(counts))
    # the drawn leads' rows, each lead's rows together, in the order drawn
    expected = np.concatenate([np.flatnonzero(groups == g) for g in picked])
    np.testing.assert_array_equal(idx, expected)


def test_lead_bootstrap_of_one_row_per_lead_is_the_row_bootstrap() -> None:
    boot = LeadBootstrap(np.arange(50))
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(5):
        np.testing.assert_array_equal(boot.draw(a), b.integers(0, 50, 50))


def _lr_statistic(z: np.ndarray, y: np.ndarray) -> float:
    """2 x log-likelihood gain of Platt scaling over the identity, fitted by scipy (an
    implementation independent of the calibrator's scikit-learn one)."""

    def nll(ab: np.ndarray) -> float:
        t = ab[0] * z + ab[1]
        return float(np.sum(np.logaddexp(0.0, t) - y * t))

    best = minimize(nll, np.array([1.0, 0.0]), method="BFGS").fun
    return 2.0 * (nll(np.array([1.0, 0.0])) - best)


def test_a_slice_of_copies_is_judged_as_its_leads() -> None:
    """300 leads, mildly miscalibrated: on the leads once the statistic is below the 5%
    threshold (no map); each lead kept three times triples it past the threshold unless
    the rows are known to be copies."""
    rng = np.random.default_rng(11)
    p = rng.uniform(0.05, 0.5, 300)
    y = (rng.random(300) < p).astype(float)
    z = 1.25 * np.log(p / (1 - p))  # somewhat overconfident
    stat = _lr_statistic(z, y)
    assert CHI2_2DF_95 / 3 < stat < CHI2_2DF_95  # the case this test is about
    assert Calibrator().fit(z, y).method_ == "none"
    z3, y3, g3 = np.repeat(z, 3), np.repeat(y, 3), np.repeat(np.arange(300), 3)
    assert Calibrator().fit(z3, y3).method_ == "platt"  # the copies taken for evidence
    assert Calibrator().fit(z3, y3, groups=g3).method_ == "none"
    # one row per lead: the groups change nothing
    assert Calibrator().fit(z, y, groups=np.arange(300)).method_ == "none"


def test_a_clear_miscalibration_in_copies_is_still_mapped() -> None:
    rng = np.random.default_rng(12)
    p = rng.uniform(0.05, 0.5, 300)
    y = (rng.random(300) < p).astype(float)
    z = 3.0 * np.log(p / (1 - p))
    assert _lr_statistic(z, y) > 3 * CHI2_2DF_95
    cal = Calibrator().fit(np.repeat(z, 3), np.repeat(y, 3), groups=np.repeat(np.arange(300), 3))
    assert cal.method_ == "platt"
    assert cal.a_ == pytest.approx(1 / 3, abs=0.1)


def test_auc_bootstrap_of_copies_equals_the_leads_once() -> None:
    """Each lead kept three times, resampled by lead: the same figures as the leads once
    (a lead's copies share its score and outcome and its bootstrap weight)."""
    rng = np.random.default_rng(5)
    y = (rng.random(400) < 0.25).astype(float)
    model = y + rng.normal(0, 1.0, 400)
    other = np.round(y + rng.normal(0, 1.5, 400))  # ties across leads
    once = auc_differences(y, model, {"o": other}, n_boot=60, seed=2)["o"]
    g = np.repeat(np.arange(400), 3)
    copies = auc_differences(y[g], model[g], {"o": other[g]}, n_boot=60, seed=2, groups=g)["o"]
    for key in ("auc_diff", "auc_diff_low", "auc_diff_high", "brier_diff_low"):
        assert copies[key] == pytest.approx(once[key], abs=1e-12)
    rows = auc_differences(y[g], model[g], {"o": other[g]}, n_boot=60, seed=2)["o"]
    # drawing the rows instead understates the spread about sqrt(3) times
    width = once["auc_diff_high"] - once["auc_diff_low"]
    assert rows["auc_diff_high"] - rows["auc_diff_low"] < 0.75 * width
    # groups of one row each are the plain row bootstrap, number for number
    assert auc_differences(y, model, {"o": other}, n_boot=60, seed=2, groups=np.arange(400)) == (
        auc_differences(y, model, {"o": other}, n_boot=60, seed=2)
    )


def test_source_id_strips_only_a_copy_mark_the_lead_does_not_own() -> None:
    known = {"L1", "acct#x", "web#7"}.__contains__
    assert source_id("L1", known) == "L1"
    assert source_id("L1#3", known) == "L1"  # a copy
    assert source_id("acct#x", known) == "acct#x"  # the mark, not a copy number
    assert source_id("acct#x#2", known) == "acct#x"  # a copy of it
    assert source_id("web#7", known) == "web#7"  # a lead whose own id ends #7
    assert source_id("web#7#1", known) == "web#7"
