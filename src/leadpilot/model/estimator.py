"""``ConversionModel``: calibrated P(convert | lead, rep) from a bagged LightGBM ensemble."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from leadpilot.errors import ModelError
from leadpilot.model.calibration import Calibrator
from leadpilot.model.confidence import TopRepConfidence, top_vs_pool
from leadpilot.model.features import (
    LEAD_CATEGORICALS,
    REP_CATEGORICALS,
    REP_NUMERICS,
    SEGMENTS,
    FeatureState,
    _sanitize,
    extra_columns,
    fit_feature_state,
    history_matrix,
    order_by_time,
    pair_matrix,
    target_values,
)
from leadpilot.model.glm import GLMStack
from leadpilot.model.guards import (
    LeakageWarning,
    check_trainable,
    drop_unsettled_tail,
    find_leaky_columns,
)
from leadpilot.schema import CandidateScores, Lead, size_band_of

__all__ = ["TARGETS", "ConversionModel"]

NDF = NDArray[np.float64]
TARGETS: tuple[str, ...] = ("converted", "closed_won")
_LEAK_CANDIDATES: tuple[str, ...] = (
    *LEAD_CATEGORICALS,
    "company_size",
    "annual_revenue",
    "engagement_score",
    "time_to_contact_hours",
    "first_contact_at",
)
Progress = Callable[[str, float], None]


def _rep_dependent(name: str) -> bool:
    return name in REP_CATEGORICALS or name in REP_NUMERICS or name.startswith("rep_x_")


def _extra(lead: Lead, column: str) -> Any:
    """An extra field of a lead; ingest's ``x_`` prefix may or may not be on either side."""
    value = lead.get(column)
    if value is None and column.startswith("x_"):
        value = lead.get(column[2:])
    return value


def _epoch_day(ts: datetime | None) -> float:
    if ts is None:
        return math.nan
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp() / 86_400.0


