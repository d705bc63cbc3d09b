"""Empirical-Bayes shrinkage: small cells pulled toward their prior, big cells trusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from leadpilot.analyze import analyze
from leadpilot.analyze.shrinkage import KAPPA_MAX, fit_concentration, shrink


def test_three_for_three_ranks_below_forty_of_a_hundred() -> None:
    rng = np.random.default_rng(7)
    rows = []
    reps = [f"rep-{i}" for i in range(8)]
    industries = ["Software", "Retail", "Finance", "Energy"]
    for rep in reps:
        for ind in industries:
            n = 60
            k = rng.binomial(n, 0.25)
            rows += [(rep, ind, True)] * k + [(rep, ind, False)] * (n - k)
    rows += [("rep-A", "Software", True)] * 3  # 3 of 3
    rows += [("rep-A", "Retail", False)] * 40 + [("rep-A", "Retail", True)] * 10
    rows += [("rep-B", "Software", True)] * 40 + [("rep-B", "Software", False)] * 60  # 40/100
    rows += [("rep-B", "Retail", False)] * 30 + [("rep-B", "Retail", True)] * 10
    frame = pd.DataFrame(rows, columns=["rep_id", "industry", "converted"])
    frame["converted"] = frame["converted"].astype("boolean")
    analysis = analyze(frame, min_leads=3, seed=1)
    cells = analysis.cells["industry"].set_index(["rep", "segment"])
    small = cells.loc[("rep-A", "Software")]
    big = cells.loc[("rep-B", "Software")]
    assert small["rate"] == 1.0
    assert big["rate"] == 0.4
    assert small["shrunk"] < big["shrunk"]
    # the heat map ranks them the same way, and the raw 100% never shows as the shrunk rate
    grid = analysis.to_dict()["segment_heatmaps"]["industry"]
    col = grid["segments"].index("Software")
    shrunk = {r: grid["cells"][i][col]["shrunk"] for i, r in enumerate(grid["reps"])}
    assert shrunk["rep-A"] < shrunk["rep-B"] < 1.0


def test_posterior_is_the_beta_binomial_update() -> None:
    post = shrink([3, 40], [3, 100], [0.25, 0.25], kappa=20.0)
    np.testing.assert_allclose(post.alpha, [3 + 5, 40 + 5])
    np.testing.assert_allclose(post.beta, [0 + 15, 60 + 15])
    np.testing.assert_allclose(post.mean, [8 / 23, 45 / 120])
    low, high = post.interval()
    np.testing.assert_allclose(low, stats.beta.ppf(0.025, post.alpha, post.beta))
    assert np.all(low < post.mean)
    assert np.all(post.mean < high)


def test_concentration_recovers_a_known_prior_strength() -> None:
    rng = np.random.default_rng(11)
    true_kappa, mean = 40.0, 0.3
    p = rng.beta(true_kappa * mean, true_kappa * (1 - mean), size=3000)
    n = rng.integers(20, 200, size=3000)
    k = rng.binomial(n, p)
    kappa = fit_concentration(k, n, np.full(3000, mean))
    assert 32 < kappa < 50


def test_binomial_noise_pools_heavily_and_no_spread_pools_completely() -> None:
    rng = np.random.default_rng(5)
    n = np.full(400, 100)
    k = rng.binomial(n, 0.3)
    # cells that differ only by binomial noise: the prior outweighs each cell's 100 leads
    assert fit_concentration(k, n, np.full(400, 0.3)) > 300
    # no spread at all (under-dispersed): the likelihood peaks at infinity -> full pooling
    assert fit_concentration(np.full(400, 30), n, np.full(400, 0.3)) == KAPPA_MAX


def test_evidence_caps_the_prior_strength_of_intervals() -> None:
    capped = shrink([5], [10], [0.3], kappa=KAPPA_MAX, evidence=[50])
    assert capped.alpha[0] + capped.beta[0] == 60
