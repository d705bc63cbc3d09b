"""Leak-free expanding rep statistics, checked by hand and by perturbing outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from worlds import toy_world

from leadpilot.model import glm_kernels
from leadpilot.model.features import _before, fit_feature_state, history_matrix, order_by_time


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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 2), st.sampled_from([0.0, 1.0])),
        min_size=1,
        max_size=60,
    )
)
def test_compiled_running_sums_equal_pandas(rows: list[tuple[int, int, float]]) -> None:
    """``_before``'s loop (numba) gives the pandas groupby's values: per key, the sum over
    strictly earlier time ranks (ties share the first row's value)."""
    if not glm_kernels.load():
        pytest.skip("numba is not installed")
    key = np.array([r[0] for r in rows], dtype=np.int64)
    rank = np.cumsum([r[1] for r in rows]).astype(np.int64)  # steps of 0 are ties
    values = np.array([r[2] for r in rows])
    compiled = np.empty(len(rows))
    glm_kernels.kernel("before")(key, rank, values, int(key.max()) + 1, compiled)
    saved = glm_kernels.AVAILABLE
    glm_kernels.AVAILABLE = False
    try:
        reference = _before(key, rank, values)
    finally:
        glm_kernels.AVAILABLE = saved
    assert np.array_equal(compiled, reference)
    # and by hand: the sum of the key's values at earlier ranks
    for i in range(len(rows)):
        assert compiled[i] == values[(key == key[i]) & (rank < rank[i])].sum()


def test_rep_indices_of_many_rows_equal_one_by_one() -> None:
    """A history's reps are looked up by distinct value; the same ``str`` of each value as
    the one-by-one lookup (numbers, text, missing and unknown reps)."""
    frame = _tiny()
    state = fit_feature_state(frame, None, target="converted", shrinkage=5.0)
    values = ["a", "b", "zz", None, float("nan"), 1, 1.0, "1", True]
    many = values * 2_000  # above the distinct-value threshold
    expected = np.array([state.rep_indices([v])[0] for v in values] * 2_000)
    assert np.array_equal(state.rep_indices(many), expected)
    assert list(expected[:3]) == [state.rep_ids.index("a"), state.rep_ids.index("b"), 2]
