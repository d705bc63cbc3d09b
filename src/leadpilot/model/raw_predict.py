"""LightGBM raw scores of a few rows without the Python wrapper's per-call cost.

``Booster.predict`` builds an ``_InnerPredictor`` (two C calls, a parameter dict copied and
formatted), checks the input and sizes the output on every call: ~50-100 us, nothing next to
a batch of 200,000 rows but most of the time of the router's per-lead calls, which score a
handful of rows (a rep whose response time moved, the average rep) through the team booster
and one booster per rep. :func:`raw_scores` makes the same C call (``LGBM_BoosterPredictForMat``,
raw score, the iterations ``predict`` would use, the same prediction parameters), so each row
gets the same bits (``tests/model/test_raw_predict.py`` checks them against ``predict``); when
the wrapper's internals it relies on are missing (another LightGBM), it calls ``predict``.

With numba the trees are walked by :mod:`leadpilot.model.tree_kernels` instead (the same
bits, no call into LightGBM at all). The C call is written by hand because LightGBM has no
public low-overhead entry point for a few rows (its ``*SingleRowFast`` C functions score one
row per call and keep per-thread state), and the compilers of LightGBM models (lleaves,
treelite) give the same trees in a different order of additions (equal to ~1e-12, not bit
for bit) and take minutes to compile 100 rep boosters.
"""

from __future__ import annotations

import ctypes
from typing import Any

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray

from leadpilot.model import tree_kernels

__all__ = ["raw_scores"]

try:  # LightGBM's own ctypes handle to its library (what ``Booster.predict`` calls)
    from lightgbm.basic import _LIB, _safe_call

    _FAST = True
except ImportError:  # pragma: no cover - a LightGBM without these internals
    _FAST = False

_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_ROW_MAJOR = 1
_RAW_SCORE = 1  # C_API_PREDICT_RAW_SCORE
_PARAMS = b"num_threads=1"  # what ``predict(..., num_threads=1)`` passes


def raw_scores(booster: lgb.Booster, X: NDArray[np.float64]) -> NDArray[np.float64]:
    """``booster.predict(X, raw_score=True, num_threads=1)`` for a 2-D float64 ``X`` of a
    binary or regression model (one score per row), bit for bit."""
    trees = tree_kernels.compiled(booster) if X.ndim == 2 else None
    if trees is not None and X.shape[1] >= trees.n_features:  # no LightGBM call at all
        return tree_kernels.raw_scores(trees, X)
    handle: Any = getattr(booster, "_handle", None)
    if not _FAST or handle is None or X.ndim != 2 or booster.num_model_per_iteration() != 1:
        return np.asarray(booster.predict(X, raw_score=True, num_threads=1), dtype=np.float64)
    data = np.ascontiguousarray(X, dtype=np.float64)
    n_rows, n_cols = data.shape
    out = np.empty(n_rows, dtype=np.float64)
    if not n_rows:
        return out
    # ``predict``'s default: the best iteration when early stopping recorded one, else all.
    num_iteration = booster.best_iteration
    got = ctypes.c_int64(0)
    _safe_call(
        _LIB.LGBM_BoosterPredictForMat(
            handle,
            data.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int(_FLOAT64),
            ctypes.c_int32(n_rows),
            ctypes.c_int32(n_cols),
            ctypes.c_int(_ROW_MAJOR),
            ctypes.c_int(_RAW_SCORE),
            ctypes.c_int(0),
            ctypes.c_int(num_iteration),
            ctypes.c_char_p(_PARAMS),
            ctypes.byref(got),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
    )
    if got.value != n_rows:  # pragma: no cover - a model with several outputs per row
        return np.asarray(booster.predict(X, raw_score=True, num_threads=1), dtype=np.float64)
    return out
