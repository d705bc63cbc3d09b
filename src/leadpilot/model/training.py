"""The training run behind ``ConversionModel.fit``: temporal split, bagged LightGBM,
calibration on a later slice, and evaluation against the baselines on the latest slice."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.model.baselines import fit_predict_baselines
from leadpilot.model.calibration import Calibrator
from leadpilot.model.evaluation import (
    auc_difference,
    metrics,
    metrics_by_group,
    reliability_table,
    temporal_split,
)
from leadpilot.model.features import LEAD_CATEGORICALS, LEAD_NUMERICS, SEGMENTS, _sanitize
from leadpilot.model.glm import GLMSpec, GLMStack, fit_glm_stack, fit_one, make_spec

if TYPE_CHECKING:
    from leadpilot.model.estimator import ConversionModel, Progress

__all__ = ["model_version", "run_training"]

NDF = NDArray[np.float64]
_BASELINE_MAX_ROWS = 300_000  # the logistic baseline learns from the latest rows only
_GLM_SELECT_MAX_ROWS = 60_000  # choosing the ridge strength uses the latest rows only
_REFIT_MAX_ROWS = 250_000
# The track-record terms are already shrunk (empirical Bayes); penalising them again as hard
# as the raw interaction cells would throw away what they know on small histories.
_LIFT_RELIEF = 3.0
_ORIGINS = (0.55, 0.70, 0.85)
_C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)  # down to "almost no effects": null data sets


def _dataset(
    model: ConversionModel, X: NDF, y: NDF, init: NDF, reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    st = model.state_
    return lgb.Dataset(
        X,
        y,
        init_score=init,
        feature_name=st.feature_names,
        categorical_feature=st.categorical_names,
        reference=reference,
        params={"max_bin": 63, "verbose": -1},
        free_raw_data=True,
    )


_SPEED_MODIFIERS = ("engagement_score", "log_company_size", "company_domain")


def _glm_spec(model: ConversionModel, X: NDF) -> GLMSpec:
    """Main effects of lead attributes and rep identity; rep x segment interactions for every
    segment; role x industry / size interactions (pooled over the reps of a role, so far
    less noisy than per-rep cells); and whether the roster lists the lead's industry as one
    of the rep's specialties (one shared coefficient: a prior for the rep x industry cells)."""
    st = model.state_
    levels = {name: len(vals) for name, vals in st.levels.items()}
    extra_c = [_sanitize(c) for c in st.extra_categoricals]
    nums = [n for n in LEAD_NUMERICS if n not in ("created_hour", "created_weekday")]
    nums += [_sanitize(c) for c in st.extra_numerics]
    nums += ["rep_tenure_days", "rep_covers_industry", "rep_covers_region"]
    # The leak-free shrunk track records (rep x segment rate minus the segment's rate, as of
    # each lead): one coefficient each, so the GLM can lean on empirical-Bayes estimates
    # where its own interaction cells are too thin (small histories).
    nums += [f"rep_x_{s}_lift" for s in SEGMENTS]
    pairs = [("rep_id", s) for s in model.interactions if levels[s] > 1]
    if levels["rep_role"] > 1:
        pairs += [("rep_role", "industry"), ("rep_role", "size_band")]
    # A rep's edge by company size as a smooth curve (linear + quadratic in log size).
    slopes = [("rep_id", "log_company_size", 1), ("rep_id", "log_company_size", 2)]
    return make_spec(
        X,
        st.feature_names,
        slopes=slopes if model.size_slopes and levels["rep_id"] > 1 else [],
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
    model: ConversionModel, spec: GLMSpec, X: NDF, y: NDF
) -> tuple[float, tuple[NDF, NDF] | None]:
    """Ridge strength by out-of-time log loss, averaged over rolling origins: fit on the
    first 55% / 70% / 85% of the (latest) training rows, score the next 15% each time.
    One split alone is noisy on small histories. Also returns the last window's
    out-of-time log-odds and outcomes at the chosen strength (the calibrator checks its
    map against them)."""
    Xs, ys = X[-_GLM_SELECT_MAX_ROWS:], y[-_GLM_SELECT_MAX_ROWS:]
    n = len(ys)
    if int(n * 0.15) < 50 or ys[: int(n * 0.55)].min() == ys[: int(n * 0.55)].max():
        return 0.1, None
    seed = model.random_state
    losses = dict.fromkeys(_C_GRID, 0.0)
    last: dict[float, NDF] = {}
    for origin in _ORIGINS:
        n_in, n_out = int(n * origin), int(n * (origin + 0.15))
        prev: tuple[float, NDF] | None = None
        for C in _C_GRID:  # strongest penalty first; each fit warm-starts the next
            b0, coef = fit_one(spec, Xs[:n_in], ys[:n_in], C, seed, prev)
            prev = (b0, coef)
            z = np.asarray(b0 + spec.design(Xs[n_in:n_out]) @ coef, dtype=np.float64)
            p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-6, 1 - 1e-6)
            yv = ys[n_in:n_out]
            losses[C] += float(-np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p)))
            last[C] = z
    best = min(losses, key=losses.__getitem__)
    return best, (last[best], ys[int(n * _ORIGINS[-1]) : int(n * (_ORIGINS[-1] + 0.15))])


