"""``ConversionModel``: calibrated P(convert | lead, rep) from a bagged LightGBM ensemble.

A scikit-learn estimator (``get_params`` / ``set_params`` / ``sklearn.base.clone`` work,
parameters validated from ``_parameter_constraints``). ``fit`` keeps what training learned
as one record, ``fitted_`` (:class:`~leadpilot.model.fitted.FittedConversion`); the
out-of-time evaluation is :func:`leadpilot.model.evaluation.evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from leadpilot.errors import ModelError
from leadpilot.model.artifacts import load_fitted, save_fitted
from leadpilot.model.confidence import TopRepConfidence, top_vs_pool
from leadpilot.model.explain import describe_feature, explain_pair
from leadpilot.model.features import SEGMENTS
from leadpilot.model.fitted import FittedConversion
from leadpilot.model.scoring import (
    ModelBatchScores,
    candidate_probabilities,
    contributions,
    pair_probabilities,
    product_probabilities,
)
from leadpilot.model.training import (
    Progress,
    TrainingParams,
    reusable_choices,
    train,
    train_like,
)
from leadpilot.schema import TARGETS, CandidateScores, Lead

__all__ = [
    "TARGETS",
    "ConversionModel",
    "InvalidModelParameterError",
    "ModelNotFittedError",
]

NDF = NDArray[np.float64]


class InvalidModelParameterError(ModelError, InvalidParameterError):
    """A ``ConversionModel`` parameter has a value it does not accept (also scikit-learn's
    ``InvalidParameterError``, so scikit-learn tooling recognises it)."""


class ModelNotFittedError(ModelError, NotFittedError):
    """The model is used before ``fit`` or ``load`` (also scikit-learn's
    ``NotFittedError``)."""


def _positive(kind: type) -> Interval:
    return Interval(kind, 0, None, closed="neither")


class ConversionModel(BaseEstimator):
    """P(convert | lead, rep), calibrated, with the ensemble's confidence in its top rep.

    Parameters are only stored here (scikit-learn convention); ``fit`` checks them against
    ``_parameter_constraints``. The log-odds are a ridge-penalised logistic regression
    (lead attributes, rep, rep x ``interactions`` cells, role x segment cells, the roster's
    declared specialties and the leak-free shrunk track records) plus LightGBM trees
    boosted from it (native categoricals, early-stopped out of time), and with ``rep_trees``
    (the default) one small booster per rep on top, which learns where each rep beats or
    trails the team's prediction over any lead attribute or combination
    (:mod:`leadpilot.model.rep_trees`). Reps with little
    history are shrunk toward an "average rep" (weight ``n / (n + rep_prior_strength)``);
    probabilities are calibrated on a later slice when that slice shows miscalibration.
    ``n_bags`` refits of the linear part on random halves of the training period give the
    confidence. Every choice of training is made without the latest ``test_fraction`` of
    settled leads (what ``evaluate`` measures on); with ``refit_all`` (the default) the
    fitted model then learns from that slice too (same ridge strength and trees), when the
    calibration slice was folded in too: rep x segment cells are data-starved, and the
    latest leads are the most relevant.

    Example::

        model = ConversionModel(target="converted").fit(history, reps)
        scores = model.score_candidates(lead, ["rep-01", "rep-02"])
    """

    # The one declaration of what each parameter accepts (scikit-learn's convention; the
    # members of ``interactions`` are checked against SEGMENTS in ``_validate``).
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "target": [StrOptions(set(TARGETS))],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [_positive(Real)],
        "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "min_child_samples": [Interval(Integral, 1, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        # confidence comes from the spread of the bags: at least two
        "n_bags": [Interval(Integral, 2, None, closed="left")],
        "interactions": [tuple, list],
        "size_slopes": ["boolean"],
        "shrinkage": [_positive(Real)],
        "rep_prior_strength": [_positive(Real)],
        "test_fraction": [Interval(Real, 0, 0.5, closed="neither")],
        "calibration_fraction": [Interval(Real, 0, 0.5, closed="neither")],
        "calibration": [StrOptions({"auto", "isotonic", "platt", "none"})],
        "time_column": [StrOptions({"auto", "created_at", "closed_at", "file_order"})],
        "min_outcomes": [Interval(Integral, 1, None, closed="left")],
        "anon_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_jobs": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "refit_all": ["boolean"],
        "allow_leaky": [tuple, list],
        "rep_trees": ["boolean"],
    }

    fitted_: FittedConversion

    def __init__(
        self,
        *,
        target: str = "converted",
        n_estimators: int = 120,
        learning_rate: float = 0.1,
        early_stopping_rounds: int | None = 30,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        n_bags: int = 8,
        interactions: tuple[str, ...] = ("industry", "size_band"),
        size_slopes: bool = False,
        shrinkage: float = 20.0,
        rep_prior_strength: float = 10.0,
        test_fraction: float = 0.2,
        calibration_fraction: float = 0.1,
        calibration: str = "auto",
        time_column: str = "auto",
        min_outcomes: int = 500,
        anon_fraction: float = 0.1,
        n_jobs: int = 2,
        random_state: int = 0,
        refit_all: bool = True,
        allow_leaky: tuple[str, ...] = (),
        rep_trees: bool = True,
    ) -> None:
        self.target = target
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.n_bags = n_bags
        self.interactions = interactions
        self.size_slopes = size_slopes
        self.shrinkage = shrinkage
        self.rep_prior_strength = rep_prior_strength
        self.test_fraction = test_fraction
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.time_column = time_column
        self.min_outcomes = min_outcomes
        self.anon_fraction = anon_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.refit_all = refit_all
        self.allow_leaky = allow_leaky
        self.rep_trees = rep_trees

    # ----- parameters ------------------------------------------------------------------
    def training_params(self) -> TrainingParams:
        """The validated parameters as the training run's settings."""
        self._validate()
        params = self.get_params(deep=False)
        params["interactions"] = tuple(params["interactions"])
        params["allow_leaky"] = tuple(params["allow_leaky"])
        return TrainingParams(**params)

    def _validate(self) -> None:
        name = type(self).__name__
        params = self.get_params(deep=False)
        for param, constraints in self._parameter_constraints.items():
            try:  # one at a time, so the error knows which parameter it is about
                validate_parameter_constraints(
                    {param: constraints}, {param: params[param]}, caller_name=name
                )
            except InvalidParameterError as exc:
                raise InvalidModelParameterError(str(exc), hint=self._hint(param)) from None
        unknown = [s for s in self.interactions if s not in SEGMENTS]
        if unknown:
            raise InvalidModelParameterError(
                f"The 'interactions' parameter of {name} must be a tuple of segments "
                f"among {list(SEGMENTS)}. Got {unknown} instead.",
                hint=self._hint("interactions"),
            )

    def _hint(self, param: str) -> str:
        default = type(self)().get_params(deep=False)[param]
        return f"leave {param} out to use the default ({default!r}), or give an allowed value"

    # ----- fit -------------------------------------------------------------------------
    def fit(
        self,
        history: pd.DataFrame,
        reps: pd.DataFrame | None = None,
        *,
        progress: Progress | None = None,
        like: ConversionModel | None = None,
    ) -> ConversionModel:
        """Learn from a canonical history frame (``schema.HISTORY_COLUMNS``); ``reps`` is the
        optional roster (``schema.REP_COLUMNS``). The result is ``fitted_``; measure it out of
        time with :func:`leadpilot.model.evaluation.evaluate`.

        ``like``: a model fitted on nearly the same rows (e.g. another cross-fitting fold)
        whose out-of-time choices (ridge strength, trees, the rep-aware trees' rounds and
        clock) this fit reuses instead of making them again, when its calibration slice
        needed no map (else, and without ``like``, the full training run). Such a model
        only scores: its card's importance and rep effects are left empty."""
        params = self.training_params()
        # One BLAS thread: the linear fits are sparse and small-dense, and OpenBLAS threads
        # spin-waiting on a busy 2-core machine made them 10x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            earlier = like._fitted() if like is not None else None
            if earlier is not None and reusable_choices(earlier):
                fitted = train_like(params, history, earlier, reps)
            else:
                fitted = train(params, history, reps, progress)
        if progress is not None:
            progress("done", 1.0)
        return self.set_fitted(fitted)

    def set_fitted(self, fitted: FittedConversion) -> ConversionModel:
        """Use ``fitted`` (from ``training.train``, ``artifacts.load_fitted`` or a model
        registry) as this model's learned state; returns the model."""
        self.fitted_ = fitted
        return self

    def _fitted(self) -> FittedConversion:
        fitted = self.__dict__.get("fitted_")
        if fitted is None:
            raise ModelNotFittedError(
                "this ConversionModel is not fitted yet",
                hint="call fit(history) or ConversionModel.load(model_dir) first",
            )
        return fitted

    # ----- prediction --------------------------------------------------------------------
    def predict_proba(self, pairs: pd.DataFrame) -> NDF:
        """P(convert) of (lead, rep) pairs, shape ``(n_pairs,)``, as of the end of the history.

        ``pairs`` holds canonical lead columns, ``rep_id`` and optionally
        ``time_to_contact_hours`` (else each rep's historical median response time).
        """
        fitted = self._fitted()
        if not isinstance(pairs, pd.DataFrame):
            raise ModelError(
                "pairs must be a DataFrame of lead columns with a 'rep_id' column",
                hint="one row per (lead, rep) pair, canonical column names",
            )
        return pair_probabilities(fitted, pairs, n_jobs=self.n_jobs)

    def predict_proba_all(self, leads: pd.DataFrame, rep_ids: Sequence[str]) -> NDF:
        """P(convert) of every lead of ``leads`` (canonical lead columns) with every rep of
        ``rep_ids``, shape ``(n_leads, n_reps)``, each rep at its median response time: what
        ``predict_proba`` gives for the frame of every pair (the leads' own response times
        dropped), built without that frame."""
        return product_probabilities(self._fitted(), leads, rep_ids, n_jobs=self.n_jobs)

    def score_candidates(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDF | None = None,
    ) -> CandidateScores:
        """Score one lead against many reps in one vectorised call (``schema.Scorer``).

        ``p`` (n_reps,) calibrated P(convert); ``confidence`` = P(top rep beats the pool
        average) across the bags; ``sufficiency`` (n_reps,) = n / (n + rep_prior_strength)
        with n the rep's labelled leads. Unknown reps score as an average rep with
        sufficiency 0.
        """
        fitted = self._fitted()
        if len(rep_ids) == 0:
            return CandidateScores(p=np.empty(0), confidence=0.0, sufficiency=np.empty(0))
        P, p, w = candidate_probabilities(
            fitted, lead, rep_ids, expected_response_hours, n_jobs=self.n_jobs
        )
        conf = top_vs_pool(P, p)
        return CandidateScores(p=p, confidence=conf.probability, sufficiency=w, draws=P)

    def score_batch(
        self,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDF | None = None,
    ) -> ModelBatchScores:
        """Score every (lead, rep) pair of a batch in one vectorised model call
        (``schema.BatchScorer``); ``.candidates(row, cols)`` is ``score_candidates`` of
        ``leads[row]`` and those reps, ``.p`` the whole roster's ``(n_leads, n_reps)``."""
        return ModelBatchScores(
            self._fitted(), leads, rep_ids, expected_response_hours, n_jobs=self.n_jobs
        )

    def confidence_detail(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDF | None = None,
    ) -> TopRepConfidence:
        """The top rep's edge over the pool average with its interval (see
        :class:`~leadpilot.model.confidence.TopRepConfidence`)."""
        P, p, _ = candidate_probabilities(
            self._fitted(), lead, rep_ids, expected_response_hours, n_jobs=self.n_jobs
        )
        return top_vs_pool(P, p)

    @property
    def version(self) -> str:
        """Version id logged with every decision (a hash of the fitted model's content)."""
        return self._fitted().version

    # ----- explanations and persistence ---------------------------------------------------
    def explain(self, lead: Lead, rep_id: str, versus: str | None = None) -> list[str]:
        """Top reasons, in sales-manager words, why ``rep_id`` scores as it does for ``lead``
        compared with ``versus`` (another rep) or with an average rep."""
        return explain_pair(self._fitted(), lead, rep_id, versus)

    def contributions(self, X: NDF) -> dict[str, NDF]:
        """Log-odds contribution of each input to the full model, per row of a feature matrix:
        the linear part's terms plus the trees' SHAP values (LightGBM ``pred_contrib``)."""
        fitted = self._fitted()
        return contributions(fitted.glm, fitted.boosters, fitted.feature_names, X)

    def feature_importance(self) -> pd.DataFrame:
        """Global importance: each input's share of the mean absolute contribution on the
        latest settled leads (linear terms and tree SHAP values together)."""
        rows = self._fitted().importance
        return pd.DataFrame(
            {
                "feature": [r["feature"] for r in rows],
                "meaning": [describe_feature(r["feature"]) for r in rows],
                "share": [float(r["share"]) for r in rows],
            }
        )

    def save(self, directory: str | Path) -> Path:
        """Write the model to ``directory`` (LightGBM text files + ``model.json``)."""
        return save_fitted(self._fitted(), self.get_params(deep=False), Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> ConversionModel:
        """Read a model written by :meth:`save`; raises ``ModelError`` if it is invalid."""
        params, fitted = load_fitted(Path(directory))
        try:
            model = cls(**params)
            model.training_params()
        except (TypeError, ModelError) as exc:
            raise ModelError(
                f"{directory} holds parameters this release does not accept ({exc})",
                hint="retrain it with `leadpilot train HISTORY --out MODEL_DIR`",
            ) from None
        return model.set_fitted(fitted)
