"""``ConversionModel`` as a scikit-learn estimator: parameters, clone, validation, fitted
state, and scikit-learn's own estimator checks where they apply.

Which checks apply. ``ConversionModel.fit`` takes a DataFrame of past leads (outcome column
inside, a rep per lead), not a numeric ``X`` and a ``y``; ``predict_proba`` takes (lead,
rep) pairs. So every check that fits on generated numeric arrays (``check_fit2d_*``,
``check_classifiers_*``, ``check_estimators_dtypes``, ``check_fit_idempotent``,
``check_estimators_pickle``, ``check_n_features_in*``, sample-weight, sparse and array-API
checks...) cannot run; the ones below need no fit, or stop before the data is read
(parameter validation comes first, and an unfitted model refuses before reading its input).
What the fitting checks protect (fit leaves the parameters alone, refitting gives the same
model, ``check_is_fitted``) is tested here on a lead history instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FAST
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec
from sklearn.utils.validation import check_is_fitted
from worlds import ToyWorld

from leadpilot.errors import ModelError
from leadpilot.model import ConversionModel
from leadpilot.schema import Lead

APPLICABLE_CHECKS = (
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_param_validation,
    ec.check_estimators_unfitted,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_mixin_order,
)


@pytest.mark.parametrize("check", APPLICABLE_CHECKS, ids=lambda c: c.__name__)
def test_scikit_learn_estimator_check(check) -> None:  # type: ignore[no-untyped-def]
    check("ConversionModel", ConversionModel(n_bags=3, interactions=("industry",)))


def test_clone_get_params_and_set_params() -> None:
    model = ConversionModel(target="closed_won", n_bags=4, interactions=("region",))
    params = model.get_params(deep=True)
    assert params == model.get_params(deep=False)
    assert params["target"] == "closed_won"
    assert params["n_bags"] == 4
    assert params["interactions"] == ("region",)
    twin = clone(model)
    assert twin is not model
    assert twin.get_params() == params
    assert twin.set_params(n_bags=5, refit_all=False) is twin
    assert (twin.n_bags, twin.refit_all) == (5, False)
    assert model.n_bags == 4  # the original is untouched
    with pytest.raises(ValueError, match="Invalid parameter 'bags'"):
        twin.set_params(bags=3)


def test_constraints_cover_every_parameter_once() -> None:
    assert set(ConversionModel._parameter_constraints) == set(ConversionModel().get_params())


def test_fit_leaves_parameters_alone_and_is_repeatable(world: ToyWorld) -> None:
    small = world.history.iloc[:2_000]
    model = ConversionModel(**FAST, interactions=["industry"])
    before = model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    model.fit(small, world.reps)
    check_is_fitted(model)
    assert model.get_params() == before
    assert isinstance(model.interactions, list)  # not converted behind the user's back
    again = clone(model).fit(small, world.reps)
    assert again.version == model.version  # deterministic under its random_state
    assert not hasattr(clone(model), "fitted_")  # clone copies parameters, not the fit


def test_unfitted_errors_are_model_errors_and_not_fitted_errors() -> None:
    with pytest.raises(ModelError, match="not fitted") as e:
        ConversionModel().predict_proba(np.zeros((2, 3)))  # type: ignore[arg-type]
    assert isinstance(e.value, NotFittedError)


FORMAT_V1 = Path(__file__).parents[1] / "fixtures" / "model" / "format_v1"


def test_models_saved_before_the_fitted_record_still_load(tmp_path: Path) -> None:
    """A folder written by the release before ``FittedConversion`` (format 1, saved from a
    1,500-lead toy world) loads and scores exactly as it did then (values printed by that
    release), and saves again in the current format."""
    model = ConversionModel.load(FORMAT_V1)
    assert model.version == "cm-6db02188da5e"
    assert model.get_params()["interactions"] == ("industry",)
    lead = Lead(
        lead_id="n1",
        industry="Software",
        source="Web",
        size_band="11-50",
        region="EMEA",
        engagement_score=60.0,
        company_size=40.0,
    )
    s = model.score_candidates(lead, ["rep-00", "rep-01", "rep-02", "rep-03"])
    then = [0.23452383368465948, 0.1717183198225429, 0.219774615471475, 0.1429866319401005]
    np.testing.assert_allclose(s.p, then, rtol=1e-12)
    assert model.feature_importance()["feature"].iloc[0] == "engagement_score"
    model.save(tmp_path / "m")
    again = ConversionModel.load(tmp_path / "m")
    assert again.version == model.version
    reps = ["rep-00", "rep-01", "rep-02", "rep-03"]
    np.testing.assert_array_equal(again.score_candidates(lead, reps).p, s.p)
