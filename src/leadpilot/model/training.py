"""The training run behind ``ConversionModel.fit``: temporal split, bagged LightGBM,
calibration on a later slice, and evaluation against the baselines on the latest slice."""

from __future__ import annotations

import hashlib
import json
import math
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

if TYPE_CHECKING:
    from leadpilot.model.estimator import ConversionModel, Progress

__all__ = ["model_version", "run_training"]

NDF = NDArray[np.float64]
_BASELINE_MAX_ROWS = 300_000  # the logistic baseline learns from the latest rows only


def _dataset(
    model: ConversionModel, X: NDF, y: NDF, reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    st = model.state_
    return lgb.Dataset(
        X,
        y,
        feature_name=st.feature_names,
        categorical_feature=st.categorical_names,
        reference=reference,
        params={"max_bin": 63, "verbose": -1},
        free_raw_data=True,
    )


def _choose_rounds(model: ConversionModel, X: NDF, y: NDF) -> int:
    """Early stopping on the last 15% of the training period (time order kept)."""
    n_in = int(len(y) * 0.85)
    if len(y) - n_in < 50:
        return model.n_estimators
    d_in = _dataset(model, X[:n_in], y[:n_in])
    d_val = _dataset(model, X[n_in:], y[n_in:], reference=d_in)
    booster = lgb.train(
        model._lgb_params(model.random_state),
        d_in,
        num_boost_round=model.n_estimators,
        valid_sets=[d_val],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    best = booster.best_iteration or model.n_estimators
    return int(max(10, best))


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
    report("choosing the number of trees", 0.08)
    rounds = _choose_rounds(model, X[i_tr], y[tr])
    rng = np.random.default_rng(model.random_state)
    boosters: list[lgb.Booster] = []
    for b in range(model.n_bags):
        # Half-samples without replacement: their spread matches the sampling spread of a
        # fit on all rows (see confidence.py), at half the cost of a bootstrap.
        rows = (
            i_tr if model.n_bags == 1 else np.sort(rng.choice(i_tr, len(i_tr) // 2, replace=False))
        )
        anon = rng.choice(rows, int(model.anon_fraction * len(rows)), replace=False)
        Xa = X[anon]
        Xa[:, model._rep_cols] = np.nan  # rows of an "average rep", for shrinking rare reps
        Xb = np.vstack([X[rows], Xa])
        yb = np.concatenate([y_all[rows], y_all[anon]])
        booster = lgb.train(
            model._lgb_params(model.random_state + b), _dataset(model, Xb, yb), rounds
        )
        boosters.append(booster)
        report(f"fitting bag {b + 1} of {model.n_bags}", 0.15 + 0.55 * (b + 1) / model.n_bags)
    model._set_boosters(boosters)
    model.n_rounds_ = rounds

    report("calibrating", 0.72)
    _, z_ca = model._history_proba(X[i_ca], rep_n[i_ca])
    model.calibrator_ = Calibrator(method=model.calibration).fit(z_ca, y[ca])  # type: ignore[arg-type]
    _, z_te = model._history_proba(X[i_te], rep_n[i_te])
    p_te = model.calibrator_.transform(z_te)
    model.training_window_ = {
        "time_column": time_col or "file order",
        "train": _time_bounds(frame, time_col, i_tr),
        "calibration": _time_bounds(frame, time_col, i_ca),
        "test": _time_bounds(frame, time_col, i_te),
        "history_rows": len(frame),
        "labelled_rows": len(lab),
    }

    report("fitting baselines", 0.8)
    fit_rows = np.concatenate([i_tr, i_ca])[-_BASELINE_MAX_ROWS:]
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
    model.evaluation_ = {
        "metrics": results,
        "comparisons": comparisons,
        "by_group": by_group,
        "reliability": reliability_table(y_te, p_te).to_dict(orient="records"),
        "calibration_method": model.calibrator_.method_,
        "n_rounds": rounds,
        "n_bags": model.n_bags,
    }
    model.version_ = model_version(model)


def model_version(model: ConversionModel) -> str:
    """Content hash of the boosters, features and calibration: ``cm-`` + 12 hex digits."""
    h = hashlib.sha256()
    for b in model.boosters_:
        h.update(b.model_to_string().encode())
    h.update(json.dumps(model.state_.to_json(), sort_keys=True, default=str).encode())
    h.update(json.dumps(model.calibrator_.to_json(), sort_keys=True).encode())
    return "cm-" + h.hexdigest()[:12]


def finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
