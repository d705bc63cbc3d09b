"""The training set of a retrain, built from the store.

* History leads (``leadpilot load``) carry their outcome columns as loaded.
* Leads the service routed are labelled from their events: converted once a meeting,
  opportunity or won deal is recorded; not converted only once the deal was lost or the
  outcome window has passed since the lead arrived (a lead routed yesterday is not a
  failure yet, it is open and left out).
* Leads the model itself placed are re-weighted by the inverse of their logged propensity
  (clipped), so the exploratory choices count for what they stand for and the model does
  not only learn from its own picks. The trainer takes no case weights, so the weights
  become row counts by systematic resampling (each row kept round(weight) times, in time
  order; the counts add up to the rows' number; copies named by
  :func:`leadpilot.copies.copy_id`, so evidence can be counted in leads).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadpilot.copies import copy_id
from leadpilot.errors import ConfigError
from leadpilot.schema import HISTORY_COLUMNS
from leadpilot.store.training_reads import leads_for_training

__all__ = ["PROPENSITY_FLOOR", "TrainingSet", "build_training_set", "parse_window"]

PROPENSITY_FLOOR = 0.05  # caps an importance weight at 20
_UNITS = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}
_OUTCOMES = ("converted", "closed_won")
_NOT_FEATURES = frozenset({"source_row", "owner_rep_id"})


def parse_window(text: str) -> timedelta:
    """``18m`` (months), ``90d``, ``12w``, ``2y`` as a duration."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*", text.lower())
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(
            f"--window {text!r} is not a duration",
            hint="a number and a unit: 90d, 12w, 18m (months) or 2y",
        )
    return timedelta(days=float(found.group(1)) * _UNITS[found.group(2)])


@dataclass(frozen=True)
class TrainingSet:
    """The canonical history frame to learn from and what went into it."""

    frame: pd.DataFrame
    fingerprint: str
    since: datetime
    until: datetime
    history_rows: int
    routed_rows: int
    open_rows: int  # routed leads still inside their outcome window (left unlabelled)
    weighted_rows: int  # routed by the model, re-weighted by their propensity
    resampled_rows: int  # rows after the re-weighting
    propensity: dict[str, float]  # lead id -> logged propensity of the model's choice

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts (what ``retrain --json`` reports)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "fingerprint": self.fingerprint,
            "history_rows": self.history_rows,
            "routed_rows": self.routed_rows,
            "open_rows": self.open_rows,
            "weighted_rows": self.weighted_rows,
            "rows": self.resampled_rows,
            "labelled_rows": int(self.frame["converted"].notna().sum()),
        }


def _routed_outcome(row: Any, now: datetime, window: timedelta) -> bool | None:
    if row.meeting_at is not None or row.opportunity_at is not None or row.closed_won:
        return True
    if row.closed_won is False or row.received_at + window <= now:
        return False
    return None


def _record(row: Any, now: datetime, window: timedelta) -> dict[str, Any]:
    fields = dict(row.fields or {})
    attrs = dict(fields.pop("attributes", None) or {})
    out: dict[str, Any] = {k: fields.get(k) for k in HISTORY_COLUMNS if k in fields}
    out["lead_id"] = row.lead_id
    out["created_at"] = row.created_at
    for key, value in attrs.items():
        if key not in _NOT_FEATURES and key not in HISTORY_COLUMNS:
            out[key] = value
    if row.status == "history":
        for col in ("rep_id", *_OUTCOMES, "first_contact_at", "time_to_contact_hours",
                    "converted_at", "closed_at", "deal_value"):  # fmt: skip
            out[col] = attrs.get(col)
        out["rep_id"] = row.rep_id or attrs.get("rep_id")
        return out
    converted = _routed_outcome(row, now, window)
    out["rep_id"] = row.rep_id
    out["converted"] = converted
    out["closed_won"] = row.closed_won if row.closed_at is not None else None
    out["first_contact_at"] = row.first_touch_at
    if row.first_touch_at is not None:
        out["time_to_contact_hours"] = (row.first_touch_at - row.created_at).total_seconds() / 3600
    out["closed_at"] = row.closed_at
    return out


