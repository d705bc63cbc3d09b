"""The router's shortcut for numpy's nanmean (the candidates' mean response time) gives
numpy's own bits, with and without missing values, at the lengths where numpy's pairwise
sum changes its order of additions (8, 128)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from leadpilot.model.scoring import _mean_or_nan, _nanmean


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


def _reference(v: np.ndarray) -> float:
    """What the router computed before ``_mean_or_nan``: numpy's nanmean, NaN when no value
    is finite."""
    if not np.isfinite(v).any():
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing draw, an overflow
        return float(np.nanmean(v))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 83, 127, 128, 129])
def test_mean_or_nan_is_nanmean_or_nan_bit_for_bit(n: int) -> None:
    """Finite values, missing ones, infinities of either sign, and sums that overflow: the
    same float (or NaN) as numpy's nanmean guarded by ``isfinite(v).any()``."""
    rng = np.random.default_rng(1_000 + n)
    specials = np.array([np.nan, np.inf, -np.inf, 1e308])
    for _ in range(300):
        v = np.log1p(rng.uniform(0.0, 60.0, n))
        draw = rng.random(n)
        mask = draw < rng.choice([0.0, 0.1, 0.5, 1.0])
        v[mask] = rng.choice(specials, int(mask.sum()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # sums past the largest float
            got = _mean_or_nan(v)
        expected = _reference(v)
        assert np.array_equal(np.array(got), np.array(expected), equal_nan=True), (v, got)
