"""The training run behind ``ConversionModel.fit``: ``train(...) -> FittedConversion``.

Settled history, time-ordered, split into (train, calibration, test) slices. Every choice
training makes (ridge strength, number of trees, whether to calibrate) is made on the train
and calibration slices; the latest ``test_fraction`` stays out of those choices, so
``evaluation.evaluate`` can measure the same procedure on leads that no choice saw. With
``refit_all`` the final model then learns from the test slice too (same choices).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.copies import lead_groups
from leadpilot.errors import ModelError
from leadpilot.model.calibration import Calibrator
from leadpilot.model.feature_state import NDF, NDI, sanitize
from leadpilot.model.features import (
    LEAD_CATEGORICALS,
    LEAD_NUMERICS,
    SEGMENTS,
    FeatureState,
    extra_columns,
    fit_feature_state,
    history_matrix,
    order_by_time,
    rep_dependent,
    target_values,
)
from leadpilot.model.fitted import FittedConversion, content_version
from leadpilot.model.glm import GLMSpec, GLMStack, fit_glm_stack, fit_one, make_spec
from leadpilot.model.glm_fit import CodedDesign
from leadpilot.model.guards import (
    LEAK_AUC,
    LeakageWarning,
    check_trainable,
    drop_unsettled_tail,
    find_leaky_columns,
    refuse_leaky_rep_column,
)
from leadpilot.model.rep_trees import (
    RepTrees,
    fit_rep_trees,
    found_changes,
    found_combinations,
    found_effects,
)
from leadpilot.model.scoring import contributions, shrunk_log_odds

__all__ = [
    "PreparedHistory",
    "Progress",
    "TrainingParams",
    "TrainingRun",
    "fit_prepared",
    "prepare_history",
    "temporal_split",
    "train",
    "train_like",
]

Progress = Callable[[str, float], None]
_GLM_SELECT_MAX_ROWS = 60_000  # choosing the ridge strength uses the latest rows only
_REFIT_MAX_ROWS = 250_000
# The track-record terms are already shrunk (empirical Bayes); penalising them again as hard
# as the raw interaction cells would throw away what they know on small histories.
_LIFT_RELIEF = 3.0
_ORIGINS = (0.55, 0.70, 0.85)
_C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)  # down to "almost no effects": null data sets
_LEAK_CANDIDATES: tuple[str, ...] = (
    *LEAD_CATEGORICALS,
    "company_size",
    "annual_revenue",
    "engagement_score",
    "time_to_contact_hours",
    "first_contact_at",
)
_SPEED_MODIFIERS = ("engagement_score", "log_company_size", "company_domain")
# Hidden from the rep-aware trees: the time of day and week are not a rep's skill.
_CLOCK = ("created_hour", "created_weekday")
# Also hidden from them: the country, dozens of sparse levels that mostly repeat the region
# (which the trees see). With a rep's few hundred to thousand leads its splits were mostly
# noise: hiding it raised the best assignment on the model's scores by 1.7 and 1.1 points
# of the oracle's lift on two interactions worlds (seeds 0, 1).
_NOT_FOR_REP_TREES = (*_CLOCK, "country")


@dataclass(frozen=True)
class TrainingParams:
    """The settings of one training run (``ConversionModel``'s parameters, which document
    and validate them; no defaults here so they are declared once, on the estimator)."""

    target: str
    n_estimators: int
    learning_rate: float
    early_stopping_rounds: int | None
    num_leaves: int
    min_child_samples: int
    reg_lambda: float
    n_bags: int
    interactions: tuple[str, ...]
    size_slopes: bool
    shrinkage: float
    rep_prior_strength: float
    test_fraction: float
    calibration_fraction: float
    calibration: str
    time_column: str
    min_outcomes: int
    anon_fraction: float
    n_jobs: int
    random_state: int
    refit_all: bool
    allow_leaky: tuple[str, ...]
    rep_trees: bool = True


@dataclass(frozen=True, eq=False)
class PreparedHistory:
    """A history ready to learn from: settled, time-ordered, leak-checked, as features.

    ``X`` rows carry each lead's rep statistics as of that lead (leak-free); ``y`` is NaN
    where the outcome is open; ``train`` / ``calibration`` / ``test`` index the labelled
    rows of each slice, in time order (the test slice is the latest)."""

    frame: pd.DataFrame
    time_column: str | None
    state: FeatureState
    X: NDF
    y: NDF
    rep_n: NDF  # each row's rep's labelled leads before it
    train: NDI
    calibration: NDI
    test: NDI
    unsettled_rows: int
    dropped_columns: list[dict[str, Any]]
    warnings: list[str]
    guards: list[dict[str, Any]]

    @property
    def labelled_rows(self) -> int:
        return len(self.train) + len(self.calibration) + len(self.test)


def temporal_split(
    n: int, *, test_fraction: float = 0.2, calibration_fraction: float = 0.1
) -> tuple[slice, slice, slice]:
    """Split ``n`` time-ordered rows into (train, calibration, test) slices: the latest
    ``test_fraction`` is the test set, the ``calibration_fraction`` before it calibrates."""
    n_test = max(1, round(n * test_fraction))
    n_cal = max(1, round(n * calibration_fraction))
    n_train = n - n_test - n_cal
    if n_train < 1:
        raise ValueError("too few rows for a train / calibration / test split")
    return slice(0, n_train), slice(n_train, n_train + n_cal), slice(n_train + n_cal, n)


def _resolve_time_column(params: TrainingParams, frame: pd.DataFrame) -> str | None:
    if params.time_column == "file_order":
        return None
    if params.time_column != "auto":
        return params.time_column
    y = target_values(frame, params.target)
    lab = ~np.isnan(y)
    if (
        params.target == "closed_won"
        and "closed_at" in frame
        and frame["closed_at"][lab].notna().mean() >= 0.95
    ):
        return "closed_at"  # closed deals: "latest" means most recently closed
    if "created_at" in frame and frame["created_at"].notna().any():
        return "created_at"
    return None


def prepare_history(
    params: TrainingParams,
    history: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    report: Progress | None = None,
) -> PreparedHistory:
    """Order, settle, check and featurise a canonical history (``schema.HISTORY_COLUMNS``);
    ``reps`` is the optional roster. Leaky columns are dropped with a ``LeakageWarning``."""
    report = report or (lambda _stage, _frac: None)
    for col in (params.target, "rep_id"):
        if col not in history:
            raise ModelError(
                f"the history has no {col!r} column",
                hint="read it with `leadpilot.ingest.read_history` or map that column",
            )
    time_col = _resolve_time_column(params, history)
    frame, rank = order_by_time(history, time_col)
    y_all = target_values(frame, params.target)
    unsettled = 0
    if time_col == "created_at":
        frame, y_all, unsettled = drop_unsettled_tail(frame, y_all, params.target)
    check_trainable(y_all, frame["rep_id"], target=params.target, min_outcomes=params.min_outcomes)
    n_known = int((~np.isnan(y_all)).sum())
    guards: list[dict[str, Any]] = [
        _guard(
            "enough outcomes",
            "passed",
            f"{n_known:,} leads with a known {params.target!r} outcome (at least "
            f"{params.min_outcomes:,} needed), both outcomes present, at least 2 reps",
        ),
        _guard(
            "recent open outcomes",
            "set aside" if unsettled else "passed",
            f"{unsettled:,} known outcomes of the latest, mostly open leads not learned from"
            if unsettled
            else "no run of mostly open recent leads",
        ),
    ]
    report("checking for leakage", 0.02)
    allowed = set(params.allow_leaky)
    rep_leak = refuse_leaky_rep_column(frame, y_all, target=params.target, allow=allowed)
    messages: list[str] = []
    if rep_leak is None:
        guards.append(_guard("rep column leak", "passed", "the rep does not give the outcome away"))
    else:
        msg = (
            f"column 'rep_id' gives the outcome away ({rep_leak.how}, AUC "
            f"{rep_leak.auc:.3f}) and was learned from because of --allow-leaky rep_id"
        )
        warnings.warn(msg, LeakageWarning, stacklevel=3)
        messages.append(msg)
        guards.append(_guard("rep column leak", "allowed by --allow-leaky", msg))
    extra_c, extra_n = extra_columns(frame, params.target)
    checked = [c for c in (*_LEAK_CANDIDATES, *extra_c, *extra_n) if c in frame]
    leaky = find_leaky_columns(frame, y_all, checked)
    dropped: list[dict[str, Any]] = []
    for leak in leaky:
        if leak.column in allowed:
            msg = (
                f"column {leak.column!r} looks like the outcome in disguise ({leak.how}, AUC "
                f"{leak.auc:.3f}) and was learned from because of --allow-leaky {leak.column}"
            )
            verdict = "allowed by --allow-leaky"
        else:
            msg = leak.message(params.target)
            verdict = "dropped"
            dropped.append({"column": leak.column, "how": leak.how, "auc": leak.auc})
            frame = frame.drop(columns=[leak.column])
        warnings.warn(msg, LeakageWarning, stacklevel=3)
        messages.append(msg)
        guards.append(_guard(f"leak check: {leak.column}", verdict, msg))
    clean = len(checked) - len(leaky)
    guards.append(
        _guard(
            "feature column leaks",
            "passed" if not leaky else f"{len(leaky)} found",
            f"{clean} of {len(checked)} feature columns do not give the outcome away "
            f"(AUC below {LEAK_AUC})",
        )
    )
    report("building features", 0.05)
    state = fit_feature_state(frame, reps, target=params.target, shrinkage=params.shrinkage)
    X, rep_n = history_matrix(state, frame, rank)
    lab = np.flatnonzero(~np.isnan(y_all))
    tr, ca, te = temporal_split(
        len(lab),
        test_fraction=params.test_fraction,
        calibration_fraction=params.calibration_fraction,
    )
    return PreparedHistory(
        frame=frame,
        time_column=time_col,
        state=state,
        X=X,
        y=y_all,
        rep_n=rep_n,
        train=lab[tr],
        calibration=lab[ca],
        test=lab[te],
        unsettled_rows=unsettled,
        dropped_columns=dropped,
        warnings=messages,
        guards=guards,
    )


def _guard(name: str, verdict: str, detail: str) -> dict[str, Any]:
    return {"guard": name, "verdict": verdict, "detail": detail}


def _lgb_params(params: TrainingParams, n_rows: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_data_in_leaf": params.min_child_samples,
        "lambda_l2": params.reg_lambda,
        "feature_fraction": 0.8,
        "cat_smooth": 20.0,
        "cat_l2": 10.0,
        "min_data_per_group": 50,
        "max_cat_to_onehot": 4,
        "max_bin": 63,
        "verbose": -1,
        # Small jobs run faster on one thread: OpenMP spin-waits cost more than they save,
        # and far more on a busy machine.
        "num_threads": 1 if n_rows < 100_000 else params.n_jobs,
        "seed": params.random_state,
        "deterministic": True,
        "force_row_wise": True,
    }


def _dataset(
    state: FeatureState, X: NDF, y: NDF, init: NDF, reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    return lgb.Dataset(
        X,
        y,
        init_score=init,
        feature_name=state.feature_names,
        categorical_feature=state.categorical_names,
        reference=reference,
        params={"max_bin": 63, "verbose": -1},
        free_raw_data=True,
    )


def _glm_spec(params: TrainingParams, state: FeatureState, X: NDF) -> GLMSpec:
    """Main effects of lead attributes and rep identity; rep x segment interactions for every
    segment; role x industry / size interactions (pooled over the reps of a role, so far
    less noisy than per-rep cells); and whether the roster lists the lead's industry as one
    of the rep's specialties (one shared coefficient: a prior for the rep x industry cells)."""
    levels = {name: len(vals) for name, vals in state.levels.items()}
    extra_c = [sanitize(c) for c in state.extra_categoricals]
    nums = [n for n in LEAD_NUMERICS if n not in ("created_hour", "created_weekday")]
    nums += [sanitize(c) for c in state.extra_numerics]
    nums += ["rep_tenure_days", "rep_covers_industry", "rep_covers_region"]
    # The leak-free shrunk track records (rep x segment rate minus the segment's rate, as of
    # each lead): one coefficient each, so the GLM can lean on empirical-Bayes estimates
    # where its own interaction cells are too thin (small histories).
    nums += [f"rep_x_{s}_lift" for s in SEGMENTS]
    pairs = [("rep_id", s) for s in params.interactions if levels[s] > 1]
    if levels["rep_role"] > 1:
        pairs += [("rep_role", "industry"), ("rep_role", "size_band")]
    # A rep's edge by company size as a smooth curve (linear + quadratic in log size).
    slopes = [("rep_id", "log_company_size", 1), ("rep_id", "log_company_size", 2)]
    return make_spec(
        X,
        state.feature_names,
        slopes=slopes if params.size_slopes and levels["rep_id"] > 1 else [],
        relief={f"rep_x_{s}_lift": _LIFT_RELIEF for s in SEGMENTS},
        # How much a slow first contact costs depends on the lead (speed matters most for
        # engaged, hot leads): the response time times each lead attribute. This is also what
        # lets the router send a hot lead to a fast responder.
        products=[(a, "log_time_to_contact") for a in _SPEED_MODIFIERS if a in nums],
        # country is left to the trees: many sparse levels, mostly repeating the region
        cats=[c for c in (*LEAD_CATEGORICALS, *extra_c, "rep_id") if c != "country"],
        pairs=pairs,
        nums=nums,
        levels=levels,
    )


