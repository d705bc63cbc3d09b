"""The audit's additive model: its prior spreads learned from the data, and the spread of
rep x segment effects integrated out of the posterior draws."""

from __future__ import annotations

import math

import numpy as np

from leadpilot.analyze.additive import (
    INTERACTION_SDS,
    MAIN_SDS,
    AdditiveModel,
    fit_additive,
    spread_weights,
)


def test_spread_weights_are_the_evidence_normalised() -> None:
    # log evidences 0, -1 and -20: by hand, e^0 / (1 + e^-1) = 0.7311, e^-1 / (1 + e^-1) =
    # 0.2689, and e^-20 (2e-9 of the total) is dropped
    w = spread_weights(np.array([0.0, -1.0, -20.0]))
    np.testing.assert_allclose(w, [0.731059, 0.268941, 0.0], atol=1e-6)
    # only differences count: adding a constant to every evidence changes nothing
    np.testing.assert_allclose(spread_weights(np.array([-500.0, -501.0, -520.0])), w)


def _constant_model(rate: float) -> AdditiveModel:
    """Two reps, one segment value, every coefficient zero but the intercept; a posterior so
    narrow that each draw gives ``rate``."""
    n_cols = 2 * (1 + 1) + 1
    return AdditiveModel(
        n_reps=2,
        dim_sizes=(1,),
        cov_sizes=(),
        intercept=math.log(rate / (1 - rate)),
        coef=np.zeros(n_cols),
        covariance=np.eye(n_cols + 1) * 1e-12,
    )


def test_posterior_draws_come_from_each_spread_in_proportion_to_its_weight() -> None:
    low, high = _constant_model(0.10), _constant_model(0.30)
    mixed = AdditiveModel(
        **{**low.__dict__, "components": ((0.25, low), (0.75, high))},
    )
    seg_values = [np.array([0])]
    mix = np.ones((1, 1))
    levels = np.zeros((1, 0), dtype=np.intp)
    draws = mixed.posterior_segment_rates(seg_values, mix, levels, np.random.default_rng(3), 4000)
    assert draws.shape == (4000, 2, 1)
    from_low = np.isclose(draws[:, 0, 0], 0.10, atol=1e-6)
    assert np.all(from_low | np.isclose(draws[:, 0, 0], 0.30, atol=1e-6))
    # 1,000 expected from the 0.25 component; 4 binomial sd is +-110
    assert abs(int(from_low.sum()) - 1000) < 110
    # shuffled: the first half holds about as many as the second
    assert abs(int(from_low[:2000].sum()) - int(from_low[2000:].sum())) < 160
    # a model without components draws from its own posterior only
    own = low.posterior_segment_rates(seg_values, mix, levels, np.random.default_rng(3), 10)
    np.testing.assert_allclose(own, 0.10, atol=1e-6)


