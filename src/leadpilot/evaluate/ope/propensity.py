"""Estimated logging propensities: a model of which rep the history gave each lead.

When the history did not come from leadpilot (a CRM export), nobody recorded how likely each
assignment was. ``LoggingPolicyModel`` learns it: a multinomial logistic regression of the
assigned rep on the lead's segment columns and, when known, its account owner (ownership
holds), restricted at each moment to the reps the history shows were taking leads then.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope.data import NDF

__all__ = ["LEAD_COLUMNS", "LoggingPolicyModel", "clip_propensity"]

LEAD_COLUMNS: tuple[str, ...] = ("industry", "size_band", "region", "source", "product")
_MISSING = "(missing)"


def clip_propensity(p: NDF, floor: float) -> NDF:
    """``p`` raised to at least ``floor``: caps each importance weight at ``1 / floor``."""
    return np.maximum(p, floor)


class LoggingPolicyModel:
    """P(rep | lead, time) of the historical assignment (scikit-learn conventions).

    Parameters: ``columns``, the lead columns the assignment may have depended on; ``C``, the
    inverse ridge strength of the logistic regression; ``owner_column``, a column holding the
    lead's account owner (``None`` to ignore holds); ``random_state``.

    Example::

        model = LoggingPolicyModel().fit(history)
        p = model.predict_proba(history)  # (n_leads, len(model.reps_))
    """

    reps_: list[str]
    active_from_: NDArray[np.datetime64]
    active_to_: NDArray[np.datetime64]
    encoder_: OneHotEncoder
    classifier_: LogisticRegression

    def __init__(
        self,
        *,
        columns: Sequence[str] = LEAD_COLUMNS,
        C: float = 1.0,
        owner_column: str | None = "owner_rep_id",
        random_state: int = 0,
    ) -> None:
        self.columns = tuple(columns)
        self.C = C
        self.owner_column = owner_column
        self.random_state = random_state

    def fit(self, history: pd.DataFrame) -> LoggingPolicyModel:
        """Learn from a canonical history with ``rep_id`` and ``created_at``."""
        if self.C <= 0:
            raise DataValidationError(f"C={self.C} must be positive", hint="e.g. C=1.0")
        for col in ("rep_id", "created_at"):
            if col not in history or history[col].isna().all():
                raise DataValidationError(
                    f"the history has no {col!r} values, so the assignment cannot be modelled",
                    hint="map the owner column to rep_id and the creation date to created_at",
                )
        frame = history[history["rep_id"].notna() & history["created_at"].notna()]
        reps = sorted(frame["rep_id"].astype(str).unique())
        if len(reps) < 2:
            raise DataValidationError(
                "the history assigned every lead to one rep: there is no assignment to model",
                hint="simulate against a history with at least two reps",
            )
        self.reps_ = reps
        when = _times(frame)
        rep = frame["rep_id"].astype(str).to_numpy()
        self.active_from_ = np.array([when[rep == r].min() for r in reps])
        self.active_to_ = np.array([when[rep == r].max() for r in reps])
        self.encoder_ = OneHotEncoder(handle_unknown="ignore")
        self.encoder_.fit(self._categories(frame))
        y = np.searchsorted(np.array(reps), rep)
        self.classifier_ = LogisticRegression(C=self.C, max_iter=500)
        self.classifier_.fit(self._design(frame), y)
        return self

    def predict_proba(self, leads: pd.DataFrame) -> NDF:
        """P(rep | lead) of each rep in ``reps_``, shape ``(n_leads, n_reps)``: zero for reps
        not taking leads at the lead's ``created_at`` (before their first or after their last
        logged lead); rows renormalised to sum to 1."""
        if not hasattr(self, "classifier_"):
            raise DataValidationError(
                "this LoggingPolicyModel is not fitted", hint="call fit(history) first"
            )
        raw = self.classifier_.predict_proba(self._design(leads))  # once: also the fallback
        p = np.zeros((len(leads), len(self.reps_)))
        p[:, self.classifier_.classes_] = raw
        when = _times(leads)[:, None]
        p *= (self.active_from_[None, :] <= when) & (when <= self.active_to_[None, :])
        total = p.sum(axis=1, keepdims=True)
        # A lead outside every rep's active span (e.g. after the history ends) keeps the
        # unrestricted probabilities rather than dividing by zero.
        fallback = np.zeros_like(p)
        fallback[:, self.classifier_.classes_] = raw
        return np.where(total > 0, p / np.where(total > 0, total, 1.0), fallback)

    def _categories(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for col in self.columns:
            values = frame[col] if col in frame else pd.Series(None, index=frame.index)
            out[col] = values.astype(object).where(values.notna(), _MISSING).astype(str)
        return out

    def _design(self, frame: pd.DataFrame) -> sparse.csr_matrix:
        parts = [sparse.csr_matrix(self.encoder_.transform(self._categories(frame)))]
        if self.owner_column is not None and self.owner_column in frame:
            owner = frame[self.owner_column].astype(object).to_numpy()
            col = np.array([self._rep_pos(o) for o in owner])
            rows = np.flatnonzero(col >= 0)
            parts.append(
                sparse.csr_matrix(
                    (np.ones(len(rows)), (rows, col[rows])), shape=(len(frame), len(self.reps_))
                )
            )
        else:
            parts.append(sparse.csr_matrix((len(frame), len(self.reps_))))
        return sparse.hstack(parts).tocsr()

    def _rep_pos(self, rep: object) -> int:
        if rep is None or (isinstance(rep, float) and np.isnan(rep)):
            return -1
        i = int(np.searchsorted(self.reps_, str(rep)))
        return i if i < len(self.reps_) and self.reps_[i] == str(rep) else -1


def _times(frame: pd.DataFrame) -> NDArray[np.datetime64]:
    return np.asarray(pd.to_datetime(frame["created_at"], utc=True).dt.tz_localize(None).to_numpy())
