"""The linear part of the model: a ridge-penalised logistic regression on lead attributes,
rep identity and rep x segment interactions, read straight from the feature matrix.

Conversion is close to additive in log-odds (a lead's base rate plus the rep's skill plus the
rep's edge in the lead's segment), which a penalised GLM estimates efficiently; the boosted
trees then learn what is not additive, starting from the GLM's log-odds. The ridge penalty
shrinks a rep x segment effect with few leads toward zero (no effect beyond the main
effects), which is the shrinkage the issue asks for. Coefficients are stored as lookup tables
so scoring is a handful of numpy gathers, for several models at once (the bagged GLMs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from leadpilot.model import glm_kernels
from leadpilot.model.glm_fit import CodedDesign, fit_logistic

__all__ = ["GLMSpec", "GLMStack", "fit_glm_stack"]

NDF = NDArray[np.float64]


@dataclass
class GLMSpec:
    """Which matrix columns the GLM reads: categorical main effects, rep x segment pairs,
    numeric terms (standardised with the training mean/sd, missing -> 0 plus an indicator)."""

    cats: list[tuple[str, int, int]]  # (name, column, n_levels)
    pairs: list[tuple[str, int, int, int, int]]  # (name, column a, column b, n_a, n_b)
    nums: list[tuple[str, int]]  # (name, column)
    mean: NDF
    sd: NDF
    # Rep-specific slopes on a standardised numeric input x (power 1: linear, 2: curvature):
    # (name, rep column, x column, n_reps, power, x mean, x sd). A rep's edge that varies
    # smoothly with company size costs 2 coefficients per rep instead of one per band.
    slopes: list[tuple[str, int, int, int, int, float, float]] = field(default_factory=list)
    # Products of two numeric inputs, each standardised first (missing -> 0), then the product
    # standardised: (name, column a, column b, a mean, a sd, b mean, b sd, product mean,
    # product sd). One coefficient each, after the plain numeric terms.
    products: list[tuple[str, int, int, float, float, float, float, float, float]] = field(
        default_factory=list
    )

    @property
    def n_numeric(self) -> int:
        """Numeric coefficients: one per numeric term and one per product."""
        return len(self.nums) + len(self.products)

    def to_json(self) -> dict[str, Any]:
        return {
            "cats": self.cats,
            "pairs": self.pairs,
            "nums": self.nums,
            "mean": self.mean.tolist(),
            "sd": self.sd.tolist(),
            "slopes": self.slopes,
            "products": self.products,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GLMSpec:
        return cls(
            cats=[(str(a), int(b), int(c)) for a, b, c in d["cats"]],
            pairs=[(str(a), int(b), int(c), int(e), int(f)) for a, b, c, e, f in d["pairs"]],
            nums=[(str(a), int(b)) for a, b in d["nums"]],
            mean=np.asarray(d["mean"], dtype=np.float64),
            sd=np.asarray(d["sd"], dtype=np.float64),
            slopes=[
                (str(a), int(b), int(c), int(e), int(f), float(g), float(h))
                for a, b, c, e, f, g, h in d.get("slopes", [])
            ],
            products=[
                (str(t[0]), int(t[1]), int(t[2]), *(float(v) for v in t[3:]))  # type: ignore[misc]
                for t in d.get("products", [])
            ],
        )

    def _codes(self, X: NDF, col: int, n_levels: int) -> NDArray[np.int64]:
        c = X[:, col]
        return np.where(np.isnan(c), n_levels, c).astype(np.int64)

    def _num_block(self, X: NDF) -> tuple[NDF, NDF]:
        """Standardised numeric terms then products (missing -> 0), and the missing
        indicators of the numeric terms, both shape ``(n_rows, n_numeric)`` (a product has no
        indicator of its own: its column there is 0)."""
        cols = [c for _, c in self.nums]
        raw = X[:, cols]
        miss = np.isnan(raw)
        z = np.where(miss, 0.0, (raw - self.mean) / self.sd)
        if not self.products:
            return z, miss.astype(np.float64)
        prod = np.column_stack([_product(X, term) for term in self.products])
        return (
            np.hstack([z, prod]),
            np.hstack([miss.astype(np.float64), np.zeros_like(prod)]),
        )

    def _slope_x(self, X: NDF, term: tuple[str, int, int, int, int, float, float]) -> NDF:
        _, _, xcol, _, power, mean, sd = term
        x = (X[:, xcol] - mean) / sd
        x = np.where(np.isnan(x), 0.0, x) ** power
        return x - (1.0 if power == 2 else 0.0)  # centre x^2 (its mean is about 1)

    def design(self, X: NDF) -> sp.csr_matrix:
        """Sparse design matrix of the rows of ``X`` (unknown levels: no column)."""
        n = X.shape[0]
        rows, cols = [], []
        off = 0
        for _, col, n_lev in self.cats:
            c = self._codes(X, col, n_lev)
            ok = c < n_lev
            rows.append(np.flatnonzero(ok))
            cols.append(off + c[ok])
            off += n_lev
        for _, rcol, scol, n_rep, n_lev in self.pairs:
            r, c = self._codes(X, rcol, n_rep), self._codes(X, scol, n_lev)
            ok = (r < n_rep) & (c < n_lev)
            rows.append(np.flatnonzero(ok))
            cols.append(off + r[ok] * n_lev + c[ok])
            off += n_rep * n_lev
        vals = [np.ones(len(r)) for r in rows]
        for term in self.slopes:
            r = self._codes(X, term[1], term[3])
            ok = r < term[3]
            rows.append(np.flatnonzero(ok))
            cols.append(off + r[ok])
            vals.append(self._slope_x(X, term)[ok])
            off += term[3]
        r_all = np.concatenate(rows) if rows else np.empty(0, np.int64)
        c_all = np.concatenate(cols) if cols else np.empty(0, np.int64)
        v_all = np.concatenate(vals) if vals else np.empty(0)
        onehot = sp.csr_matrix((v_all, (r_all, c_all)), shape=(n, off), dtype=np.float64)
        z, miss = self._num_block(X)
        miss = miss[:, : len(self.nums)]  # products have no missing indicator
        return sp.hstack([onehot, sp.csr_matrix(z), sp.csr_matrix(miss)], format="csr")


_FMAX = float(np.finfo(np.float64).max)
# Up to this many rows ``add_numeric`` adds the terms with one ``add.accumulate`` (a
# (models x terms x rows) array: small then) instead of a loop over the terms.
_FEW_ROWS = 256


def _nan_to_zero(v: NDF) -> NDF:
    """``np.nan_to_num(v, nan=0.0)`` (infinities to the largest finite values), without its
    Python overhead: the scorer calls it for a few rows per lead."""
    out = np.where(np.isnan(v), 0.0, v)
    np.minimum(out, _FMAX, out=out)
    return np.maximum(out, -_FMAX, out=out)


def _product(X: NDF, term: tuple[str, int, int, float, float, float, float, float, float]) -> NDF:
    _, a, b, ma, sa, mb, sb, pm, ps = term
    za = _nan_to_zero((X[:, a] - ma) / sa)
    zb = _nan_to_zero((X[:, b] - mb) / sb)
    return np.asarray((za * zb - pm) / ps, dtype=np.float64)


def make_spec(
    X: NDF,
    names: list[str],
    cats: list[str],
    pairs: list[tuple[str, str]],
    nums: list[str],
    levels: dict[str, int],
    slopes: Sequence[tuple[str, str, int]] = (),
    relief: dict[str, float] | None = None,
    products: Sequence[tuple[str, str]] = (),
) -> GLMSpec:
    """Build the spec from the training rows of ``X`` (means and sds of numeric terms)."""
    pos = {n: i for i, n in enumerate(names)}
    num_cols = [pos[n] for n in nums]
    raw = X[:, num_cols]
    ok = ~np.isnan(raw)
    cnt = np.maximum(ok.sum(axis=0), 1)
    filled = np.where(ok, raw, 0.0)
    mean = filled.sum(axis=0) / cnt  # by hand: nanmean warns on all-missing columns
    sd = np.sqrt((np.where(ok, raw - mean, 0.0) ** 2).sum(axis=0) / cnt)
    sd = np.where(sd > 1e-9, sd, 1.0)
    # Penalty relief: a term scaled up by f pays 1/f^2 of the ridge penalty (per-term
    # penalty factors, which scikit-learn's LogisticRegression has no parameter for).
    factors = np.array([(relief or {}).get(n, 1.0) for n in nums], dtype=np.float64)
    sd = sd / factors if len(factors) else sd
    slope_terms = []
    for rep_name, x_name, power in slopes:
        x = X[:, pos[x_name]]
        ok = ~np.isnan(x)
        if ok.sum() < 2:
            continue
        mu, sdv = float(x[ok].mean()), float(x[ok].std())
        name = f"{rep_name}_x_{x_name}^{power}"
        sdv = sdv if sdv > 1e-9 else 1.0
        slope_terms.append((name, pos[rep_name], pos[x_name], levels[rep_name], power, mu, sdv))
    product_terms: list[tuple[str, int, int, float, float, float, float, float, float]] = []
    for a_name, b_name in products:
        a, b = X[:, pos[a_name]], X[:, pos[b_name]]
        ok_a, ok_b = ~np.isnan(a), ~np.isnan(b)
        if ok_a.sum() < 2 or ok_b.sum() < 2:
            continue
        ma, sa = float(a[ok_a].mean()), float(a[ok_a].std()) or 1.0
        mb, sb = float(b[ok_b].mean()), float(b[ok_b].std()) or 1.0
        raw_term = (f"{a_name}_x_{b_name}", pos[a_name], pos[b_name], ma, sa, mb, sb, 0.0, 1.0)
        prod = _product(X, raw_term)
        pm, ps = float(prod.mean()), float(prod.std())
        product_terms.append((*raw_term[:7], pm, ps if ps > 1e-9 else 1.0))
    return GLMSpec(
        products=product_terms,
        slopes=slope_terms,
        cats=[(n, pos[n], levels[n]) for n in cats],
        pairs=[(f"{a}_x_{b}", pos[a], pos[b], levels[a], levels[b]) for a, b in pairs],
        nums=[(n, pos[n]) for n in nums],
        mean=mean,
        sd=sd,
    )


@dataclass
class GLMStack:
    """Coefficient tables of ``M`` GLMs sharing one spec: margins for all of them at once."""

    spec: GLMSpec
    intercept: NDF  # (M,)
    cat: list[NDF]  # per cat term (M, n_levels + 1); the last column (unknown) is 0
    pair: list[NDF]  # per pair term (M, n_reps + 1, n_levels + 1)
    num: NDF  # (M, n_nums)
    miss: NDF  # (M, n_nums)
    slope: list[NDF] = field(default_factory=list)  # per slope term (M, n_reps + 1)
    # The tables laid out for the compiled loops (``glm_kernels``), built on first use.
    _kernel: glm_kernels.Tables | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_models(self) -> int:
        return int(self.intercept.shape[0])

    def margins(self, X: NDF, only: int | None = None) -> NDF:
        """Log-odds of every model for every row, shape ``(M, n_rows)``; ``only`` keeps one
        model (shape ``(1, n_rows)``)."""
        if only is not None:
            keep = slice(only, only + 1)
            sub = GLMStack(
                spec=self.spec,
                intercept=self.intercept[keep],
                cat=[t[keep] for t in self.cat],
                pair=[t[keep] for t in self.pair],
                num=self.num[keep],
                miss=self.miss[keep],
                slope=[t[keep] for t in self.slope],
            )
            return sub.margins(X)
        return self.add_numeric(self.categorical_margins(X), X)

    def categorical_columns(self) -> set[int]:
        """The matrix columns :meth:`categorical_margins` reads (levels, reps, slopes' x)."""
        spec = self.spec
        cols = {col for _, col, _ in spec.cats}
        cols |= {c for _, a, b, _, _ in spec.pairs for c in (a, b)}
        cols |= {c for term in spec.slopes for c in (term[1], term[2])}
        return cols

    def categorical_margins(self, X: NDF) -> NDF:
        """The first part of :meth:`margins`, shape ``(M, n_rows)``: intercept, categorical
        main effects, rep x segment pairs and rep slopes. ``add_numeric`` of it is
        ``margins`` bit for bit (the same operations in the same order), so a row whose
        numeric inputs change (a rep's response time) re-uses this part."""
        spec = self.spec
        z = np.repeat(self.intercept[:, None], X.shape[0], axis=1)
        tables = self._tables(X.shape[0])
        if tables is not None and glm_kernels.categorical_margins(tables, z, X):
            for term, table in zip(spec.slopes, self.slope, strict=True):
                z += table[:, spec._codes(X, term[1], term[3])] * spec._slope_x(X, term)[None, :]
            return z
        z = np.repeat(self.intercept[:, None], X.shape[0], axis=1)  # the loop's own, from 0
        for (_, col, n_lev), table in zip(spec.cats, self.cat, strict=True):
            z += table[:, spec._codes(X, col, n_lev)]
        for (_, rcol, scol, n_rep, n_lev), table in zip(spec.pairs, self.pair, strict=True):
            z += table[:, spec._codes(X, rcol, n_rep), spec._codes(X, scol, n_lev)]
        for term, table in zip(spec.slopes, self.slope, strict=True):
            z += table[:, spec._codes(X, term[1], term[3])] * spec._slope_x(X, term)[None, :]
        return z

    def add_numeric(self, z: NDF, X: NDF) -> NDF:
        """Add the numeric terms (and products, missing indicators) of the rows of ``X`` to
        ``z`` (shape ``(M, n_rows)``, changed in place) and return it."""
        spec = self.spec
        tables = self._tables(X.shape[0])
        if spec.n_numeric and tables is not None:
            if z.flags.c_contiguous:
                glm_kernels.numeric_margins(tables, z, X)
                return z
            # e.g. a fancy-indexed slice of a batch: added in a copy, element by element
            # the same additions, then written back
            work = np.ascontiguousarray(z)
            glm_kernels.numeric_margins(tables, work, X)
            z[...] = work
            return z
        if spec.n_numeric:
            zn, miss = spec._num_block(X)
            if X.shape[0] <= _FEW_ROWS:
                # A few rows (the router's per-lead rows): every term's products at once,
                # then added in order by ``add.accumulate``, which is sequential: the same
                # additions in the same order as the loop below, bit for bit, in a handful
                # of numpy calls instead of ~3 per term.
                coef = np.hstack([self.num, self.miss])
                used = np.flatnonzero(coef.any(axis=0))
                terms = coef[:, used, None] * np.vstack([zn.T, miss.T])[used][None, :, :]
                stacked = np.concatenate([z[:, None, :], terms], axis=1)
                z[...] = np.add.accumulate(stacked, axis=1)[:, -1, :]
                return z
            # One term at a time, in order: elementwise, so a row gets the same bits scored
            # alone or in a batch (the batch router relies on it), no BLAS threads, and no
            # reduction over a short axis of a (models x rows x terms) product, which made
            # this 80% of the batch scorer's CPU.
            for coef, values in ((self.num, zn.T), (self.miss, miss.T)):
                for j, column in enumerate(values):
                    if coef[:, j].any():  # products have no missing-indicator coefficient
                        z += coef[:, j : j + 1] * column
        return z

    def _tables(self, rows: int) -> glm_kernels.Tables | None:
        """The compiled loops' tables, or ``None``: numpy's code (no numba, or not loaded
        and too few ``rows`` to pay for loading it, see ``glm_kernels.IMPORT_ROWS``)."""
        if glm_kernels.kernel("numeric", rows) is None:
            return None
        if self._kernel is None:
            self._kernel = glm_kernels.Tables(self)
        return self._kernel

    def term_contributions(self, X: NDF, model: int = 0) -> dict[str, NDF]:
        """Per term, the log-odds it adds for each row (model ``model``), keyed by term name
        (pairs as ``rep_x_<segment>``)."""
        spec = self.spec
        out: dict[str, NDF] = {}
        for (name, col, n_lev), table in zip(spec.cats, self.cat, strict=True):
            out[name] = table[model, spec._codes(X, col, n_lev)]
        for (s, rcol, scol, n_rep, n_lev), table in zip(spec.pairs, self.pair, strict=True):
            out[s.replace("rep_id_x_", "rep_x_")] = table[
                model, spec._codes(X, rcol, n_rep), spec._codes(X, scol, n_lev)
            ]
        for term, table in zip(spec.slopes, self.slope, strict=True):
            key = "rep_x_size_band" if "size" in term[0] else term[0]
            val = table[model, spec._codes(X, term[1], term[3])] * spec._slope_x(X, term)
            out[key] = out.get(key, 0.0) + val
        if spec.n_numeric:
            zn, miss = spec._num_block(X)
            for j, (name, _) in enumerate(spec.nums):
                out[name] = self.num[model, j] * zn[:, j] + self.miss[model, j] * miss[:, j]
            # A product (e.g. how much a slow first contact costs, by engagement) counts
            # toward its second input's term: that is the input it modulates.
            for j, prod_term in enumerate(spec.products, start=len(spec.nums)):
                key = spec.nums[[c for _, c in spec.nums].index(prod_term[2])][0]
                out[key] = out.get(key, 0.0) + self.num[model, j] * zn[:, j]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "intercept": self.intercept.tolist(),
            "cat": [t.tolist() for t in self.cat],
            "pair": [t.tolist() for t in self.pair],
            "num": self.num.tolist(),
            "miss": self.miss.tolist(),
            "slope": [t.tolist() for t in self.slope],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GLMStack:
        spec = GLMSpec.from_json(d["spec"])
        stack = cls(
            spec=spec,
            intercept=np.asarray(d["intercept"], dtype=np.float64),
            cat=[np.asarray(t, dtype=np.float64) for t in d["cat"]],
            pair=[np.asarray(t, dtype=np.float64) for t in d["pair"]],
            num=np.asarray(d["num"], dtype=np.float64).reshape(-1, spec.n_numeric),
            miss=np.asarray(d["miss"], dtype=np.float64).reshape(-1, spec.n_numeric),
            slope=[np.asarray(t, dtype=np.float64) for t in d.get("slope", [])],
        )
        m = stack.n_models
        for (_, _, n_lev), t in zip(spec.cats, stack.cat, strict=True):
            if t.shape != (m, n_lev + 1):
                raise ValueError("GLM category table has the wrong shape")
        for (_, _, _, n_rep, n_lev), t in zip(spec.pairs, stack.pair, strict=True):
            if t.shape != (m, n_rep + 1, n_lev + 1):
                raise ValueError("GLM interaction table has the wrong shape")
        if len(stack.slope) != len(spec.slopes):
            raise ValueError("GLM slope tables do not match the spec")
        return stack


def _unpack(spec: GLMSpec, coef: NDF) -> tuple[list[NDF], list[NDF], NDF, NDF, list[NDF]]:
    off = 0
    cat, pair = [], []
    for _, _, n_lev in spec.cats:
        cat.append(np.append(coef[off : off + n_lev], 0.0))
        off += n_lev
    for _, _, _, n_rep, n_lev in spec.pairs:
        t = np.zeros((n_rep + 1, n_lev + 1))
        t[:n_rep, :n_lev] = coef[off : off + n_rep * n_lev].reshape(n_rep, n_lev)
        pair.append(t)
        off += n_rep * n_lev
    slope = []
    for term in spec.slopes:
        slope.append(np.append(coef[off : off + term[3]], 0.0))
        off += term[3]
    k, kp = len(spec.nums), len(spec.products)
    num = coef[off : off + k + kp]
    # Products have no missing indicator: their "miss" coefficients are 0.
    miss = np.append(coef[off + k + kp : off + 2 * k + kp], np.zeros(kp))
    return cat, pair, num, miss, slope


def fit_one(
    spec: GLMSpec,
    X: NDF | None,
    y: NDF,
    C: float,
    seed: int = 0,
    start: tuple[float, NDF] | None = None,
    design: CodedDesign | None = None,
) -> tuple[float, NDF]:
    """Fit one penalised logistic regression (scikit-learn's ``LogisticRegression(C=C)``
    objective, solved by :func:`~leadpilot.model.glm_fit.fit_logistic`); returns
    (intercept, coefficient vector). ``start`` (a previous fit on similar rows) warm-starts
    the solver: bags and refits then converge in a fraction of the iterations. ``design``:
    ``CodedDesign.of(spec, X)`` when the caller has it (a row subset of a larger design is
    the same matrix: ``design.rows``; ``X`` may then be ``None``), which saves rebuilding
    it per fit. ``seed`` is unused (the solver is deterministic); kept for callers."""
    del seed
    if design is None:
        if X is None:
            raise ValueError("fit_one needs the rows X or their design matrix")
        design = CodedDesign.of(spec, X)
    return fit_logistic(design, np.asarray(y, dtype=np.float64), C, start)


def fit_glm_stack(spec: GLMSpec, fits: list[tuple[float, NDF]]) -> GLMStack:
    """Stack fitted coefficient vectors into lookup tables."""
    parts = [_unpack(spec, coef) for _, coef in fits]
    return GLMStack(
        spec=spec,
        intercept=np.array([b for b, _ in fits]),
        cat=[np.stack([p[0][i] for p in parts]) for i in range(len(spec.cats))],
        pair=[np.stack([p[1][i] for p in parts]) for i in range(len(spec.pairs))],
        num=np.stack([p[2] for p in parts]),
        miss=np.stack([p[3] for p in parts]),
        slope=[np.stack([p[4][i] for p in parts]) for i in range(len(spec.slopes))],
    )
