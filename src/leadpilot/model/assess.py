"""Score a held-out history with a trained model: the same metrics as training, plus the
count baselines the model carries (global, per-rep, per-rep x industry shrunk rates)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadpilot.errors import ModelError
from leadpilot.model.estimator import ConversionModel
from leadpilot.model.features import FeatureState, target_values
from leadpilot.model.metrics import (
    auc_differences,
    metrics,
    metrics_by_group,
    reliability_table,
)

__all__ = ["assess"]


def _count_baselines(st: FeatureState, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    m = st.shrinkage
    g = (st.global_k + 1) / (st.global_n + 2)
    ridx = st.rep_indices(
        frame["rep_id"].astype("object").where(frame["rep_id"].notna(), "").tolist()
    )
    rep = (st.rep_k[ridx] + m * g) / (st.rep_n[ridx] + m)
    n_lev = len(st.levels["industry"])
    codes = np.array([st.code("industry", v) for v in frame["industry"]], dtype=np.float64)
    c = np.where(np.isnan(codes), n_lev, codes).astype(np.int64)
    ri = (st.rep_seg_k["industry"][ridx, c] + m * rep) / (st.rep_seg_n["industry"][ridx, c] + m)
    return {
        "global rate": np.full(len(frame), g),
        "per-rep rate": rep,
        "per-rep x industry rate": ri,
    }


def _unknown_reps(model: ConversionModel, frame: pd.DataFrame) -> dict[str, Any]:
    """The file's reps the model never saw; raises ``ModelError`` when it knows none of them
    (every lead would be scored as an average rep: the figures would say nothing about the
    model's reps)."""
    known = set(model.fitted_.state.rep_ids)
    reps = frame["rep_id"].dropna().astype(str)
    counts = reps.value_counts()
    unknown = [r for r in counts.index if r not in known]
    listed = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
    model_reps = ", ".join(sorted(known)[:5]) + (" ..." if len(known) > 5 else "")
    if counts.empty:
        raise ModelError(
            f"no lead in the file has a rep, so none of the model's {len(known)} reps "
            "can be evaluated",
            hint=f"evaluate on a later export of the history the model learned from (its reps: "
            f"{model_reps}), with the rep/owner column mapped",
            details={"model_reps": len(known)},
        )
    if len(unknown) == len(counts):
        raise ModelError(
            f"none of the file's {len(unknown)} reps is one the model learned: {listed}",
            hint=f"evaluate on a later export of the history the model learned from (its reps: "
            f"{model_reps}), or retrain on this file with `leadpilot train`",
            details={"unknown_reps": unknown[:50], "model_reps": len(known)},
        )
    leads = int(counts[unknown].sum()) if unknown else 0
    return {"reps": unknown, "leads": leads, "share": leads / len(frame)}


def assess(model: ConversionModel, history: pd.DataFrame) -> dict[str, Any]:
    """Metrics of ``model`` on the labelled rows of ``history`` (scored as new leads, i.e. with
    the rep statistics as of the end of the model's training history)."""
    version = model.version  # refuses an unfitted model
    if model.target not in history or "rep_id" not in history:
        raise ModelError(
            f"the file has no {model.target!r} or 'rep_id' column to evaluate against",
            hint=f"the model was trained for target {model.target!r}; evaluate on a history "
            "export with that outcome and a rep per lead",
        )
    _unknown_reps(model, history)  # refuses a file without any of the model's reps first
    y_all = target_values(history, model.target)
    lab = ~np.isnan(y_all)
    if lab.sum() == 0:
        raise ModelError(
            f"no row of the file has a known {model.target!r} outcome",
            hint="evaluate on leads whose outcome is settled",
        )
    frame = history.loc[lab].reset_index(drop=True)
    y = y_all[lab]
    unknown = _unknown_reps(model, frame)
    p = model.predict_proba(frame)
    results = {"model": metrics(y, p)}
    baselines = _count_baselines(model.fitted_.state, frame)
    for name, pb in baselines.items():
        results[name] = metrics(y, pb)
    comparisons = (
        auc_differences(y, p, baselines, seed=model.random_state) if 0 < y.sum() < len(y) else {}
    )
    by_group = {
        col: metrics_by_group(y, p, frame[col]).to_dict(orient="records")
        for col in ("rep_id", "industry", "size_band", "source")
        if col in frame and frame[col].notna().any()
    }
    return {
        "model_version": version,
        "unknown_reps": unknown,
        "metrics": results,
        "comparisons": comparisons,
        "by_group": by_group,
        "reliability": reliability_table(y, p).to_dict(orient="records"),
    }