def _choose_c(
    params: TrainingParams, spec: GLMSpec, X: NDF, y: NDF
) -> tuple[float, tuple[NDF, NDF] | None, tuple[float, NDF] | None]:
    """Ridge strength by out-of-time log loss, averaged over rolling origins: fit on the
    first 55% / 70% / 85% of the (latest) training rows, score the next 15% each time.
    One split alone is noisy on small histories. Also returns the last window's
    out-of-time log-odds and outcomes at the chosen strength (the calibrator checks its
    map against them), and that window's fit at the chosen strength (the full fit starts
    from it: the same strength on the latest rows, so close to where that fit ends)."""
    Xs, ys = X[-_GLM_SELECT_MAX_ROWS:], y[-_GLM_SELECT_MAX_ROWS:]
    n = len(ys)
    if int(n * 0.15) < 50 or ys[: int(n * 0.55)].min() == ys[: int(n * 0.55)].max():
        return 0.1, None, None
    losses = dict.fromkeys(_C_GRID, 0.0)
    last: dict[float, NDF] = {}
    fits: dict[float, tuple[float, NDF]] = {}
    design = CodedDesign.of(spec, Xs)  # once: every window is a slice of its rows
    for origin in _ORIGINS:
        n_in, n_out = int(n * origin), int(n * (origin + 0.15))
        prev: tuple[float, NDF] | None = None
        D_in, D_out = design.rows(slice(0, n_in)), design.rows(slice(n_in, n_out))
        for C in _C_GRID:  # strongest penalty first; each fit warm-starts the next
            b0, coef = fit_one(spec, None, ys[:n_in], C, start=prev, design=D_in)
            prev = fits[C] = (b0, coef)
            z = D_out.margins(b0, coef)
            p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-6, 1 - 1e-6)
            yv = ys[n_in:n_out]
            losses[C] += float(-np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p)))
            last[C] = z
    best = min(losses, key=losses.__getitem__)
    out_of_time = ys[int(n * _ORIGINS[-1]) : int(n * (_ORIGINS[-1] + 0.15))]
    return best, (last[best], out_of_time), fits[best]