def _resample(frame: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Systematic resampling: row ``i`` kept ``floor(c_i + .5) - floor(c_{i-1} + .5)`` times
    with ``c`` the running sum of the weights (rescaled to add up to the rows' number)."""
    w = weights * (len(weights) / weights.sum())
    c = np.floor(np.cumsum(w) + 0.5)
    counts = np.diff(np.concatenate([[0.0], c])).astype(np.int64)
    out = frame.loc[frame.index.repeat(counts)].copy()
    copy_no = out.groupby(level=0).cumcount().to_numpy()
    ids = out["lead_id"].astype(str).to_numpy()
    out["lead_id"] = [copy_id(i, int(k)) for i, k in zip(ids, copy_no, strict=True)]
    return out.reset_index(drop=True)


def build_training_set(
    conn: sa.Connection,
    *,
    now: datetime,
    window: timedelta,
    outcome_window: timedelta = timedelta(days=30),
) -> TrainingSet:
    """Every lead created in ``[now - window, now)`` as a canonical history frame (see the
    module docstring for labels and weights)."""
    since = now - window
    rows = [r for r in leads_for_training(conn, since=since) if r.created_at < now]
    if not rows:
        raise ConfigError(
            f"no leads in the store since {since:%Y-%m-%d} to learn from",
            hint="load a history with `leadpilot load history.csv`, or widen --window",
        )
    records = [_record(r, now, outcome_window) for r in rows]
    frame = pd.DataFrame.from_records(records)
    for col in HISTORY_COLUMNS:
        if col not in frame:
            frame[col] = None
    for col in ("created_at", "first_contact_at", "converted_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="mixed")
    for col in ("company_size", "annual_revenue", "engagement_score", "time_to_contact_hours",
                "deal_value"):  # fmt: skip
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    for col in _OUTCOMES:
        frame[col] = frame[col].map(_boolish).astype("boolean")
    history = np.array([r.status == "history" for r in rows])
    routed = ~history & frame["rep_id"].notna().to_numpy()
    frame = frame[history | routed].reset_index(drop=True)
    kept = [r for r, keep in zip(rows, history | routed, strict=True) if keep]
    propensity = np.array(
        [
            r.d_propensity if r.d_model_version is not None and r.d_propensity else np.nan
            for r in kept
        ],
        dtype=np.float64,
    )
    by_model = ~np.isnan(propensity)
    weights = np.ones(len(frame))
    weights[by_model] = 1.0 / np.maximum(propensity[by_model], PROPENSITY_FLOOR)
    if by_model.any():
        weights[by_model] /= weights[by_model].mean()  # the model's leads keep their share
    open_rows = int((~np.array([r.status == "history" for r in kept]) & frame["converted"].isna()
                     .to_numpy()).sum())  # fmt: skip
    resampled = _resample(frame, weights) if by_model.any() else frame
    return TrainingSet(
        frame=resampled,
        fingerprint=_fingerprint(frame),
        since=since,
        until=now,
        history_rows=int(history.sum()),
        routed_rows=int(routed.sum()),
        open_rows=open_rows,
        weighted_rows=int(by_model.sum()),
        resampled_rows=len(resampled),
        propensity={
            str(lead_id): float(p)
            for lead_id, p in zip(frame["lead_id"], propensity, strict=True)
            if not np.isnan(p)
        },
    )


def _boolish(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes", "won", "converted"):
            return True
        if low in ("false", "0", "no", "lost"):
            return False
        return None
    return bool(value)


def _fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 (16 hex digits) of every lead's id, rep and outcome: two retrains on the
    same data share it."""
    h = hashlib.sha256()
    cols = frame[["lead_id", "rep_id", "converted"]].astype(str)
    for row in cols.itertuples(index=False):
        h.update("|".join(row).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]
