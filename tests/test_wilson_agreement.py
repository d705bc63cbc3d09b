"""The Wilson intervals used across leadpilot agree: the scalar one (scipy; validate, dedupe)
and the vectorised closed form (analyze)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpilot.analyze.rates import wilson_interval as closed_form
from leadpilot.cli.dedupe import _wilson
from leadpilot.ingest.dedupe import DedupeResult
from leadpilot.ingest.quality import wilson_interval


@given(st.integers(1, 5_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_scalar_and_vectorised_wilson_agree(kn: tuple[int, int]) -> None:
    k, n = kn
    estimate = wilson_interval(k, n)
    assert estimate is not None
    low, high = closed_form(k, n)
    assert estimate.low == pytest.approx(float(low[0]), abs=1e-9)
    assert estimate.high == pytest.approx(float(high[0]), abs=1e-9)
    assert _wilson(k, n) == (estimate.low, estimate.high)


def test_empty_sample_is_the_whole_unit_interval() -> None:
    assert _wilson(0, 0) == (0.0, 1.0)


def test_duplicate_rate_interval_is_the_wilson_interval() -> None:
    result = DedupeResult(
        clusters=[["a", "b", "c"], ["d", "e"]], pairs=pd.DataFrame(), n_records=50
    )
    assert result.n_duplicates == 3  # the first record of each cluster is kept
    low, high = closed_form(3, 50)
    assert result.duplicate_rate_interval() == pytest.approx((float(low[0]), float(high[0])))
    empty = DedupeResult(clusters=[], pairs=pd.DataFrame(), n_records=0)
    assert empty.duplicate_rate_interval() == (0.0, 1.0)
