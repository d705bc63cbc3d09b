"""The router's shortcut for numpy's nanmean (the candidates' mean response time) gives
numpy's own bits, with and without missing values, at the lengths where numpy's pairwise
sum changes its order of additions (8, 128)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from leadpilot.model.scoring import _nanmean


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 83, 127, 128, 129, 1_000])
def test_nanmean_is_numpys_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(200):
        v = np.log1p(rng.uniform(0.0, 60.0, n))
        assert _nanmean(v) == float(np.nanmean(v))
        v[rng.random(n) < 0.3] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing draw
            expected = float(np.nanmean(v))
            got = _nanmean(v)
        assert got == expected or (np.isnan(got) and np.isnan(expected))
