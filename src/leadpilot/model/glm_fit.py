"""Fitting the linear part: the ridge-penalised logistic regression of :mod:`glm`, solved on
the design kept as integer codes.

The objective is scikit-learn's ``LogisticRegression(C=C)`` (lbfgs) exactly: mean half
binomial loss plus ``||w||^2 / (2 C n)``, the intercept unpenalised, minimised by scipy's
L-BFGS-B with the options scikit-learn passes. Two things differ, both for speed:

* The design is not a sparse matrix but, per row, the column of each one-hot term (an
  ``int32`` per categorical, pair and missing indicator), the rep slopes' columns and values,
  and the dense numeric block. The margins and the gradient are compiled loops over those
  codes (:mod:`glm_kernels`), about twice as fast as scikit-learn's sparse products; the
  loss's ``exp``/``log1p`` are numpy's vectorised ones. Without numba (or below
  ``glm_kernels.IMPORT_ROWS`` rows) the same sums run as scipy sparse products.
* The solver works in preconditioned coordinates ``w = S v``. The rep x segment cells, the
  rep's main effect and its slopes share every one of the rep's rows, so the loss barely
  moves when a rep's main effect goes up and all its cells go down: an almost flat valley
  that plain L-BFGS crawls along (100-300 iterations at 700,000 rows). ``S`` whitens the
  curvature at the starting point: per rep, the inverse Cholesky factor of the block of the
  (Gauss-Newton) Hessian over that rep's columns; elsewhere the inverse square root of its
  diagonal. A warm start from a nearby fit (the next ridge strength, the full fit for a
  half-sample bag) then converges in ~20-40 iterations, to a point nearer the exact optimum
  than the unpreconditioned solver's (``tests/model/test_glm_fit.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import optimize

from leadpilot.model import glm_kernels

__all__ = ["CodedDesign", "fit_logistic"]

NDF = NDArray[np.float64]
NDI = NDArray[np.int64]
_MAX_ITER = 300
_GTOL = 1e-4  # scikit-learn's default ``tol``


@dataclass(frozen=True, eq=False)
class CodedDesign:
    """A GLM design matrix (``GLMSpec.design``) as codes: ``onehot`` (rows x slots, the
    column a slot's 1 sits in, ``n_cols + 1`` for "none": a scratch coefficient fixed at 0),
    ``slope_cols`` / ``slope_vals`` (rows x slopes) and ``dense`` (rows x numeric terms, the
    columns from ``dense_offset`` on; 0 where missing). ``blocks`` lists the columns of each
    preconditioning block (groups x width)."""

    onehot: NDArray[np.int32]
    slope_cols: NDArray[np.int32]
    slope_vals: NDF
    dense: NDF
    dense_offset: int
    n_cols: int
    blocks: NDI

    @classmethod
    def of(cls, spec: Any, X: NDF) -> CodedDesign:
        """The codes of ``spec.design(X)`` (``spec``: a :class:`~leadpilot.model.glm.GLMSpec`)."""
        n = X.shape[0]
        cols: list[NDI] = []
        off = 0
        starts: dict[tuple[str, int], int] = {}
        none = -1  # replaced by n_cols + 1 below
        for _, col, n_lev in spec.cats:
            c = spec._codes(X, col, n_lev)
            cols.append(np.where(c < n_lev, off + c, none))
            starts[("cat", col)] = off
            off += n_lev
        pair_starts = []
        for _, rcol, scol, n_rep, n_lev in spec.pairs:
            r, c = spec._codes(X, rcol, n_rep), spec._codes(X, scol, n_lev)
            ok = (r < n_rep) & (c < n_lev)
            cols.append(np.where(ok, off + r * n_lev + c, none))
            pair_starts.append(off)
            off += n_rep * n_lev
        slope_cols, slope_vals, slope_starts = [], [], []
        for term in spec.slopes:
            r = spec._codes(X, term[1], term[3])
            ok = r < term[3]
            slope_cols.append(np.where(ok, off + r, none))
            slope_vals.append(np.where(ok, spec._slope_x(X, term), 0.0))
            slope_starts.append(off)
            off += term[3]
        zn, miss = spec._num_block(X)
        k = len(spec.nums)
        dense_offset = off
        miss_offset = off + zn.shape[1]
        # A missing indicator is a one-hot slot; a column without missing values needs none
        # (its coefficient's gradient is the penalty's alone, as in the sparse design).
        for j in np.flatnonzero(miss[:, :k].any(axis=0)):
            cols.append(np.where(miss[:, j] > 0, miss_offset + j, none))
        n_cols = miss_offset + k
        onehot = np.column_stack(cols) if cols else np.empty((n, 0), np.int64)
        onehot = np.where(onehot < 0, n_cols + 1, onehot).astype(np.int32)
        sc = np.column_stack(slope_cols) if slope_cols else np.empty((n, 0), np.int64)
        sc = np.where(sc < 0, n_cols + 1, sc).astype(np.int32)
        sv = np.column_stack(slope_vals) if slope_vals else np.empty((n, 0))
        return cls(
            onehot=np.ascontiguousarray(onehot),
            slope_cols=np.ascontiguousarray(sc),
            slope_vals=np.ascontiguousarray(sv, dtype=np.float64),
            dense=np.ascontiguousarray(zn, dtype=np.float64),
            dense_offset=dense_offset,
            n_cols=n_cols,
            blocks=_blocks(spec, starts, pair_starts, slope_starts),
        )

    def __len__(self) -> int:
        return int(self.onehot.shape[0])

    def rows(self, which: slice | NDI) -> CodedDesign:
        """The design of a subset of the rows (a slice or an index array)."""
        return CodedDesign(
            onehot=np.ascontiguousarray(self.onehot[which]),
            slope_cols=np.ascontiguousarray(self.slope_cols[which]),
            slope_vals=np.ascontiguousarray(self.slope_vals[which]),
            dense=np.ascontiguousarray(self.dense[which]),
            dense_offset=self.dense_offset,
            n_cols=self.n_cols,
            blocks=self.blocks,
        )

    def sparse(self) -> sp.csr_matrix:
        """The design as scipy's CSR matrix (the same matrix as ``GLMSpec.design``)."""
        n = len(self)
        none = self.n_cols + 1
        parts_r, parts_c, parts_v = [], [], []
        for slots, vals in (
            (self.onehot, None),
            (self.slope_cols, self.slope_vals),
        ):
            for t in range(slots.shape[1]):
                ok = slots[:, t] != none
                parts_r.append(np.flatnonzero(ok))
                parts_c.append(slots[ok, t].astype(np.int64))
                parts_v.append(np.ones(int(ok.sum())) if vals is None else vals[ok, t])
        k = self.dense.shape[1]
        rows = np.repeat(np.arange(n), k)
        cols = np.tile(np.arange(self.dense_offset, self.dense_offset + k), n)
        vals = self.dense.ravel()
        nz = vals != 0
        parts_r.append(rows[nz])
        parts_c.append(cols[nz])
        parts_v.append(vals[nz])
        return sp.csr_matrix(
            (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
            shape=(n, self.n_cols),
        )

    def margins(self, intercept: float, coef: NDF) -> NDF:
        """``intercept + design @ coef`` for every row."""
        w = _extended(coef, intercept)
        margins = glm_kernels.kernel("design_margins", len(self))
        if margins is None:
            return np.asarray(intercept + self.sparse() @ coef, dtype=np.float64)
        z = np.empty(len(self))
        margins(w, *self._arrays(), z)
        return z

    def _arrays(self) -> tuple[Any, ...]:
        return self.onehot, self.slope_cols, self.slope_vals, self.dense, self.dense_offset


def _blocks(
    spec: Any,
    cat_starts: dict[tuple[str, int], int],
    pair_starts: list[int],
    slope_starts: list[int],
) -> NDI:
    """Per level of the pairs' most common first factor (the rep), its columns: its main
    effect, its cells of every pair it leads and its slopes (they all share the level's
    rows, hence the flat valleys the preconditioner straightens)."""
    firsts = [a for _, a, _, _, _ in spec.pairs] + [t[1] for t in spec.slopes]
    if not firsts:
        return np.empty((0, 0), np.int64)
    g = max(set(firsts), key=firsts.count)
    n_g = ([t[3] for t in spec.pairs if t[1] == g] + [t[3] for t in spec.slopes if t[1] == g])[0]
    columns: list[NDI] = []
    if ("cat", g) in cat_starts:
        columns.append(cat_starts[("cat", g)] + np.arange(n_g)[:, None])
    for (_, a, _, _, n_lev), start in zip(spec.pairs, pair_starts, strict=True):
        if a == g:
            columns.append(start + np.arange(n_g)[:, None] * n_lev + np.arange(n_lev)[None, :])
    for term, start in zip(spec.slopes, slope_starts, strict=True):
        if term[1] == g:
            columns.append(start + np.arange(n_g)[:, None])
    return np.hstack(columns).astype(np.int64)


def _extended(coef: NDF, intercept: float) -> NDF:
    """``[coef..., intercept, 0]``: the loops' layout (the last entry: the "none" column)."""
    return np.concatenate([coef, [intercept, 0.0]])


class _Problem:
    """Loss and gradient of the penalised objective at extended coefficients (the numba
    loops, or scipy's sparse products without them)."""

    def __init__(self, design: CodedDesign, y: NDF, C: float) -> None:
        self.design = design
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        n = len(design)
        self.n = n
        self.l2 = 1.0 / (C * n)
        self.n_cols = design.n_cols
        self.margins = glm_kernels.kernel("design_margins", n)
        self.gradient = glm_kernels.kernel("design_gradient", n)
        self.csr: Any = None  # the sparse design and its transpose, without the loops
        self.csr_t: Any = None
        if self.margins is None:
            self.csr = design.sparse()
            self.csr_t = self.csr.T.tocsr()
        self.z = np.empty(n)
        self.e = np.empty(n)
        self.log1p = np.empty(n)
        self.grad = np.empty(self.n_cols + 2)

    def values(self, w: NDF) -> NDF:
        """Margins of every row at extended coefficients ``w``."""
        if self.margins is not None:
            self.margins(w, *self.design._arrays(), self.z)
        else:
            self.z[:] = self.csr @ w[: self.n_cols] + w[self.n_cols]
        return self.z

    def loss_grad(self, w: NDF) -> tuple[float, NDF]:
        """Objective and gradient (extended layout; the "none" entry's gradient is 0)."""
        z = self.values(w)
        e, lg, y = self.e, self.log1p, self.y
        np.abs(z, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)  # exp(-|z|)
        np.log1p(e, out=lg)
        grad = self.grad
        if self.gradient is not None:
            total = self.gradient(z, e, lg, y, *self.design._arrays(), grad)
        else:
            # loss log(1 + e^z) - y z = log1p(e^-|z|) + max(z, 0) - y z; dloss/dz = p - y
            total = float(np.sum(lg + np.maximum(z, 0.0) - y * z))
            r = np.where(z >= 0, 1.0, e) / (1.0 + e) - y
            grad[: self.n_cols] = self.csr_t @ r
            grad[self.n_cols] = r.sum()
            grad[self.n_cols + 1] = 0.0
        k = self.n_cols
        grad /= self.n
        coef = w[:k]
        grad[:k] += self.l2 * coef
        grad[k + 1] = 0.0
        return total / self.n + 0.5 * self.l2 * float(coef @ coef), grad

    def curvature(self, w: NDF) -> tuple[NDF, NDF]:
        """The Gauss-Newton Hessian's diagonal (extended layout) and the blocks over
        ``design.blocks``' columns at ``w`` (both with the penalty)."""
        z = self.values(w)
        p = 1.0 / (1.0 + np.exp(-z))
        h = p * (1.0 - p)
        d = self.design
        k = self.n_cols
        g, width = d.blocks.shape
        diag = np.zeros(k + 2)
        blocks = np.zeros((g, width, width))
        position = np.full(k + 2, -1, np.int64)
        owner = np.full(k + 2, -1, np.int64)
        if g:
            position[d.blocks.ravel()] = np.tile(np.arange(width), g)
            owner[d.blocks.ravel()] = np.repeat(np.arange(g), width)
        stats = glm_kernels.kernel("design_curvature", self.n)
        if stats is not None:
            stats(h, *d._arrays(), owner, position, diag, blocks)
        else:
            csr = self.csr
            diag[:k] = csr.multiply(csr).T @ h
            diag[k] = h.sum()
            if g:
                # every block's columns side by side: one product, then its diagonal blocks
                sub = csr[:, d.blocks.ravel()]
                full = (sub.T @ sub.multiply(h[:, None]).tocsr()).toarray()
                for b in range(g):
                    blocks[b] = full[b * width : (b + 1) * width, b * width : (b + 1) * width]
        diag /= self.n
        diag[:k] += self.l2
        blocks /= self.n
        blocks += self.l2 * np.eye(width)[None, :, :]
        diag[k + 1] = 1.0
        return diag, blocks


class _Coordinates:
    """``w = S v``: ``S`` the inverse square root of the diagonal, and per block the
    transposed inverse Cholesky factor of the block (so ``S' H S`` is about the identity)."""

    def __init__(self, diag: NDF, blocks: NDF, columns: NDI) -> None:
        self.scale = 1.0 / np.sqrt(np.maximum(diag, 1e-300))
        self.columns = columns
        if len(columns):
            try:
                chol = np.linalg.cholesky(blocks)
            except np.linalg.LinAlgError:  # not positive definite in floating point: the
                self.columns = columns[:0]  # diagonal alone (still a valid change of variables)
                return
            eye = np.broadcast_to(np.eye(blocks.shape[1]), blocks.shape)
            self.inv = np.linalg.solve(chol, eye)  # L^-1 per block
            self.inv_t = np.ascontiguousarray(np.swapaxes(self.inv, 1, 2))
            self.chol_t = np.ascontiguousarray(np.swapaxes(chol, 1, 2))

    def to_w(self, v: NDF) -> NDF:
        w = v * self.scale
        if len(self.columns):
            w[self.columns] = np.matmul(self.inv_t, v[self.columns][:, :, None])[:, :, 0]
        return w

    def to_v(self, w: NDF) -> NDF:
        v = w / self.scale
        if len(self.columns):
            v[self.columns] = np.matmul(self.chol_t, w[self.columns][:, :, None])[:, :, 0]
        return v

    def gradient(self, g: NDF) -> NDF:
        gv = g * self.scale
        if len(self.columns):
            gv[self.columns] = np.matmul(self.inv, g[self.columns][:, :, None])[:, :, 0]
        return gv


def fit_logistic(
    design: CodedDesign, y: NDF, C: float, start: tuple[float, NDF] | None = None
) -> tuple[float, NDF]:
    """Minimise ``LogisticRegression(C=C)``'s objective on ``design`` (rows) and outcomes
    ``y`` (0/1) from ``start`` (intercept, coefficients; zeros without): returns the fitted
    (intercept, coefficients)."""
    if len(np.unique(y)) < 2:
        raise ValueError("a logistic regression needs both outcomes among its rows")
    problem = _Problem(design, y, C)
    k = design.n_cols
    w0 = np.zeros(k + 2) if start is None else _extended(np.asarray(start[1]), start[0])
    diag, blocks = problem.curvature(w0)
    frame = _Coordinates(diag, blocks, design.blocks)
    v0 = frame.to_v(w0)

    def objective(v: NDF) -> tuple[float, NDF]:
        w = frame.to_w(v)
        w[k + 1] = 0.0
        value, grad = problem.loss_grad(w)
        return value, frame.gradient(grad)

    res = optimize.minimize(
        objective,
        v0,
        method="L-BFGS-B",
        jac=True,
        options={
            "maxiter": _MAX_ITER,
            "maxls": 50,
            "gtol": _GTOL,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    w = frame.to_w(res.x)
    return float(w[k]), np.array(w[:k], dtype=np.float64)