def _fit_boosting(model: ConversionModel, X: NDF, y: NDF, init: NDF) -> lgb.Booster:
    """Trees that start from the GLM's log-odds; early stopping on the last 15% (time order)."""
    n_in = int(len(y) * 0.85)
    params = model._lgb_params(model.random_state, len(y))
    if len(y) - n_in < 50 or model.early_stopping_rounds is None:
        return lgb.train(params, _dataset(model, X, y, init), model.n_estimators)
    d_in = _dataset(model, X[:n_in], y[:n_in], init[:n_in])
    d_val = _dataset(model, X[n_in:], y[n_in:], init[n_in:], reference=d_in)
    return lgb.train(
        params,
        d_in,
        num_boost_round=model.n_estimators,
        valid_sets=[d_val],
        callbacks=[lgb.early_stopping(model.early_stopping_rounds, verbose=False)],
    )


def _fit_parts(
    model: ConversionModel,
    X_fit: NDF,
    y_fit: NDF,
    spec: GLMSpec,
    C: float,
    rounds: int | None,
    report: Progress,
    at: float,
    start: tuple[float, NDF] | None = None,
) -> int:
    """Fit the full linear part, the trees on top of it and the half-sample bags of the
    linear part on time-ordered rows; sets ``glm_`` and ``boosters_``; returns the number
    of trees (chosen by early stopping unless ``rounds`` is given)."""
    rng = np.random.default_rng(model.random_state)
    n = len(y_fit)
    fits = [fit_one(spec, X_fit, y_fit, C, model.random_state, start)]
    full = fit_glm_stack(spec, fits)
    # Rows of an "average rep" (rep features unknown), so the trees also learn the pool's
    # score for a lead: reps with little history are shrunk toward it.
    anon = np.sort(rng.choice(n, int(model.anon_fraction * n), replace=False))
    X_anon = X_fit[anon]
    X_anon[:, model._rep_cols] = np.nan
    order = np.argsort(np.concatenate([np.arange(n), anon]), kind="stable")
    X_aug = np.vstack([X_fit, X_anon])[order]  # keep time order for early stopping
    y_aug = np.concatenate([y_fit, y_fit[anon]])[order]
    report("fitting the trees", at + 0.1)
    init = full.margins(X_aug)[0]
    if rounds is None:
        booster = _fit_boosting(model, X_aug, y_aug, init)
        rounds = int(booster.best_iteration or booster.num_trees())
    else:
        params = model._lgb_params(model.random_state, n)
        booster = lgb.train(params, _dataset(model, X_aug, y_aug, init), rounds)
    for b in range(model.n_bags):
        # Half-samples without replacement: their spread matches the sampling spread of a
        # fit on all rows (see confidence.py), at half the cost of a bootstrap.
        rows = np.sort(rng.choice(n, n // 2, replace=False))
        fits.append(fit_one(spec, X_fit[rows], y_fit[rows], C, model.random_state + b + 1, fits[0]))
        report(f"fitting bag {b + 1} of {model.n_bags}", at + 0.35 * (b + 1) / model.n_bags)
    model.glm_ = fit_glm_stack(spec, fits)
    model._set_boosters([booster])
    return rounds


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
        t = pd.to_datetime(frame[time_col].iloc[rows], utc=True)
        out["first"], out["last"] = str(t.min()), str(t.max())
    return out


def run_training(
    model: ConversionModel,
    frame: pd.DataFrame,
    X: NDF,
    y_all: NDF,
    rep_n: NDF,
    time_col: str | None,
    report: Progress,
) -> None:
    """Fit bags, calibrator and evaluation; sets the model's learned ``_`` attributes."""
    lab = np.flatnonzero(~np.isnan(y_all))
    y = y_all[lab]
    tr, ca, te = temporal_split(
        len(lab), test_fraction=model.test_fraction, calibration_fraction=model.calibration_fraction
    )
    i_tr, i_ca, i_te = lab[tr], lab[ca], lab[te]
    model._set_boosters([])
    model._prepare_scoring()
    X_tr, y_tr = X[i_tr], y[tr]
    report("fitting the linear part (rep x segment effects)", 0.08)
    spec = _glm_spec(model, X_tr)
    C, check = _choose_c(model, spec, X_tr, y_tr)
    rounds = _fit_parts(model, X_tr, y_tr, spec, C, None, report, 0.1)
    report("calibrating", 0.5)
    _, z_ca = model._history_proba(X[i_ca], rep_n[i_ca])
    calibrator = Calibrator(method=model.calibration).fit(z_ca, y[ca], check=check)  # type: ignore[arg-type]
    model.calibrator_ = calibrator
    # Above _REFIT_MAX_ROWS the calibration slice adds little to the training rows; not
    # refitting there keeps 1,000,000-row histories within two minutes.
    refit = calibrator.method_ == "none" and len(i_tr) <= _REFIT_MAX_ROWS
    if refit:
        # The calibration slice showed no miscalibration, so it need not stay out of the
        # fit: refit on train + calibration (the most recent settled leads) with the same
        # ridge strength and number of trees. The baselines get the same rows.
        fit_idx = np.concatenate([i_tr, i_ca])
        first = (float(model.glm_.intercept[0]), _coef_vector(model.glm_, 0))
        _fit_parts(model, X[fit_idx], y_all[fit_idx], spec, C, rounds, report, 0.5, first)
    else:
        fit_idx = i_tr
    model.glm_c_ = C
    model.n_rounds_ = int(rounds)
    _, z_te = model._history_proba(X[i_te], rep_n[i_te])
    p_te = model.calibrator_.transform(z_te)
    model.training_window_ = {
        "time_column": time_col or "file order",
        "train": _time_bounds(frame, time_col, i_tr),
        "calibration": _time_bounds(frame, time_col, i_ca),
        "test": _time_bounds(frame, time_col, i_te),
        "history_rows": len(frame),
        "labelled_rows": len(lab),
        "refit_on_calibration_slice": refit,
        "unsettled_outcomes_ignored": int(getattr(model, "unsettled_rows_", 0)),
    }

    report("fitting baselines", 0.8)
    fit_rows = fit_idx[-_BASELINE_MAX_ROWS:]
    base = fit_predict_baselines(
        frame.iloc[fit_rows],
        y_all[fit_rows],
        frame.iloc[i_te],
        shrinkage=model.shrinkage,
        random_state=model.random_state,
    )
    report("evaluating on the latest slice", 0.9)
    y_te = y[te]
    test_frame = frame.iloc[i_te]
    results = {"model": metrics(y_te, p_te)}
    results["model (uncalibrated)"] = metrics(y_te, 1.0 / (1.0 + np.exp(-z_te)))
    comparisons = {}
    for name, p in base.items():
        results[name] = metrics(y_te, p)
        comparisons[name] = auc_difference(y_te, p_te, p, seed=model.random_state)
    by_group: dict[str, Any] = {}
    for col in ("rep_id", "industry", "size_band", "source"):
        if col in test_frame and test_frame[col].notna().any():
            g_model = metrics_by_group(y_te, p_te, test_frame[col])
            g_rep = metrics_by_group(y_te, base["per-rep rate"], test_frame[col])
            merged = g_model.merge(
                g_rep[["group", "auc", "brier", "log_loss"]]
                if "auc" in g_rep
                else g_rep[["group"]],
                on="group",
                how="left",
                suffixes=("", "_per_rep_baseline"),
            )
            by_group[col] = merged.to_dict(orient="records")
    model.metrics_ = results
    # Kept in memory (not saved): lets a caller who knows more than the outcomes (e.g. the
    # true probabilities of a synthetic world) judge every prediction on the same rows.
    model.test_predictions_ = pd.DataFrame({"model": p_te, **base}, index=test_frame.index)
    if "lead_id" in test_frame:
        model.test_predictions_.insert(0, "lead_id", test_frame["lead_id"].to_numpy())
    final_rows = len(fit_idx)
    if refit and model.refit_all and len(i_te):
        # The figures above are honest out-of-time estimates for a model fit without the
        # test slice. The model that routes new leads should also learn from that slice:
        # the latest settled leads, a quarter more data, and the rep x segment cells are
        # data-starved (one more refit with the same ridge strength and trees; skipped where
        # the calibration slice was not folded in either).
        report("refitting on every settled lead", 0.95)
        every = np.concatenate([fit_idx, i_te])
        first = (float(model.glm_.intercept[0]), _coef_vector(model.glm_, 0))
        _fit_parts(model, X[every], y_all[every], spec, C, rounds, report, 0.95, first)
        final_rows = len(every)
    model.training_window_["final_fit_rows"] = final_rows
    model.evaluation_ = {
        "metrics": results,
        "comparisons": comparisons,
        "by_group": by_group,
        "reliability": reliability_table(y_te, p_te).to_dict(orient="records"),
        "calibration_method": model.calibrator_.method_,
        "n_rounds": rounds,
        "n_bags": model.n_bags,
        "glm_c": C,
        "glm_interactions": [p[0] for p in spec.pairs],
        "importance": _importance(model, X[i_te]),
    }
    model.version_ = model_version(model)


def model_version(model: ConversionModel) -> str:
    """Content hash of the boosters, features and calibration: ``cm-`` + 12 hex digits."""
    h = hashlib.sha256()
    for b in model.boosters_:
        h.update(b.model_to_string().encode())
    h.update(json.dumps(model.glm_.to_json(), sort_keys=True).encode())
    h.update(json.dumps(model.state_.to_json(), sort_keys=True, default=str).encode())
    h.update(json.dumps(model.calibrator_.to_json(), sort_keys=True).encode())
    return "cm-" + h.hexdigest()[:12]


def _importance(model: ConversionModel, X: NDF) -> list[dict[str, Any]]:
    """Mean |contribution| (log-odds) per feature on up to 5,000 test rows, as shares:
    SHAP values of the trees plus the centred terms of the linear part."""
    X = X[-5_000:]
    contrib = model.contributions(X)
    imp = {name: float(np.mean(np.abs(v - v.mean()))) for name, v in contrib.items()}
    total = sum(imp.values()) or 1.0
    rows = [{"feature": k, "share": v / total} for k, v in imp.items()]
    return sorted(rows, key=lambda r: -r["share"])
