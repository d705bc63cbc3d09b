"""``ConversionModel.fit(..., like=...)``: a fit that reuses another fit's out-of-time choices
(the cross-fitted outcome models of ``simulate``)."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.errors import ModelError
from leadpilot.model import (
    ConversionModel,  # type: ignore[attr-defined]
    training,
)
from leadpilot.synth import generate_world


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(n_leads=6_000, n_reps=6, n_new_leads=100, seed=2)


def test_same_rows_and_choices_give_the_full_runs_model(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On the same rows, the choices of a full training run make the same final fit: the
    probabilities agree (the linear part starts cold instead of warm, so to the solver's
    tolerance), and the choices are the full run's; no choice is made again."""
    hist = world.history
    full = ConversionModel(n_bags=2).fit(hist, world.reps)
    assert training.reusable_choices(full.fitted_)
    assert full.fitted_.rep_rounds > 0  # the rep-aware trees are part of what is reused
    chosen: list[str] = []
    real_choose_c, real_rounds = training._choose_c, training.fit_rep_trees
    monkeypatch.setattr(
        training, "_choose_c", lambda *a, **k: chosen.append("C") or real_choose_c(*a, **k)
    )

    def rounds(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("rounds") is None:
            chosen.append("rep rounds")
        return real_rounds(*args, **kwargs)

    monkeypatch.setattr(training, "fit_rep_trees", rounds)
    like = ConversionModel(n_bags=2).fit(hist, world.reps, like=full)
    assert chosen == []
    a, b = full.fitted_, like.fitted_
    assert (b.glm_c, b.n_rounds, b.rep_rounds) == (a.glm_c, a.n_rounds, a.rep_rounds)
    assert b.training_window["final_fit_rows"] == a.training_window["final_fit_rows"]
    leads = world.new_leads
    reps = list(world.reps["rep_id"])
    p_full, p_like = full.predict_proba_all(leads, reps), like.predict_proba_all(leads, reps)
    assert np.abs(p_full - p_like).max() < 2e-3
    # without ``like`` the same call is the full run, bit for bit
    again = ConversionModel(n_bags=2).fit(hist, world.reps)
    assert np.array_equal(again.predict_proba_all(leads, reps), p_full)


def test_choices_are_not_reused_from_a_calibrated_model(world) -> None:  # type: ignore[no-untyped-def]
    """A model whose calibration slice needed a map has no plain refit to copy: ``like`` is
    then ignored (the full run), and ``train_like`` refuses it."""
    hist = world.history.iloc[:4_000]
    full = ConversionModel(n_bags=2).fit(hist, world.reps)
    full.fitted_.calibrator.method_ = "platt"
    assert not training.reusable_choices(full.fitted_)
    again = ConversionModel(n_bags=2).fit(hist, world.reps, like=full)
    plain = ConversionModel(n_bags=2).fit(hist, world.reps)
    leads, reps = world.new_leads, list(world.reps["rep_id"])
    assert np.array_equal(
        again.predict_proba_all(leads, reps), plain.predict_proba_all(leads, reps)
    )
    with pytest.raises(ModelError, match="no map"):
        training.train_like(full.training_params(), hist, full.fitted_, world.reps)
