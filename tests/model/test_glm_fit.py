"""The linear part's solver (``glm_fit``): the coded design is ``GLMSpec.design``'s matrix,
its loss and gradient are scikit-learn's (both implementations: the compiled loops and the
sparse products), its curvature is the Gauss-Newton Hessian's, and the preconditioned
solver lands on scikit-learn's optimum (run to a tight tolerance) at least as closely as
scikit-learn's own default run does."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn._loss.loss import HalfBinomialLoss
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss

from leadpilot.model import glm_kernels
from leadpilot.model.glm import make_spec
from leadpilot.model.glm_fit import CodedDesign, _Coordinates, _extended, _Problem, fit_logistic

NEEDS_NUMBA = pytest.mark.skipif(not glm_kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(params=["loops", "sparse"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test with the compiled loops, then with scipy's sparse products."""
    if request.param == "loops":
        if not glm_kernels.AVAILABLE:
            pytest.skip("numba is not installed")
        assert glm_kernels.load()
        yield "loops"
        return
    saved = glm_kernels.AVAILABLE
    glm_kernels.AVAILABLE = False
    try:
        yield "sparse"
    finally:
        glm_kernels.AVAILABLE = saved


def _world(n: int = 6_000, seed: int = 0):  # type: ignore[no-untyped-def]
    """A rep (6 levels, some rows unknown), a segment (4 levels, some missing), two numeric
    inputs (one with missing values) and their product, rep x segment cells and rep slopes;
    outcomes from a logistic model with rep, segment, cell and slope effects."""
    rng = np.random.default_rng(seed)
    rep = rng.integers(0, 6, n).astype(np.float64)
    seg = rng.integers(0, 4, n).astype(np.float64)
    a, b = rng.normal(size=n), rng.normal(size=n)
    cell = rng.normal(0, 0.4, (6, 4))
    slope = rng.normal(0, 0.3, 6)
    r, s = rep.astype(int), seg.astype(int)
    z = -1.2 + 0.3 * r / 5 + 0.2 * s + cell[r, s] + slope[r] * a + 0.4 * a - 0.3 * b
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    rep[rng.random(n) < 0.02] = np.nan
    seg[rng.random(n) < 0.05] = np.nan
    b[rng.random(n) < 0.1] = np.nan
    X = np.column_stack([rep, seg, a, b])
    names = ["rep_id", "segment", "a", "b"]
    spec = make_spec(
        X,
        names,
        cats=["rep_id", "segment"],
        pairs=[("rep_id", "segment")],
        nums=["a", "b"],
        levels={"rep_id": 6, "segment": 4},
        slopes=[("rep_id", "a", 1), ("rep_id", "a", 2)],
        products=[("a", "b")],
    )
    return spec, X, y


def _sklearn_objective(design: CodedDesign, y: np.ndarray, C: float, b0: float, coef: np.ndarray):  # type: ignore[no-untyped-def]
    """scikit-learn's own loss and gradient of ``LogisticRegression(C=C)`` (the reference)."""
    loss = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    l2 = 1.0 / (C * len(y))
    return loss.loss_gradient(np.append(coef, b0), design.sparse(), y, None, l2, 1)


def test_the_coded_design_is_the_spec_design_matrix() -> None:
    spec, X, _ = _world()
    design = CodedDesign.of(spec, X)
    reference = spec.design(X)
    assert design.sparse().shape == reference.shape
    assert abs(design.sparse() - reference).max() == 0.0
    rows = np.array([5, 3, 3, 100, 7])
    assert abs(design.rows(rows).sparse() - reference[rows]).max() == 0.0
    assert abs(design.rows(slice(10, 50)).sparse() - reference[10:50]).max() == 0.0
    # One block per rep: its main effect, its 4 cells and its 2 slopes.
    assert design.blocks.shape == (6, 7)


def test_loss_and_gradient_are_scikit_learns(path: str) -> None:
    spec, X, y = _world()
    design = CodedDesign.of(spec, X)
    problem = _Problem(design, y, C=0.5)
    assert (problem.margins is None) == (path == "sparse")
    rng = np.random.default_rng(1)
    coef, b0 = rng.normal(0, 0.5, design.n_cols), -1.0
    value, grad = problem.loss_grad(_extended(coef, b0))
    ref_value, ref_grad = _sklearn_objective(design, y, 0.5, b0, coef)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad[:-1], ref_grad, rtol=1e-9, atol=1e-14)
    assert grad[-1] == 0.0
    np.testing.assert_allclose(
        design.margins(b0, coef), b0 + spec.design(X) @ coef, rtol=1e-12, atol=1e-12
    )


