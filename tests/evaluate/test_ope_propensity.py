"""The logging-policy model: cell frequencies recovered, inactive reps excluded, holds learned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope import LoggingPolicyModel, clip_propensity


def _history() -> pd.DataFrame:
    # Software leads: 80 to rep-a, 20 to rep-b; Retail leads: 30 to rep-a, 70 to rep-b.
    rows = [("Software", "rep-a")] * 80 + [("Software", "rep-b")] * 20
    rows += [("Retail", "rep-a")] * 30 + [("Retail", "rep-b")] * 70
    frame = pd.DataFrame(rows, columns=["industry", "rep_id"])
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame["created_at"] = pd.date_range("2026-01-01", periods=len(frame), freq="h", tz="UTC")
    return frame


def test_saturated_model_recovers_the_cell_frequencies() -> None:
    # With one categorical column and almost no penalty, the logistic regression's maximum
    # likelihood is the empirical share of each rep within each industry.
    hist = _history()
    model = LoggingPolicyModel(columns=("industry",), C=1e6).fit(hist)
    probe = pd.DataFrame(
        {"industry": ["Software", "Retail", None], "created_at": hist["created_at"].iloc[50:53]}
    )
    p = model.predict_proba(probe)
    assert model.reps_ == ["rep-a", "rep-b"]
    assert p[0] == pytest.approx([0.8, 0.2], abs=1e-3)
    assert p[1] == pytest.approx([0.3, 0.7], abs=1e-3)
    assert p.sum(axis=1) == pytest.approx(np.ones(3))


def test_reps_outside_their_active_span_get_zero() -> None:
    hist = _history()
    late = hist.iloc[:10].copy()
    late["rep_id"] = "rep-c"
    late["created_at"] = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(
        np.arange(10), unit="h"
    )
    model = LoggingPolicyModel(columns=("industry",)).fit(pd.concat([hist, late]))
    before = pd.DataFrame({"industry": ["Software"], "created_at": [hist["created_at"].min()]})
    during = pd.DataFrame({"industry": ["Software"], "created_at": [late["created_at"].iloc[5]]})
    assert model.predict_proba(before)[0, 2] == 0.0  # rep-c had not started
    # rep-a and rep-b took their last lead before rep-c's span: only rep-c is active then
    assert model.predict_proba(during)[0] == pytest.approx([0.0, 0.0, 1.0])


def test_account_owner_column_learns_the_hold() -> None:
    hist = _history()
    hist["owner_rep_id"] = None
    owned = hist.index[:60]
    hist.loc[owned, "owner_rep_id"] = "rep-b"
    hist.loc[owned, "rep_id"] = "rep-b"  # every owned lead went to its owner
    model = LoggingPolicyModel(columns=("industry",)).fit(hist)
    probe = pd.DataFrame(
        {
            "industry": ["Software", "Software"],
            "owner_rep_id": ["rep-b", None],
            "created_at": [hist["created_at"].iloc[100]] * 2,
        }
    )
    p = model.predict_proba(probe)
    assert p[0, 1] > 0.9  # owned by rep-b
    assert p[1, 1] < 0.5  # not owned: the industry share


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"rep_id": ["a", "b"]}), "no 'created_at' values"),
        (
            pd.DataFrame({"rep_id": ["a", "a"], "created_at": pd.Timestamp.now(tz="UTC")}),
            "every lead to one rep",
        ),
    ],
)
def test_unusable_histories_are_rejected(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        LoggingPolicyModel().fit(frame)


def test_clip_caps_the_weight() -> None:
    assert clip_propensity(np.array([0.001, 0.2]), 0.01).tolist() == [0.01, 0.2]