def _fit_boosting(
    params: TrainingParams, state: FeatureState, X: NDF, y: NDF, init: NDF
) -> lgb.Booster:
    """Trees that start from the GLM's log-odds; early stopping on the last 15% (time order)."""
    n_in = int(len(y) * 0.85)
    lgb_params = _lgb_params(params, len(y))
    if len(y) - n_in < 50 or params.early_stopping_rounds is None:
        return lgb.train(lgb_params, _dataset(state, X, y, init), params.n_estimators)
    d_in = _dataset(state, X[:n_in], y[:n_in], init[:n_in])
    d_val = _dataset(state, X[n_in:], y[n_in:], init[n_in:], reference=d_in)
    return lgb.train(
        lgb_params,
        d_in,
        num_boost_round=params.n_estimators,
        valid_sets=[d_val],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )


@dataclass(frozen=True, eq=False)
class _Parts:
    """The log-odds ensemble of one fit and the number of trees it kept."""

    glm: GLMStack
    boosters: tuple[lgb.Booster | RepTrees, ...]
    rounds: int
    rep_rounds: int = 0
    rep_clock: bool = False  # whether the rep-aware trees read the lead's time

    def warm_start(self) -> tuple[float, NDF]:
        """The full linear model's coefficients, to start the next fit from."""
        return float(self.glm.intercept[0]), _coef_vector(self.glm, 0)


