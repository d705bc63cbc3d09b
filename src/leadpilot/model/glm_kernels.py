"""Compiled loops for the linear part's margins (numba), bit for bit the numpy code of
:class:`leadpilot.model.glm.GLMStack`.

The batch router scores 100 reps x 2,048 leads x 9 models per call, and numpy's version
of the numeric terms walks that (models x rows) array ~3 times per term (standardise, take
the product, add), ~60% of the whole model call. These loops make each row's terms once and
add them to every model in the same order, with the same IEEE operations (no fast-math, no
fused multiply-add: LLVM contracts only when asked), so every margin has the same bits as
numpy's: ``tests/model/test_glm_kernels.py`` checks it on a trained model's rows, NaNs and
infinities included. numba is imported by the first big call (see :data:`IMPORT_ROWS`);
without numba (or with ``LEADPILOT_NO_NUMBA=1``) :data:`AVAILABLE` is false and
:class:`~leadpilot.model.glm.GLMStack` keeps its numpy code.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AVAILABLE",
    "IMPORT_ROWS",
    "categorical_margins",
    "kernel",
    "load",
    "numeric_margins",
    "register",
]

NDF = NDArray[np.float64]
NDI = NDArray[np.int64]

_FMAX = float(np.finfo(np.float64).max)

# numba costs ~0.5 s of CPU to import, more than a CLI command scoring a few leads spends in
# total: it is imported by the first call with this many rows (a batch: the batch router's
# first call has 2,048 leads x (reps + 1), 43,000 rows at 20 reps; training scores its
# history), and from then on every call uses the loops (~2.4 us saved per row at 100 reps:
# ~50 ms per such call). A process that only ever scores a few rows at a time
# (``leadpilot route``, the service) keeps numpy's code.
IMPORT_ROWS = 20_000

AVAILABLE = importlib.util.find_spec("numba") is not None and not os.environ.get(
    "LEADPILOT_NO_NUMBA"
)
_LOADED: dict[str, Any] = {}
_PLAIN: dict[str, Any] = {}  # name -> the Python function ``load`` compiles


def kernel(name: str, rows: int = 0) -> Any:
    """The compiled loop ``name`` of this module or :mod:`~leadpilot.model.tree_kernels`
    (all compiled together, once per process; cached on disk by numba), or ``None``: no
    numba, or not loaded yet and ``rows`` below :data:`IMPORT_ROWS`."""
    if not AVAILABLE:
        return None
    if not _LOADED:
        if rows < IMPORT_ROWS:
            return None
        load()
    return _LOADED.get(name)


def load() -> bool:
    """Import numba and compile the loops now (tests, or a caller that knows it will score
    many rows); False without numba."""
    if _LOADED:
        return True
    if not AVAILABLE:
        return False
    for name, plain in _PLAIN.items():
        _LOADED[name] = _jit(plain)
    return True


def register(name: str, plain: Any) -> None:
    """Add a loop another module defines (:mod:`~leadpilot.model.tree_kernels`' tree walk),
    compiled with the rest; registered rather than imported here so the two modules do not
    import each other."""
    _PLAIN[name] = plain
    if _LOADED:
        _LOADED[name] = _jit(plain)


def _jit(plain: Any) -> Any:
    from numba import njit

    return njit(cache=True, nogil=True)(plain)


def _categorical(
    z: NDF,
    X: NDF,
    cat_cols: NDI,
    cat_levels: NDI,
    cat_offsets: NDI,
    cat_tables: NDF,
    pair_a: NDI,
    pair_b: NDI,
    pair_na: NDI,
    pair_nb: NDI,
    pair_offsets: NDI,
    pair_tables: NDF,
) -> bool:  # compiled by ``load`` (numpy's code is the reference)
    """``z`` (models x rows, the intercepts) += each categorical term's and each rep x
    segment pair's coefficient, term after term as ``GLMStack.categorical_margins`` adds
    them. ``cat_tables``: every table's columns side by side (models x sum(n_levels + 1)),
    ``pair_tables`` each pair table flattened row-major; False on a code out of range."""
    n_models, n_rows = z.shape
    for r in range(n_rows):
        for t in range(cat_cols.shape[0]):
            c = X[r, cat_cols[t]]
            n_lev = cat_levels[t]
            if np.isnan(c):
                code = n_lev
            else:
                code = int(c)
                if code < 0 or code > n_lev:
                    return False
            col = cat_offsets[t] + code
            for k in range(n_models):
                z[k, r] += cat_tables[k, col]
        for t in range(pair_a.shape[0]):
            a = X[r, pair_a[t]]
            b = X[r, pair_b[t]]
            na = pair_na[t]
            nb = pair_nb[t]
            if np.isnan(a):
                ca = na
            else:
                ca = int(a)
                if ca < 0 or ca > na:
                    return False
            if np.isnan(b):
                cb = nb
            else:
                cb = int(b)
                if cb < 0 or cb > nb:
                    return False
            col = pair_offsets[t] + ca * (nb + 1) + cb
            for k in range(n_models):
                z[k, r] += pair_tables[k, col]
    return True


def _numeric(
    z: NDF,
    X: NDF,
    num_cols: NDI,
    mean: NDF,
    sd: NDF,
    prod: NDF,
    prod_cols: NDI,
    coef: NDF,
    used: NDI,
) -> None:  # compiled by ``load`` (numpy's code is the reference)
    """``z`` += the numeric terms, then the products, then the missing indicators, in the
    order ``GLMStack.add_numeric`` adds them (``coef``: the num and miss tables side by side,
    ``used``: the columns with a coefficient). ``prod``: per product (a mean, a sd, b mean,
    b sd, product mean, product sd), ``prod_cols`` its two columns."""
    n_models, n_rows = z.shape
    k_num = num_cols.shape[0]
    k_all = k_num + prod_cols.shape[0]
    values = np.zeros(2 * k_all)
    for r in range(n_rows):
        for j in range(k_num):
            raw = X[r, num_cols[j]]
            if np.isnan(raw):
                values[j] = 0.0
                values[k_all + j] = 1.0
            else:
                values[j] = (raw - mean[j]) / sd[j]
                values[k_all + j] = 0.0
        for j in range(prod_cols.shape[0]):
            za = (X[r, prod_cols[j, 0]] - prod[j, 0]) / prod[j, 1]
            zb = (X[r, prod_cols[j, 1]] - prod[j, 2]) / prod[j, 3]
            if np.isnan(za):
                za = 0.0
            za = min(max(za, -_FMAX), _FMAX)
            if np.isnan(zb):
                zb = 0.0
            zb = min(max(zb, -_FMAX), _FMAX)
            values[k_num + j] = (za * zb - prod[j, 4]) / prod[j, 5]
            values[k_all + k_num + j] = 0.0
        for u in range(used.shape[0]):
            j = used[u]
            v = values[j]
            for k in range(n_models):
                z[k, r] += coef[k, j] * v


class Tables:
    """A :class:`~leadpilot.model.glm.GLMStack`'s coefficients laid out for the loops (built
    once per stack)."""

    def __init__(self, stack: Any) -> None:
        spec = stack.spec
        m = stack.n_models
        self.cat_cols = np.array([c for _, c, _ in spec.cats], dtype=np.int64)
        self.cat_levels = np.array([n for _, _, n in spec.cats], dtype=np.int64)
        widths = [t.shape[1] for t in stack.cat]
        self.cat_offsets = np.cumsum([0, *widths[:-1]]).astype(np.int64)
        self.cat_tables = (
            np.ascontiguousarray(np.hstack(stack.cat)) if stack.cat else np.zeros((m, 0))
        )
        self.pair_a = np.array([a for _, a, _, _, _ in spec.pairs], dtype=np.int64)
        self.pair_b = np.array([b for _, _, b, _, _ in spec.pairs], dtype=np.int64)
        self.pair_na = np.array([n for _, _, _, n, _ in spec.pairs], dtype=np.int64)
        self.pair_nb = np.array([n for _, _, _, _, n in spec.pairs], dtype=np.int64)
        flat = [t.reshape(m, -1) for t in stack.pair]
        self.pair_offsets = np.cumsum([0, *[f.shape[1] for f in flat[:-1]]]).astype(np.int64)
        self.pair_tables = np.ascontiguousarray(np.hstack(flat)) if flat else np.zeros((m, 0))
        self.num_cols = np.array([c for _, c in spec.nums], dtype=np.int64)
        self.mean = np.ascontiguousarray(spec.mean, dtype=np.float64)
        self.sd = np.ascontiguousarray(spec.sd, dtype=np.float64)
        self.prod = np.array([t[3:] for t in spec.products], dtype=np.float64).reshape(-1, 6)
        self.prod_cols = np.array([t[1:3] for t in spec.products], dtype=np.int64).reshape(-1, 2)
        coef = np.hstack([stack.num, stack.miss]) if spec.n_numeric else np.zeros((m, 0))
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.used = np.flatnonzero(coef.any(axis=0)).astype(np.int64)


def categorical_margins(tables: Tables, z: NDF, X: NDF) -> bool:
    """Add the categorical and pair terms of the rows of ``X`` to ``z`` (models x rows) in
    place; False (``z`` then partly changed) when a code is out of its table. Needs
    :func:`load` (``kernel`` says whether it ran)."""
    return bool(
        _LOADED["categorical"](
            z,
            np.ascontiguousarray(X, dtype=np.float64),
            tables.cat_cols,
            tables.cat_levels,
            tables.cat_offsets,
            tables.cat_tables,
            tables.pair_a,
            tables.pair_b,
            tables.pair_na,
            tables.pair_nb,
            tables.pair_offsets,
            tables.pair_tables,
        )
    )


def numeric_margins(tables: Tables, z: NDF, X: NDF) -> None:
    """Add the numeric terms, products and missing indicators of the rows of ``X`` to ``z``
    (models x rows, C-contiguous) in place. Needs :func:`load`."""
    _LOADED["numeric"](
        z,
        np.ascontiguousarray(X, dtype=np.float64),
        tables.num_cols,
        tables.mean,
        tables.sd,
        tables.prod,
        tables.prod_cols,
        tables.coef,
        tables.used,
    )


def _design_margins(
    w: NDF,
    onehot: NDArray[np.int32],
    slope_cols: NDArray[np.int32],
    slope_vals: NDF,
    dense: NDF,
    dense_offset: int,
    z: NDF,
) -> None:  # compiled by ``load`` (scipy's sparse product is the reference)
    """``z`` = the margins of a :class:`~leadpilot.model.glm_fit.CodedDesign`'s rows at the
    extended coefficients ``w`` (``[coef..., intercept, 0]``)."""
    b = w[w.shape[0] - 2]
    for r in range(onehot.shape[0]):
        s = b
        for t in range(onehot.shape[1]):
            s += w[onehot[r, t]]
        for t in range(slope_cols.shape[1]):
            s += w[slope_cols[r, t]] * slope_vals[r, t]
        for j in range(dense.shape[1]):
            s += w[dense_offset + j] * dense[r, j]
        z[r] = s


def _design_gradient(
    z: NDF,
    e: NDF,
    log1p_e: NDF,
    y: NDF,
    onehot: NDArray[np.int32],
    slope_cols: NDArray[np.int32],
    slope_vals: NDF,
    dense: NDF,
    dense_offset: int,
    grad: NDF,
) -> float:  # compiled by ``load`` (scipy's sparse product is the reference)
    """The summed half binomial loss ``log(1 + exp(z)) - y z`` of every row, and into
    ``grad`` (extended layout) the design's transpose times ``p - y``; ``e`` = exp(-|z|)
    and ``log1p_e`` = log1p(e), precomputed by numpy's vectorised functions."""
    grad[:] = 0.0
    total = 0.0
    g_b = 0.0
    for r in range(onehot.shape[0]):
        zr = z[r]
        er = e[r]
        yr = y[r]
        if zr >= 0:
            p = 1.0 / (1.0 + er)
            total += log1p_e[r] + zr - yr * zr
        else:
            p = er / (1.0 + er)
            total += log1p_e[r] - yr * zr
        g = p - yr
        g_b += g
        for t in range(onehot.shape[1]):
            grad[onehot[r, t]] += g
        for t in range(slope_cols.shape[1]):
            grad[slope_cols[r, t]] += g * slope_vals[r, t]
        for j in range(dense.shape[1]):
            grad[dense_offset + j] += g * dense[r, j]
    grad[grad.shape[0] - 2] = g_b
    grad[grad.shape[0] - 1] = 0.0
    return total


