"""Refuse to train on data that cannot support a model, and drop outcome-in-disguise columns."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from leadpilot.errors import ModelError

__all__ = [
    "LEAK_AUC",
    "MIN_OUTCOMES",
    "LeakageWarning",
    "LeakyColumn",
    "check_trainable",
    "drop_unsettled_tail",
    "find_leaky_columns",
    "refuse_leaky_rep_column",
]

MIN_OUTCOMES = 500
LEAK_AUC = 0.99  # a column that separates won from lost this well is the outcome in disguise
_GUARD_SAMPLE = 200_000


class LeakageWarning(UserWarning):
    """A column predicts the outcome almost perfectly and was dropped from the features."""


@dataclass(frozen=True)
class LeakyColumn:
    column: str
    how: str  # "missingness" or "value"
    auc: float

    def message(self, target: str) -> str:
        what = "whether it is filled" if self.how == "missingness" else "its value"
        return (
            f"column {self.column!r} looks like the outcome in disguise: {what} predicts "
            f"{target!r} with AUC {self.auc:.3f}; it was dropped from the features"
        )


def check_trainable(
    y: NDArray[np.float64], rep_ids: pd.Series, *, target: str, min_outcomes: int = MIN_OUTCOMES
) -> None:
    """Raise ``ModelError`` when the labelled history cannot support a model."""
    lab = ~np.isnan(y)
    n = int(lab.sum())
    if n < min_outcomes:
        raise ModelError(
            f"only {n} leads have a known {target!r} outcome; at least {min_outcomes} are "
            "needed to learn who converts what",
            hint="export a longer history (more months), or use the per-rep rates of "
            "`leadpilot analyze` until enough outcomes have accumulated",
            details={"outcomes": n, "minimum": min_outcomes},
        )
    k = int(np.nansum(y))
    if k == 0 or k == n:
        only = "converted" if k == n else "did not convert"
        raise ModelError(
            f"every one of the {n} leads with a known {target!r} outcome {only}; a model "
            "needs both outcomes to learn from",
            hint=f"check the {target!r} column mapping (e.g. which stages count as won), or "
            "include the lost/unconverted leads in the export",
        )
    reps = rep_ids[lab].dropna().astype(str).nunique()
    if reps < 2:
        raise ModelError(
            f"only {reps} rep has leads with known outcomes; comparing reps needs at least 2",
            hint="check that the rep/owner column is mapped (rep_id) and filled",
        )


def refuse_leaky_rep_column(
    frame: pd.DataFrame, y: NDArray[np.float64], *, target: str, allow: Collection[str]
) -> LeakyColumn | None:
    """Raise ``ModelError`` when the rep column itself gives the outcome away (olist records
    the rep only on won leads), unless ``"rep_id"`` is in ``allow``; returns the leak that was
    allowed, or ``None`` when there is none.

    A leaky feature column can be dropped; the rep cannot (the model is about reps), so a
    model learned from it would score a lead by whether it already has a rep."""
    found = find_leaky_columns(frame, y, ["rep_id"])
    if not found:
        return None
    leak = found[0]
    if "rep_id" in allow:
        return leak
    what = (
        "whether a lead has a rep"
        if leak.how == "missingness"
        else "which rep a lead has (out of sample)"
    )
    raise ModelError(
        f"column 'rep_id' gives the outcome away: {what} predicts {target!r} with AUC "
        f"{leak.auc:.3f}, so the CRM most likely records the rep only once a lead is "
        "settled; a model learned from it would not learn which rep converts a new lead",
        hint="export the rep of every lead (the lost and open ones too), or map another "
        "owner column to rep_id; to train anyway, pass --allow-leaky rep_id (the model card "
        "records it)",
        details={"column": "rep_id", "how": leak.how, "auc": round(leak.auc, 4)},
    )


def _auc(score: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def find_leaky_columns(
    frame: pd.DataFrame, y: NDArray[np.float64], columns: Sequence[str], *, seed: int = 0
) -> list[LeakyColumn]:
    """Columns whose missingness or value separates the outcome almost perfectly.

    Categorical values are judged out-of-sample (level rates learned on one half, scored on
    the other), so a many-level id column does not look leaky by memorising itself.
    """
    lab = ~np.isnan(y)
    idx = np.flatnonzero(lab)
    rng = np.random.default_rng(seed)
    if len(idx) > _GUARD_SAMPLE:
        idx = np.sort(rng.choice(idx, _GUARD_SAMPLE, replace=False))
    yy = y[idx]
    if yy.min() == yy.max():
        return []
    out: list[LeakyColumn] = []
    for col in columns:
        if col not in frame:
            continue
        s = frame[col].iloc[idx].reset_index(drop=True)
        miss = s.isna().to_numpy()
        if 0 < miss.sum() < len(miss):
            auc = _auc(miss.astype(np.float64), yy)
            if auc >= LEAK_AUC:
                out.append(LeakyColumn(col, "missingness", auc))
                continue
        ok = ~miss
        if ok.sum() < 50 or yy[ok].min() == yy[ok].max():
            continue
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            vals = pd.to_numeric(s[ok].astype("object"), errors="coerce").to_numpy(np.float64)
            if np.isnan(vals).any() or np.unique(vals).size < 2:
                continue
            auc = _auc(vals, yy[ok])
        else:
            vals_s = s[ok].astype(str).reset_index(drop=True)
            half = rng.random(len(vals_s)) < 0.5
            rates = pd.Series(yy[ok][half]).groupby(vals_s[half].to_numpy()).mean()
            scored = vals_s[~half].map(rates).to_numpy(dtype=np.float64, na_value=np.nan)
            keep = ~np.isnan(scored)
            yo = yy[ok][~half][keep]
            if keep.sum() < 50 or yo.min() == yo.max():
                continue
            auc = _auc(np.asarray(scored[keep], dtype=np.float64), yo)
        if auc >= LEAK_AUC:
            out.append(LeakyColumn(col, "value", auc))
    return out


def drop_unsettled_tail(
    frame: pd.DataFrame, y: NDArray[np.float64], target: str
) -> tuple[pd.DataFrame, NDArray[np.float64], int]:
    """Treat the outcomes of the most recent leads as open when most of them still are;
    returns (frame, outcomes, number of known outcomes set aside).

    In an export taken today, a recent lead that converted fast already shows
    ``converted = True`` while its slower peers are still open: the known outcomes of
    that tail over-state conversion. The tail is the run of latest leads after the last
    known non-conversion, when most of it is open; its outcomes are not learned from or
    tested on.
    """
    open_ = np.isnan(y)
    negatives = np.flatnonzero(y == 0)
    if not open_.any() or len(negatives) == 0:
        return frame, y, 0
    start = int(negatives[-1]) + 1
    n_known = int((~open_[start:]).sum())
    if n_known == 0 or open_[start:].mean() < 0.5:
        return frame, y, 0
    y = y.copy()
    y[start:] = np.nan
    frame = frame.copy()
    frame.loc[frame.index[start:], target] = pd.NA
    return frame, y, n_known