def _history(
    rng: np.random.Generator, n: int, value_effect: float, interaction: float
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """n leads, 6 reps (skills -0.3..0.3), 8 segment values with main effects of spread
    ``value_effect`` and rep x value effects of spread ``interaction`` (log-odds)."""
    rep = rng.integers(0, 6, n)
    value = rng.integers(0, 8, n)
    mains = value_effect * np.linspace(-1.5, 1.5, 8)
    inter = interaction * rng.standard_normal((6, 8))
    z = -1.5 + np.linspace(-0.3, 0.3, 6)[rep] + mains[value] + inter[rep, value]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return y, rep.astype(np.intp), [value.astype(np.intp)]


def _fit(y: np.ndarray, rep: np.ndarray, dims: list[np.ndarray]) -> AdditiveModel:
    return fit_additive(y, rep, dims, [], n_reps=6, dim_sizes=(8,), cov_sizes=())


def test_the_values_main_effects_are_shrunk_as_far_as_the_data_allow() -> None:
    rng = np.random.default_rng(11)
    # segment values that do not matter: the chosen spread is among the tightest
    flat = _fit(*_history(rng, 3000, 0.0, 0.0))
    assert flat.main_sd <= MAIN_SDS[1]
    # values whose rates differ by 3 log-odds end to end: a loose spread
    steep = _fit(*_history(rng, 3000, 1.0, 0.0))
    assert steep.main_sd >= 0.6
    _, _, mains, _, _ = steep.tables()
    # and their estimates stay close to the truth (-1.5 .. +1.5, centred)
    np.testing.assert_allclose(
        mains[0][0] - mains[0][0].mean(), np.linspace(-1.5, 1.5, 8), atol=0.35
    )


def test_every_candidate_spread_is_weighted_by_its_evidence() -> None:
    rng = np.random.default_rng(5)
    model = _fit(*_history(rng, 4000, 0.5, 0.4))
    weights = [w for w, _ in model.components]
    assert math.isclose(sum(weights), 1.0)
    spreads = [m.interaction_sd for _, m in model.components]
    assert set(spreads) <= set(INTERACTION_SDS)
    assert model.interaction_sd in spreads
    # each component shares the chosen rep and value spreads; only the interactions' differ
    assert {(m.rep_sd, m.main_sd) for _, m in model.components} == {(model.rep_sd, model.main_sd)}
    # a spread that is given, not chosen, has nothing to integrate over
    given = fit_additive(
        *_history(rng, 500, 0.5, 0.4),
        [],
        n_reps=6,
        dim_sizes=(8,),
        cov_sizes=(),
        interaction_sd=0.3,
        rep_sd=0.3,
        main_sd=0.5,
    )
    assert given.components == ()


def test_each_dimension_gets_its_own_interaction_spread() -> None:
    # 6 reps, two routing dimensions of 8 values: rep x dimension-0 effects of spread 0.6
    # log-odds, none at all for dimension 1: each block's own spread should be loose for
    # dimension 0 and tight for dimension 1.
    rng = np.random.default_rng(21)
    n = 30_000
    rep = rng.integers(0, 6, n)
    v0, v1 = rng.integers(0, 8, n), rng.integers(0, 8, n)
    inter = 0.6 * rng.standard_normal((6, 8))
    z = -1.2 + np.linspace(-0.3, 0.3, 6)[rep] + inter[rep, v0]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    codes = [v0.astype(np.intp), v1.astype(np.intp)]
    model = fit_additive(
        y, rep.astype(np.intp), codes, [], n_reps=6, dim_sizes=(8, 8), cov_sizes=()
    )
    assert model.block_sds[0] >= 0.45
    assert model.block_sds[1] <= 0.1
    assert model.interaction_sd == max(model.block_sds)
    # the tables carry each block's own scale: dimension 1's effects are near zero, dimension
    # 0's track the truth (centred per rep, as the rep term carries each rep's level)
    _, _, _, _, inters = model.tables()
    assert np.abs(inters[1][0]).max() < 0.1
    est = inters[0][0] - inters[0][0].mean(axis=1, keepdims=True)
    truth = inter - inter.mean(axis=1, keepdims=True)
    assert np.corrcoef(est.ravel(), truth.ravel())[0, 1] > 0.9
    # the posterior mixes combinations of per-block spreads from the grid, weights summing to 1
    assert math.isclose(sum(w for w, _ in model.components), 1.0)
    for _, m in model.components:
        assert len(m.block_sds) == 2
        assert set(m.block_sds) <= set(INTERACTION_SDS)
    assert model.block_sds in {m.block_sds for _, m in model.components}
    # given per-block spreads are used as they are, with nothing to integrate over
    given = fit_additive(
        y[:3000],
        rep[:3000].astype(np.intp),
        [c[:3000] for c in codes],
        [],
        n_reps=6,
        dim_sizes=(8, 8),
        cov_sizes=(),
        rep_sd=0.3,
        main_sd=0.5,
        block_sds=(0.45, 0.02),
    )
    assert given.block_sds == (0.45, 0.02)
    assert given.components == ()