def test_curvature_is_the_gauss_newton_hessian(path: str) -> None:
    spec, X, y = _world(n=2_000)
    design = CodedDesign.of(spec, X)
    problem = _Problem(design, y, C=0.5)
    rng = np.random.default_rng(2)
    coef, b0 = rng.normal(0, 0.3, design.n_cols), -0.5
    diag, blocks = problem.curvature(_extended(coef, b0))
    # Dense Hessian of the penalised mean loss, intercept as a column of ones.
    D = np.hstack([design.sparse().toarray(), np.ones((len(y), 1))])
    z = D @ np.append(coef, b0)
    h = 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))
    H = D.T @ (D * h[:, None]) / len(y)
    H[:-1, :-1] += problem.l2 * np.eye(design.n_cols)
    np.testing.assert_allclose(diag[:-1], np.diag(H), rtol=1e-10)
    for b, cols in enumerate(design.blocks):
        np.testing.assert_allclose(blocks[b], H[np.ix_(cols, cols)], rtol=1e-10, atol=1e-15)
    frame = _Coordinates(diag, blocks, design.blocks)
    v = rng.normal(size=design.n_cols + 2)
    np.testing.assert_allclose(frame.to_v(frame.to_w(v)), v, rtol=1e-9, atol=1e-12)
    # The whitened blocks are the identity: S' H S = I on each block.
    for cols in design.blocks:
        S = np.stack([frame.to_w(np.eye(design.n_cols + 2)[c])[cols] for c in cols], axis=1)
        np.testing.assert_allclose(S.T @ H[np.ix_(cols, cols)] @ S, np.eye(len(cols)), atol=1e-9)


@pytest.mark.parametrize("C", [0.01, 1.0])
def test_the_solver_lands_on_scikit_learns_optimum(path: str, C: float) -> None:
    spec, X, y = _world()
    design = CodedDesign.of(spec, X)
    D = design.sparse()
    exact = LogisticRegression(C=C, tol=1e-12, max_iter=20_000).fit(D, y)
    default = LogisticRegression(C=C).fit(D, y)  # what training used before glm_fit
    b0, coef = fit_logistic(design, y, C)
    z_exact = exact.decision_function(D)
    ours = np.abs(b0 + D @ coef - z_exact).max()
    theirs = np.abs(default.decision_function(D) - z_exact).max()
    assert ours <= theirs
    f_exact = _sklearn_objective(design, y, C, exact.intercept_[0], exact.coef_[0])[0]
    f_ours = _sklearn_objective(design, y, C, b0, coef)[0]
    f_default = _sklearn_objective(design, y, C, default.intercept_[0], default.coef_[0])[0]
    assert f_exact <= f_ours <= f_default
    assert f_ours - f_exact < 1e-5
    # Warm-started from its answer, it gets no further from the optimum.
    b1, coef1 = fit_logistic(design, y, C, start=(b0, coef))
    assert np.abs(b1 + D @ coef1 - z_exact).max() <= ours + 1e-4


@NEEDS_NUMBA
def test_loops_and_sparse_products_fit_the_same_model() -> None:
    spec, X, y = _world()
    design = CodedDesign.of(spec, X)
    assert glm_kernels.load()
    b_loops, c_loops = fit_logistic(design, y, 0.3)
    saved = glm_kernels.AVAILABLE
    glm_kernels.AVAILABLE = False
    try:
        b_sparse, c_sparse = fit_logistic(design, y, 0.3)
    finally:
        glm_kernels.AVAILABLE = saved
    D = design.sparse()
    assert np.abs((b_loops + D @ c_loops) - (b_sparse + D @ c_sparse)).max() < 1e-3


def test_one_outcome_is_refused_as_scikit_learn_does() -> None:
    spec, X, y = _world(n=500)
    with pytest.raises(ValueError, match="both outcomes"):
        fit_logistic(CodedDesign.of(spec, X), np.zeros_like(y), 1.0)