class ConversionModel:
    """P(convert | lead, rep), calibrated, with the ensemble's confidence in its top rep.

    Parameters are only stored here (scikit-learn convention); ``fit`` checks them.
    The log-odds are a ridge-penalised logistic regression (lead attributes, rep, rep x
    ``interactions`` cells, role x segment cells, the roster's declared specialties and the
    leak-free shrunk track records) plus LightGBM trees boosted from it (native categoricals,
    early-stopped out of time). Reps with little history are shrunk toward an "average rep"
    (weight ``n / (n + rep_prior_strength)``); probabilities are calibrated on a later slice
    when that slice shows miscalibration. ``n_bags`` refits of the linear part on random
    halves of the training period give the confidence. With ``refit_all`` (the default) the
    saved model is refit, after the evaluation, on every settled lead including the test
    slice (same ridge strength and trees), when the calibration slice was folded in too:
    rep x segment cells are data-starved, and the latest leads are the most relevant.

    Example::

        model = ConversionModel(target="converted").fit(history, reps)
        scores = model.score_candidates(lead, ["rep-01", "rep-02"])
    """

    # Learned state (set by fit or load), declared for type checkers.
    state_: FeatureState
    calibrator_: Calibrator
    boosters_: list[lgb.Booster]
    glm_: GLMStack
    glm_c_: float
    feature_names_: list[str]
    n_rounds_: int
    training_window_: dict[str, Any]
    metrics_: dict[str, Any]
    test_predictions_: pd.DataFrame
    evaluation_: dict[str, Any]
    dropped_columns_: list[dict[str, Any]]
    unsettled_rows_: int
    warnings_: list[str]
    version_: str

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

    # ----- parameters ------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (as scikit-learn's ``get_params``)."""
        names = [n for n in inspect.signature(ConversionModel.__init__).parameters if n != "self"]
        params = {n: getattr(self, n) for n in names}
        params["interactions"] = list(params["interactions"])  # JSON-friendly
        return params

    def _check_params(self) -> None:
        if self.target not in TARGETS:
            raise ModelError(
                f"target {self.target!r} is not supported",
                hint=f"use one of: {', '.join(TARGETS)}",
            )
        unknown = [s for s in self.interactions if s not in SEGMENTS]
        if unknown:
            raise ModelError(
                f"interactions {unknown} are not segments",
                hint=f"use any of: {', '.join(SEGMENTS)}",
            )
        if self.calibration not in ("auto", "isotonic", "platt", "none"):
            raise ModelError(
                f"calibration {self.calibration!r} is not supported",
                hint="use one of: auto, isotonic, platt, none",
            )
        if self.time_column not in ("auto", "created_at", "closed_at", "file_order"):
            raise ModelError(
                f"time_column {self.time_column!r} is not supported",
                hint="use one of: auto, created_at, closed_at, file_order",
            )
        if not (0 < self.test_fraction < 0.5 and 0 < self.calibration_fraction < 0.5):
            raise ModelError(
                "test_fraction and calibration_fraction must each be between 0 and 0.5",
                hint="the defaults are 0.2 and 0.1",
            )
        if self.n_bags < 2 or self.n_estimators < 1:
            raise ModelError(
                "n_bags must be at least 2 (confidence comes from their spread) and "
                "n_estimators at least 1",
                hint="the defaults are n_bags=8, n_estimators=120",
            )

    def _resolve_time_column(self, frame: pd.DataFrame) -> str | None:
        if self.time_column == "file_order":
            return None
        if self.time_column != "auto":
            return self.time_column
        y = target_values(frame, self.target)
        lab = ~np.isnan(y)
        if (
            self.target == "closed_won"
            and "closed_at" in frame
            and frame["closed_at"][lab].notna().mean() >= 0.95
        ):
            return "closed_at"  # closed deals: "latest" means most recently closed
        if "created_at" in frame and frame["created_at"].notna().any():
            return "created_at"
        return None

    # ----- fit -------------------------------------------------------------------------
    def fit(
        self,
        history: pd.DataFrame,
        reps: pd.DataFrame | None = None,
        *,
        progress: Progress | None = None,
    ) -> ConversionModel:
        """Learn from a canonical history frame (``schema.HISTORY_COLUMNS``); ``reps`` is the
        optional roster (``schema.REP_COLUMNS``). Evaluates on the latest ``test_fraction``
        and stores the results in ``evaluation_``."""
        from leadpilot.model.training import run_training

        self._check_params()
        for col in (self.target, "rep_id"):
            if col not in history:
                raise ModelError(
                    f"the history has no {col!r} column",
                    hint="read it with `leadpilot.ingest.read_history` or map that column",
                )
        report = progress or (lambda _stage, _frac: None)
        time_col = self._resolve_time_column(history)
        frame, rank = order_by_time(history, time_col)
        y_all = target_values(frame, self.target)
        self.unsettled_rows_ = 0
        if time_col == "created_at":
            frame, y_all, self.unsettled_rows_ = drop_unsettled_tail(frame, y_all, self.target)
        check_trainable(y_all, frame["rep_id"], target=self.target, min_outcomes=self.min_outcomes)
        report("checking for leakage", 0.02)
        extra_c, extra_n = extra_columns(frame, self.target)
        leaky = find_leaky_columns(frame, y_all, [*_LEAK_CANDIDATES, *extra_c, *extra_n])
        self.dropped_columns_ = []
        self.warnings_: list[str] = []
        for leak in leaky:
            msg = leak.message(self.target)
            warnings.warn(msg, LeakageWarning, stacklevel=2)
            self.warnings_.append(msg)
            self.dropped_columns_.append({"column": leak.column, "how": leak.how, "auc": leak.auc})
            frame = frame.drop(columns=[leak.column])
        report("building features", 0.05)
        state = fit_feature_state(frame, reps, target=self.target, shrinkage=self.shrinkage)
        X, rep_n_before = history_matrix(state, frame, rank)
        self.state_ = state
        # One BLAS thread: the linear fits are sparse and small-dense, and OpenBLAS threads
        # spin-waiting on a busy 2-core machine made them 10x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            run_training(self, frame, X, y_all, rep_n_before, time_col, report)
        self._prepare_scoring()
        report("done", 1.0)
        return self

    # ----- shared internals ---------------------------------------------------------------
    def _threads(self, n_rows: int) -> int:
        # Small jobs run faster on one thread: OpenMP spin-waits cost more than they save,
        # and far more on a busy machine.
        return 1 if n_rows < 100_000 else self.n_jobs

    def _lgb_params(self, seed: int, n_rows: int) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": 0.8,
            "cat_smooth": 20.0,
            "cat_l2": 10.0,
            "min_data_per_group": 50,
            "max_cat_to_onehot": 4,
            "max_bin": 63,
            "verbose": -1,
            "num_threads": self._threads(n_rows),
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "boosters_"):
            raise ModelError(
                "this ConversionModel is not fitted yet",
                hint="call fit(history) or ConversionModel.load(model_dir) first",
            )

    def _prepare_scoring(self) -> None:
        names = self.state_.feature_names
        self.feature_names_: list[str] = names
        self._pos = {n: i for i, n in enumerate(names)}
        self._rep_cols = np.array([i for i, n in enumerate(names) if _rep_dependent(n)])
        self._ttc_pos = self._pos["log_time_to_contact"]

    def _raw(self, X: NDF, *, full_only: bool = False) -> NDF:
        """(1 + n_bags, n_rows) log-odds: row 0 the full model, then the bags (each bag's
        linear part plus the shared trees); ``(1, n_rows)`` with ``full_only``."""
        G = self.glm_.margins(X, only=0 if full_only else None)
        threads = 1 if X.shape[0] < 20_000 else self.n_jobs
        for booster in self.boosters_:
            raw = np.asarray(booster.predict(X, raw_score=True, num_threads=threads))
            G += raw[None, :]
        return G

    def _shrink(self, Z: NDF, Z_anon: NDF, rep_n: NDF) -> NDF:
        w = rep_n / (rep_n + self.rep_prior_strength)
        return Z * w + Z_anon * (1.0 - w)

    def _anon(self, X: NDF) -> NDF:
        """The same rows with every rep-dependent feature unknown: an average rep."""
        A = X.copy()
        A[:, self._rep_cols] = np.nan
        return A

    def _history_proba(self, X: NDF, rep_n: NDF) -> tuple[NDF, NDF]:
        """(the full model's shrunk log-odds as (1, n), the same as (n,)) for many rows."""
        raw = self._raw(X, full_only=True)
        Z = self._shrink(raw, self._raw(self._anon(X), full_only=True), rep_n)
        return Z, Z[0]

    # ----- prediction --------------------------------------------------------------------
    def predict_proba(self, pairs: pd.DataFrame) -> NDF:
        """P(convert) of (lead, rep) pairs, shape ``(n_pairs,)``, as of the end of the history.

        ``pairs`` holds canonical lead columns, ``rep_id`` and optionally
        ``time_to_contact_hours`` (else each rep's historical median response time).
        """
        self._check_fitted()
        if "rep_id" not in pairs:
            raise ModelError("pairs need a 'rep_id' column", hint="one row per (lead, rep) pair")
        frame = pairs.copy()
        for col in (*LEAD_CATEGORICALS, "created_at"):
            if col not in frame:
                frame[col] = None
        X, ridx = pair_matrix(self.state_, frame)
        _, z = self._history_proba(X, self.state_.rep_n[ridx])
        return np.asarray(self.calibrator_.transform(z), dtype=np.float64)

    def _lead_vector(self, lead: Lead) -> NDF:
        st = self.state_
        v = np.full(len(self.feature_names_), np.nan)
        pos = self._pos
        band = lead.size_band or size_band_of(lead.company_size)
        for name in LEAD_CATEGORICALS:
            value = band if name == "size_band" else getattr(lead, name)
            v[pos[name]] = st.code(name, value)
        for col in st.extra_categoricals:
            v[pos[_sanitize(col)]] = st.code(_sanitize(col), _extra(lead, col))
        for col in st.extra_numerics:
            raw = _extra(lead, col)
            try:
                v[pos[_sanitize(col)]] = math.nan if raw is None else float(raw)
            except (TypeError, ValueError):
                v[pos[_sanitize(col)]] = math.nan
        if lead.company_size is not None:
            v[pos["log_company_size"]] = math.log1p(max(float(lead.company_size), 0.0))
        if lead.annual_revenue is not None:
            v[pos["log_annual_revenue"]] = math.log1p(max(float(lead.annual_revenue), 0.0))
        if lead.engagement_score is not None:
            v[pos["engagement_score"]] = float(lead.engagement_score)
        if lead.created_at is not None:
            ts = lead.created_at
            if ts.tzinfo is not None:
                ts = ts.astimezone(UTC)
            v[pos["created_hour"]] = ts.hour
            v[pos["created_weekday"]] = ts.weekday()
        return v

    def _candidate_matrix(
        self, lead: Lead, rep_ids: Sequence[str], hours: NDF | None
    ) -> tuple[NDF, NDF]:
        """(n_reps + 1, n_features) rows: one per rep, then the average-rep row; and the
        labelled-history count of each rep."""
        st = self.state_
        n = len(rep_ids)
        ridx = np.empty(n + 1, dtype=np.int64)
        ridx[:n] = st.rep_indices(rep_ids)
        ridx[n] = st.n_reps
        lead_vec = self._lead_vector(lead)
        X = np.empty((n + 1, lead_vec.shape[0]))
        X[:] = lead_vec
        seg_codes = {}
        for s in SEGMENTS:
            c = lead_vec[self._pos[s]]
            seg_codes[s] = np.int64(len(st.levels[s]) if math.isnan(c) else int(c))
        day = _epoch_day(lead.created_at)
        day = st.end_day if math.isnan(day) else day
        block = st.rep_block(
            ridx,
            seg_codes,  # type: ignore[arg-type]
            lead_vec[self._pos["industry"]],
            lead_vec[self._pos["region"]],
            day,  # type: ignore[arg-type]
        )
        pos = self._pos
        for name, col in block.items():
            X[:, pos[name]] = col
        if hours is not None:
            ttc = np.log1p(np.clip(np.asarray(hours, dtype=np.float64), 0.0, None))
        else:
            ttc = np.log1p(st.rep_ttc_median[ridx[:n]])
        X[:n, self._ttc_pos] = ttc
        X[n, self._ttc_pos] = np.nanmean(ttc) if np.isfinite(ttc).any() else np.nan
        X[n, self._rep_cols] = np.nan
        return X, st.rep_n[ridx[:n]]

    def _candidate_bags(
        self, lead: Lead, rep_ids: Sequence[str], hours: NDF | None
    ) -> tuple[NDF, NDF, NDF]:
        if hours is not None and len(hours) != len(rep_ids):
            raise ModelError(
                f"expected_response_hours has {len(hours)} values for {len(rep_ids)} reps",
                hint="pass one expected response time per rep, in the order of rep_ids",
            )
        X, rep_n = self._candidate_matrix(lead, rep_ids, hours)
        Z = self._raw(X)
        n = len(rep_ids)
        w = rep_n / (rep_n + self.rep_prior_strength)
        Zs = Z[:, :n] * w + Z[:, n : n + 1] * (1.0 - w)
        cal = self.calibrator_
        return cal.transform(Zs[1:]), cal.transform(Zs[0]), w

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
        self._check_fitted()
        if len(rep_ids) == 0:
            return CandidateScores(p=np.empty(0), confidence=0.0, sufficiency=np.empty(0))
        P, p, w = self._candidate_bags(lead, rep_ids, expected_response_hours)
        conf = top_vs_pool(P, p)
        return CandidateScores(p=p, confidence=conf.probability, sufficiency=w)

    def confidence_detail(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDF | None = None,
    ) -> TopRepConfidence:
        """The top rep's edge over the pool average with its interval (see
        :class:`~leadpilot.model.confidence.TopRepConfidence`)."""
        self._check_fitted()
        P, p, _ = self._candidate_bags(lead, rep_ids, expected_response_hours)
        return top_vs_pool(P, p)

    @property
    def version(self) -> str:
        """Version id logged with every decision (a hash of the saved model)."""
        self._check_fitted()
        return self.version_

    # ----- explanations and persistence ---------------------------------------------------
    def explain(self, lead: Lead, rep_id: str, versus: str | None = None) -> list[str]:
        """Top reasons, in sales-manager words, why ``rep_id`` scores as it does for ``lead``
        compared with ``versus`` (another rep) or with an average rep."""
        from leadpilot.model.explain import explain_pair

        self._check_fitted()
        return explain_pair(self, lead, rep_id, versus)

    def contributions(self, X: NDF) -> dict[str, NDF]:
        """Log-odds contribution of each input to the full model, per row: the linear
        part's terms plus the trees' SHAP values (LightGBM ``pred_contrib``)."""
        out = self.glm_.term_contributions(X, model=0)
        for booster in self.boosters_:
            shap = np.asarray(booster.predict(X, pred_contrib=True, num_threads=1))
            for j, name in enumerate(self.feature_names_):
                out[name] = out.get(name, 0.0) + shap[:, j]
        return out

    def feature_importance(self) -> pd.DataFrame:
        """Global importance: each input's share of the mean absolute contribution on the
        test slice (linear terms and tree SHAP values together)."""
        self._check_fitted()
        from leadpilot.model.explain import describe_feature

        rows = self.evaluation_.get("importance", [])
        return pd.DataFrame(
            {
                "feature": [r["feature"] for r in rows],
                "meaning": [describe_feature(r["feature"]) for r in rows],
                "share": [float(r["share"]) for r in rows],
            }
        )

    def save(self, directory: str | Path) -> Path:
        """Write the model to ``directory`` (LightGBM text files + ``model.json``)."""
        from leadpilot.model.artifacts import save_model

        self._check_fitted()
        return save_model(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> ConversionModel:
        """Read a model written by :meth:`save`; raises ``ModelError`` if it is invalid."""
        from leadpilot.model.artifacts import load_model

        return load_model(Path(directory))

    def _set_boosters(self, boosters: list[lgb.Booster]) -> None:
        self.boosters_ = boosters
