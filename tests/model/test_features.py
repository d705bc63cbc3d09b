"""Leak-free expanding rep statistics, checked by hand and by perturbing outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from worlds import toy_world

from leadpilot.model.features import fit_feature_state, history_matrix, order_by_time


def _tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04"], utc=True
            ),
            "rep_id": ["a", "a", "a", "b", "a"],
            "industry": ["X", "X", "Y", "X", "X"],
            "source": None,
            "size_band": None,
            "region": None,
            "country": None,
            "product": None,
            "converted": pd.array([True, False, True, True, None], dtype="boolean"),
        }
    )


def test_expanding_shrunk_rates_match_hand_computation() -> None:
    frame, rank = order_by_time(_tiny(), "created_at")
    m = 2.0
    state = fit_feature_state(frame, None, target="converted", shrinkage=m)
    X, rep_n = history_matrix(state, frame, rank)
    col = {n: i for i, n in enumerate(state.feature_names)}
    # Row 1 and 2 share a timestamp: both see only row 0 (a converted X lead).
    g1 = (1 + 1) / (1 + 2)  # global rate before rows 1-2: Laplace (k + 1) / (n + 2)
    rep_rate_1 = (1 + m * g1) / (1 + m)
    assert np.isclose(X[1, col["rep_rate"]], rep_rate_1)
    assert np.isclose(X[2, col["rep_rate"]], rep_rate_1)
    assert rep_n.tolist() == [0, 1, 1, 0, 3]
    # Row 4 (rep a, industry X): earlier a-X outcomes are rows 0 (1) and 1 (0).
    g4 = (3 + 1) / (4 + 2)
    rr = (2 + m * g4) / (3 + m)
    ax = (1 + m * rr) / (2 + m)
    assert np.isclose(X[4, col["rep_x_industry_rate"]], ax)
    seg_x = (2 + m * g4) / (3 + m)  # rows 0, 1, 3 are industry X: 2 of 3 converted
    assert np.isclose(X[4, col["rep_x_industry_lift"]], ax - seg_x)
    assert np.isclose(X[4, col["rep_x_industry_log_n"]], np.log1p(2))


def test_features_never_see_own_or_later_outcomes() -> None:
    world = toy_world(600, seed=1)
    frame, rank = order_by_time(world.history, "created_at")
    state = fit_feature_state(frame, world.reps, target="converted", shrinkage=20.0)
    X, _ = history_matrix(state, frame, rank)
    flipped = frame.copy()
    cut = 300
    flipped.loc[cut:, "converted"] = ~flipped.loc[cut:, "converted"]
    X2, _ = history_matrix(state, flipped, rank)
    np.testing.assert_array_equal(X[: cut + 1], X2[: cut + 1])
    assert not np.allclose(X[cut + 1 :], X2[cut + 1 :], equal_nan=True)


def test_file_order_stands_for_time_without_dates() -> None:
    frame = _tiny().drop(columns=["created_at"]).assign(created_at=pd.NaT)
    ordered, rank = order_by_time(frame, None)
    assert rank.tolist() == [0, 1, 2, 3, 4]
    assert ordered["rep_id"].tolist() == frame["rep_id"].tolist()