def _fit_parts(
    params: TrainingParams,
    state: FeatureState,
    X_fit: NDF,
    y_fit: NDF,
    spec: GLMSpec,
    C: float,
    rounds: int | None,
    report: Progress,
    at: float,
    start: tuple[float, NDF] | None = None,
    rep_rounds: int | None = None,
    times: NDF | None = None,
    rep_clock: bool | None = None,
) -> _Parts:
    """Fit the full linear part, the trees on top of it, the rep-aware trees on top of both
    (:mod:`leadpilot.model.rep_trees`) and the half-sample bags of the linear part on
    time-ordered rows; the numbers of trees are chosen out of time unless ``rounds`` and
    ``rep_rounds`` are given. ``times``: each row's creation day, for the rep-aware trees."""
    rng = np.random.default_rng(params.random_state)
    n = len(y_fit)
    design = CodedDesign.of(spec, X_fit)  # once: each bag's rows are a subset of it
    fits = [fit_one(spec, None, y_fit, C, start=start, design=design)]
    full = fit_glm_stack(spec, fits)
    # Rows of an "average rep" (rep features unknown), so the trees also learn the pool's
    # score for a lead: reps with little history are shrunk toward it.
    anon = np.sort(rng.choice(n, int(params.anon_fraction * n), replace=False))
    X_anon = X_fit[anon]
    X_anon[:, _rep_columns(state)] = np.nan
    order = np.argsort(np.concatenate([np.arange(n), anon]), kind="stable")
    X_aug = np.vstack([X_fit, X_anon])[order]  # keep time order for early stopping
    y_aug = np.concatenate([y_fit, y_fit[anon]])[order]
    report("fitting the trees", at + 0.1)
    init = full.margins(X_aug)[0]
    if rounds is None:
        booster = _fit_boosting(params, state, X_aug, y_aug, init)
        rounds = int(booster.best_iteration or booster.num_trees())
    else:
        booster = lgb.train(_lgb_params(params, n), _dataset(state, X_aug, y_aug, init), rounds)
    boosters: tuple[lgb.Booster | RepTrees, ...] = (booster,)
    if params.rep_trees and "rep_id" in state.feature_names:
        report("fitting the rep-aware trees", at + 0.15)
        team = full.margins(X_fit)[0] + booster.predict(X_fit, raw_score=True)
        names = state.feature_names
        hidden = [i for i, f in enumerate(names) if rep_dependent(f) or f in _NOT_FOR_REP_TREES]
        trees, rep_rounds = fit_rep_trees(
            X_fit,
            y_fit,
            team,
            rep_column=names.index("rep_id"),
            ignore=hidden,
            feature_names=names,
            categorical=state.categorical_names,
            rounds=rep_rounds,
            seed=params.random_state,
            times=times,
            clock=rep_clock,
        )
        if trees is not None:
            boosters = (booster, trees)
            rep_clock = trees.now is not None
    for b in range(params.n_bags):
        # Half-samples without replacement: their spread matches the sampling spread of a
        # fit on all rows (see confidence.py), at half the cost of a bootstrap.
        rows = np.sort(rng.choice(n, n // 2, replace=False))
        fits.append(fit_one(spec, None, y_fit[rows], C, start=fits[0], design=design.rows(rows)))
        report(f"fitting bag {b + 1} of {params.n_bags}", at + 0.35 * (b + 1) / params.n_bags)
    return _Parts(fit_glm_stack(spec, fits), boosters, rounds, rep_rounds or 0, bool(rep_clock))


def _created_days(frame: pd.DataFrame) -> NDF | None:
    """Each history row's creation time in days since 1970 (``None`` without one): the
    rep-aware trees' clock, so a skill that changed mid-history is scored as it is now."""
    if "created_at" not in frame:
        return None
    t = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    if t.isna().all():
        return None
    ns = t.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    ns[t.isna().to_numpy()] = np.nan
    return np.asarray(ns / 86_400e9, dtype=np.float64)


def _first_day(data: PreparedHistory) -> float | None:
    """The first labelled lead's creation day (days since 1970), if known."""
    days = _created_days(data.frame)
    if days is None or not len(data.train) or not np.isfinite(days[data.train]).any():
        return None
    return float(np.nanmin(days[data.train]))


def _take(values: NDF | None, rows: NDArray[np.int64]) -> NDF | None:
    return None if values is None else values[rows]


def _rep_columns(state: FeatureState) -> NDI:
    return np.array(
        [i for i, n in enumerate(state.feature_names) if rep_dependent(n)], dtype=np.int64
    )


def _coef_vector(stack: GLMStack, model: int) -> NDF:
    """The flat coefficient vector of one stacked GLM (inverse of the table unpacking)."""
    parts = [t[model, :-1] for t in stack.cat]
    parts += [t[model, :-1, :-1].ravel() for t in stack.pair]
    parts += [t[model, :-1] for t in stack.slope]
    k = len(stack.spec.nums)
    parts += [stack.num[model], stack.miss[model, :k]]  # products have no indicator
    return np.concatenate(parts)


def _time_bounds(
    frame: pd.DataFrame, time_col: str | None, rows: NDArray[np.int64]
) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(rows)}
    if len(rows) == 0:
        return out
    if time_col is None:
        src = frame["source_row"] if "source_row" in frame else pd.Series(np.arange(len(frame)) + 1)
        out["first"], out["last"] = (
            f"row {int(src.iloc[rows[0]])}",
            f"row {int(src.iloc[rows[-1]])}",
        )
    else:
        t = frame[time_col].iloc[rows]
        if not isinstance(t.dtype, pd.DatetimeTZDtype) or str(t.dt.tz) != "UTC":
            t = pd.to_datetime(t, utc=True)  # a UTC column (as read) needs no pass over it
        out["first"], out["last"] = str(t.min()), str(t.max())
    return out


def _importance(parts: _Parts, state: FeatureState, X: NDF) -> list[dict[str, Any]]:
    """Mean |contribution| (log-odds) per feature on up to 5,000 of the latest rows, as
    shares: SHAP values of the trees plus the centred terms of the linear part."""
    contrib = contributions(parts.glm, parts.boosters, state.feature_names, X[-5_000:])
    imp = {name: float(np.mean(np.abs(v - v.mean()))) for name, v in contrib.items()}
    total = sum(imp.values()) or 1.0
    rows = [{"feature": k, "share": v / total} for k, v in imp.items()]
    return sorted(rows, key=lambda r: -r["share"])


@dataclass(frozen=True, eq=False)
class TrainingRun:
    """The two models of one training run: ``held_out`` never saw a test-slice outcome
    (what ``evaluate`` measures); ``final`` is the model to route with (the same one unless
    the test slice was folded in, see :func:`fit_prepared`)."""

    held_out: FittedConversion
    final: FittedConversion


def _record(
    params: TrainingParams,
    data: PreparedHistory,
    parts: _Parts,
    calibrator: Calibrator,
    C: float,
    refit: bool,
    fit_rows: int,
    *,
    diagnostics: bool = True,
) -> FittedConversion:
    window = {
        "time_column": data.time_column or "file order",
        "train": _time_bounds(data.frame, data.time_column, data.train),
        "calibration": _time_bounds(data.frame, data.time_column, data.calibration),
        "test": _time_bounds(data.frame, data.time_column, data.test),
        "history_rows": len(data.frame),
        "labelled_rows": data.labelled_rows,
        "refit_on_calibration_slice": refit,
        "unsettled_outcomes_ignored": data.unsettled_rows,
        "final_fit_rows": fit_rows,
    }
    st = data.state
    return FittedConversion(
        state=st,
        glm=parts.glm,
        boosters=parts.boosters,
        calibrator=calibrator,
        rep_prior_strength=params.rep_prior_strength,
        glm_c=C,
        n_rounds=int(parts.rounds),
        training_window=window,
        version=content_version(st, parts.glm, parts.boosters, calibrator),
        dropped_columns=list(data.dropped_columns),
        warnings=list(data.warnings),
        guards=list(data.guards),
        importance=_importance(parts, st, data.X[data.test]) if diagnostics else [],
        rep_effects=_found(
            parts,
            st,
            data.X[np.concatenate([data.calibration, data.test])],
            _first_day(data),
        )
        if diagnostics
        else [],
        rep_rounds=parts.rep_rounds,
    )


def _found(parts: _Parts, state: FeatureState, X: NDF, since: float | None) -> list[dict[str, Any]]:
    """What the rep-aware trees learned, on the latest settled leads (the card's tables):
    single attributes, combinations of two, and, when the trees read the clock, how edges
    moved since the day ``since``."""
    trees = [b for b in parts.boosters if isinstance(b, RepTrees)]
    if not trees or len(X) == 0:
        return []
    team = parts.glm.margins(X, only=0)[0] + parts.boosters[0].predict(X, raw_score=True)
    base = 1.0 / (1.0 + np.exp(-team))
    names, levels = state.levels["rep_id"], state.levels
    out = found_effects(trees[0], X, base, rep_names=names, levels=levels)
    out += found_combinations(trees[0], X, base, rep_names=names, levels=levels)
    if since is not None:
        out += found_changes(trees[0], X, base, since=since, rep_names=names, levels=levels)
    return out


def fit_prepared(
    params: TrainingParams,
    data: PreparedHistory,
    *,
    include_test: bool,
    report: Progress | None = None,
) -> TrainingRun:
    """Fit on the train slice (ridge strength and trees chosen out of time), calibrate on
    the calibration slice, and refit on both when no calibration map was needed: the
    ``held_out`` model. With ``include_test`` (and that refit) the ``final`` model is
    refit once more with the test slice too (same choices); else it is ``held_out``."""
    report = report or (lambda _stage, _frac: None)
    st, X, y, rep_n = data.state, data.X, data.y, data.rep_n
    i_tr, i_ca, i_te = data.train, data.calibration, data.test
    X_tr, y_tr = X[i_tr], y[i_tr]
    days = _created_days(data.frame)
    report("fitting the linear part (rep x segment effects)", 0.08)
    spec = _glm_spec(params, st, X_tr)
    C, check, start = _choose_c(params, spec, X_tr, y_tr)
    parts = _fit_parts(
        params, st, X_tr, y_tr, spec, C, None, report, 0.1, start, times=_take(days, i_tr)
    )
    rounds = parts.rounds
    report("calibrating", 0.5)
    z_ca = shrunk_log_odds(
        parts.glm, parts.boosters, _rep_columns(st), params.rep_prior_strength, X[i_ca], rep_n[i_ca]
    )
    groups = lead_groups(data.frame["lead_id"].iloc[i_ca]) if "lead_id" in data.frame else None
    calibrator = Calibrator(method=params.calibration).fit(  # type: ignore[arg-type]
        z_ca, y[i_ca], check=check, groups=groups
    )
    # Above _REFIT_MAX_ROWS the calibration slice adds little to the training rows; not
    # refitting there keeps 1,000,000-row histories within two minutes.
    refit = calibrator.method_ == "none" and len(i_tr) <= _REFIT_MAX_ROWS
    fit_idx = i_tr
    if refit:
        # The calibration slice showed no miscalibration, so it need not stay out of the
        # fit: refit on train + calibration (the most recent settled leads) with the same
        # ridge strength and number of trees.
        fit_idx = np.concatenate([i_tr, i_ca])
        parts = _fit_parts(
            params,
            st,
            X[fit_idx],
            y[fit_idx],
            spec,
            C,
            rounds,
            report,
            0.5,
            parts.warm_start(),
            parts.rep_rounds,
            _take(days, fit_idx),
            parts.rep_clock,
        )
    held_out = _record(params, data, parts, calibrator, C, refit, len(fit_idx))
    if not (refit and include_test and len(i_te)):
        return TrainingRun(held_out, held_out)
    # The model that routes new leads should also learn from the test slice: the latest
    # settled leads, a quarter more data, and the rep x segment cells are data-starved (one
    # more refit with the same ridge strength and trees; skipped where the calibration
    # slice was not folded in either).
    report("refitting on every settled lead", 0.9)
    fit_idx = np.concatenate([fit_idx, i_te])
    parts = _fit_parts(
        params,
        st,
        X[fit_idx],
        y[fit_idx],
        spec,
        C,
        rounds,
        report,
        0.9,
        parts.warm_start(),
        parts.rep_rounds,
        _take(days, fit_idx),
        parts.rep_clock,
    )
    return TrainingRun(held_out, _record(params, data, parts, calibrator, C, refit, len(fit_idx)))


def train(
    params: TrainingParams,
    history: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> FittedConversion:
    """Learn P(convert | lead, rep) from a canonical history; the test slice is folded into
    the final fit when ``params.refit_all`` (see :func:`fit_prepared`)."""
    data = prepare_history(params, history, reps, progress)
    return fit_prepared(params, data, include_test=params.refit_all, report=progress).final


def reusable_choices(fitted: FittedConversion) -> bool:
    """Whether :func:`train_like` can reuse ``fitted``'s choices: its calibration slice
    showed no miscalibration, so its final fit is the refit with the choices alone."""
    return fitted.calibrator.method_ == "none" and bool(
        fitted.training_window.get("refit_on_calibration_slice")
    )


def train_like(
    params: TrainingParams,
    history: pd.DataFrame,
    like: FittedConversion,
    reps: pd.DataFrame | None = None,
) -> FittedConversion:
    """``train`` with the choices ``like`` made out of time (ridge strength, trees, the
    rep-aware trees' rounds and clock; no calibration map) instead of making them again:
    one fit on the settled leads (the test slice too with ``refit_all``), as the final fit
    of ``train`` is. For a model of nearly the same rows as ``like`` (the cross-fitted
    outcome models of ``simulate``: the same earlier history plus another half of the
    replayed leads), whose choices would come out the same or next to them; the round
    search of the rep-aware trees is most of a fit's time. The model's card figures
    (importance, rep effects) are not computed: such a model only scores. ``like`` must
    pass :func:`reusable_choices`."""
    if not reusable_choices(like):
        raise ModelError(
            "train_like needs a model whose calibration slice needed no map",
            hint="train it with train(...) instead",
        )
    data = prepare_history(params, history, reps)
    st, X, y = data.state, data.X, data.y
    fit_idx = np.concatenate([data.train, data.calibration])
    if params.refit_all:
        fit_idx = np.concatenate([fit_idx, data.test])
    spec = _glm_spec(params, st, X[data.train])
    clock = any(isinstance(b, RepTrees) and b.now is not None for b in like.boosters)
    parts = _fit_parts(
        params,
        st,
        X[fit_idx],
        y[fit_idx],
        spec,
        like.glm_c,
        like.n_rounds,
        lambda _stage, _frac: None,
        0.9,
        None,
        like.rep_rounds,
        _take(_created_days(data.frame), fit_idx),
        clock,
    )
    return _record(
        params, data, parts, like.calibrator, like.glm_c, True, len(fit_idx), diagnostics=False
    )
