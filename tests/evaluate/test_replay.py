"""The logged side of a replay and one policy's evaluation, by hand on a handful of leads."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.replay import (
    cross_fitted_reward_matrix,
    evaluate_decisions,
    load_summary,
    logged_replay,
    moved,
)
from leadpilot.evaluate.simulation import time_blocks
from leadpilot.schema import Decision

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _leads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "created_at": pd.date_range(T0, periods=4, freq="h"),
            "industry": ["Software", "Retail", "Software", "Retail"],
            "rep_id": ["a", "b", "a", "gone"],  # "gone" left the roster since
            "converted": pd.array([True, False, False, True], dtype="boolean"),
            "propensity": [0.5, 0.25, 0.8, 0.5],
        }
    )


def _decision(lead: str, rep: str | None, day: int = 2, lane: str = "standard") -> Decision:
    return Decision(
        lead_id=lead, rep_id=rep, pool="p", lane=lane, strategy="predictive",
        reasons=("X",), decided_at=T0, rep_local_day=date(2026, 3, day),
    )  # fmt: skip


def test_recorded_propensities_and_a_rep_who_left() -> None:
    frame = _leads()
    logged = logged_replay(frame, frame, ["a", "b"])
    assert logged.propensity_source == "recorded"
    assert logged.rep_ids == ("a", "b", "gone")
    assert logged.action.tolist() == [0, 1, 0, 2]
    assert logged.pscore.tolist() == [0.5, 0.25, 0.8, 0.5]
    assert logged.logging_dist is None


def test_evaluation_by_hand() -> None:
    frame = _leads()
    logged = logged_replay(frame, frame, ["a", "b"])
    decisions = [_decision("L1", "a"), _decision("L2", "a"), _decision("L3", "b", day=3),
                 _decision("L4", None), _decision("L5", "a")]  # fmt: skip
    ev = evaluate_decisions("p", logged, decisions, n_bootstrap=50)
    # weights: L1 matches (1 / 0.5), others differ; IPS = 2 * 1 / 4
    assert ev.estimates["ips"].rate == pytest.approx(0.5)
    # SNIPS: 2 * 1 / 2 over the matched weight, times the 3 of 4 leads the policy assigned
    assert ev.estimates["snips"].rate == pytest.approx(0.75)
    assert "dm" not in ev.estimates  # no outcome model given
    assert ev.lift_vs_logged["ips"].rate == pytest.approx(0.5 / 0.5 - 1)
    assert ev.n_leads == 4
    # L5 was routed but is not in the replay (no settled outcome): counted in the load only
    assert ev.leads_per_rep == {"a": 3, "b": 1}
    assert ev.unassigned == 1
    assert ev.fairness_range == pytest.approx((1 / 2, 3 / 2))  # 3 and 1 over an average of 2
    assert ev.peak_daily_load == {"a": 3, "b": 1}


def test_estimated_propensities_when_none_were_recorded() -> None:
    frame = pd.concat([_leads()] * 30, ignore_index=True).drop(columns="propensity")
    frame["lead_id"] = [f"L{i}" for i in range(len(frame))]
    frame["created_at"] = pd.date_range(T0, periods=len(frame), freq="h")
    logged = logged_replay(frame, frame, ["a", "b"], clip=0.2)
    assert logged.propensity_source == "estimated"
    assert logged.logging_dist is not None
    assert logged.logging_dist.sum(axis=1) == pytest.approx(np.ones(len(frame)))
    assert logged.pscore.min() >= 0.2  # clipped


def test_shares_and_moves() -> None:
    first = [_decision("L1", "a"), _decision("L2", "b"), _decision("L3", "a")]
    other = [_decision("L1", "b"), _decision("L2", "b"), _decision("L3", "b", lane="hot")]
    assert moved(first, other) == {"leads": 2, "top": [{"from": "a", "to": "b", "leads": 2}]}
    summary = load_summary(other)
    assert summary["share_by_lane"] == pytest.approx({"standard": 2 / 3, "hot": 1 / 3})


def test_replay_errors_say_what_to_fix() -> None:
    frame = _leads()
    with pytest.raises(DataValidationError, match="no replayed lead has a settled outcome"):
        logged_replay(frame.iloc[:0], frame, ["a"])
    no_rep = frame.assign(rep_id=[None, "a", "a", "a"])
    with pytest.raises(DataValidationError, match="have no rep_id"):
        logged_replay(no_rep, no_rep, ["a"])
    logged = logged_replay(frame, frame, ["a", "b"])
    with pytest.raises(DataValidationError, match="no simulated decision"):
        evaluate_decisions("p", logged, [_decision("L1", "a")], n_bootstrap=50)


def test_time_blocks_are_consecutive_and_equal() -> None:
    frame = pd.DataFrame({"x": range(10)})
    parts = time_blocks(frame, 3)
    assert [p["x"].tolist() for p in parts] == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]


class _Recorder:
    """A fake outcome model: remembers the lead ids it trained on and scores every pair
    with its own number."""

    def __init__(self, number: float, trained: pd.DataFrame) -> None:
        self.number = number
        self.trained = set(trained["lead_id"])

    def predict_proba(self, pairs: pd.DataFrame) -> np.ndarray:
        return np.full(len(pairs), self.number)


def test_cross_fitted_reward_matrix_never_scores_a_lead_with_a_model_that_saw_it() -> None:
    earlier = pd.DataFrame({"lead_id": ["e1", "e2"], "converted": [1.0, 0.0]})
    leads = pd.DataFrame({"lead_id": [f"l{i}" for i in range(7)], "converted": [0.0] * 7})
    models: list[_Recorder] = []

    def fit(train: pd.DataFrame) -> _Recorder:
        models.append(_Recorder(0.1 * (len(models) + 1), train))
        return models[-1]

    q = cross_fitted_reward_matrix(fit, leads, earlier, ["a", "b"], folds=3)
    assert q.shape == (7, 2)
    assert len(models) == 3
    for i, lead in enumerate(leads["lead_id"]):
        model = models[i % 3]  # every 3rd lead is in the same fold
        assert lead not in model.trained
        assert {"e1", "e2"} <= model.trained
        assert len(model.trained) == 2 + 7 - len(range(i % 3, 7, 3))
        assert q[i].tolist() == pytest.approx([model.number] * 2)
    with pytest.raises(DataValidationError, match="at least 2"):
        cross_fitted_reward_matrix(fit, leads, earlier, ["a"], folds=1)


def test_cross_fitted_reward_matrix_shares_the_first_folds_model_when_asked() -> None:
    """With ``share_choices`` every fold's fit is also given the first fold's model (the
    first gets ``None``); which leads each model trains on and scores does not change."""
    earlier = pd.DataFrame({"lead_id": ["e1", "e2"], "converted": [1.0, 0.0]})
    leads = pd.DataFrame({"lead_id": [f"l{i}" for i in range(7)], "converted": [0.0] * 7})
    models: list[_Recorder] = []
    given: list[_Recorder | None] = []

    def fit(train: pd.DataFrame, like: _Recorder | None) -> _Recorder:
        given.append(like)
        models.append(_Recorder(0.1 * (len(models) + 1), train))
        return models[-1]

    q = cross_fitted_reward_matrix(fit, leads, earlier, ["a", "b"], folds=3, share_choices=True)
    assert given == [None, models[0], models[0]]
    for i, lead in enumerate(leads["lead_id"]):
        model = models[i % 3]
        assert lead not in model.trained
        assert q[i].tolist() == pytest.approx([model.number] * 2)