def _design_curvature(
    h: NDF,
    onehot: NDArray[np.int32],
    slope_cols: NDArray[np.int32],
    slope_vals: NDF,
    dense: NDF,
    dense_offset: int,
    owner: NDI,
    position: NDI,
    diag: NDF,
    blocks: NDF,
) -> None:  # compiled by ``load`` (scipy's sparse products are the reference)
    """Add ``sum_rows h x_j^2`` to ``diag`` (extended layout) and, for columns of the same
    block (``owner``, at ``position`` in it), ``sum_rows h x_j x_k`` to ``blocks``."""
    ta = onehot.shape[1]
    tb = slope_cols.shape[1]
    b_col = diag.shape[0] - 2
    for r in range(onehot.shape[0]):
        hr = h[r]
        diag[b_col] += hr
        for t in range(ta):
            diag[onehot[r, t]] += hr
        for t in range(tb):
            v = slope_vals[r, t]
            diag[slope_cols[r, t]] += hr * v * v
        for j in range(dense.shape[1]):
            v = dense[r, j]
            diag[dense_offset + j] += hr * v * v
        for a in range(ta + tb):
            ca = onehot[r, a] if a < ta else slope_cols[r, a - ta]
            g = owner[ca]
            if g < 0:
                continue
            va = 1.0 if a < ta else slope_vals[r, a - ta]
            for c in range(ta + tb):
                cc = onehot[r, c] if c < ta else slope_cols[r, c - ta]
                if owner[cc] != g:
                    continue
                vc = 1.0 if c < ta else slope_vals[r, c - ta]
                blocks[g, position[ca], position[cc]] += hr * va * vc


_PLAIN.update(
    categorical=_categorical,
    numeric=_numeric,
    design_margins=_design_margins,
    design_gradient=_design_gradient,
    design_curvature=_design_curvature,
)
