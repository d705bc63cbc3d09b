"""The compiled margins (``glm_kernels``) give numpy's bits: every term type, missing values,
infinities, unknown levels, a code out of its table (numpy's path then), few rows and many."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from leadpilot.model import ConversionModel, glm_kernels
from leadpilot.model.glm import GLMSpec, GLMStack
from leadpilot.model.scoring import candidate_matrix
from leadpilot.schema import Lead

pytestmark = pytest.mark.skipif(not glm_kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(autouse=True, scope="module")
def _loaded() -> None:
    """numba loaded, as in a process that has scored a batch."""
    assert glm_kernels.load()


def _numpy(stack: GLMStack, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numpy code's categorical part and full margins (the reference)."""
    saved = glm_kernels.AVAILABLE
    glm_kernels.AVAILABLE = False
    try:
        pre = stack.categorical_margins(X)
        return pre, stack.add_numeric(pre.copy(), X)
    finally:
        glm_kernels.AVAILABLE = saved


def _stack(seed: int) -> GLMStack:
    """Random coefficients on every kind of term: 2 categoricals, a rep x segment pair, 3
    numeric terms (one with no coefficient), 2 products and a rep slope of each power."""
    rng = np.random.default_rng(seed)
    m = 4
    spec = GLMSpec(
        cats=[("a", 0, 3), ("b", 1, 5)],
        pairs=[("rep_x_b", 2, 1, 4, 5)],
        nums=[("x", 3), ("y", 4), ("w", 5)],
        mean=rng.normal(size=3),
        sd=rng.uniform(0.5, 2.0, 3),
        slopes=[("rep_x_x^1", 2, 3, 4, 1, 0.3, 1.2), ("rep_x_x^2", 2, 3, 4, 2, 0.3, 1.2)],
        products=[
            ("x_y", 3, 4, 0.1, 1.1, -0.2, 0.9, 0.05, 1.3),
            ("y_w", 4, 5, -0.2, 0.9, 0.4, 2.0, -0.1, 0.7),
        ],
    )
    num = rng.normal(size=(m, 5))
    num[:, 2] = 0.0  # a term without a coefficient is skipped in both
    miss = np.hstack([rng.normal(size=(m, 3)), np.zeros((m, 2))])
    return GLMStack(
        spec=spec,
        intercept=rng.normal(size=m),
        cat=[np.hstack([rng.normal(size=(m, n)), np.zeros((m, 1))]) for n in (3, 5)],
        pair=[rng.normal(size=(m, 5, 6))],
        num=num,
        miss=miss,
        slope=[rng.normal(size=(m, 5)) for _ in range(2)],
    )


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(0, 3, n),
            rng.integers(0, 5, n),
            rng.integers(0, 4, n),
            rng.normal(size=(n, 3)) * 3,
        ]
    ).astype(np.float64)
    X[rng.random(X.shape) < 0.15] = np.nan  # unknown levels and missing numbers
    # infinities, and a product past the largest float (clipped)
    X[0, 3], X[min(1, n - 1), 4], X[min(2, n - 1), 5] = np.inf, -np.inf, 1e308
    return X


@pytest.mark.parametrize("n", [1, 7, 256, 257, 3_000])
def test_every_term_type_gives_numpys_bits(n: int) -> None:
    stack = _stack(seed=n)
    X = _rows(n, seed=n)
    with np.errstate(all="ignore"):
        ref_pre, ref = _numpy(stack, X)
        pre = stack.categorical_margins(X)
        got = stack.add_numeric(pre.copy(), X)
    # The same bits, NaN where numpy has NaN (infinite inputs), not merely close.
    assert np.array_equal(pre.view(np.int64), ref_pre.view(np.int64))
    assert np.array_equal(got.view(np.int64), ref.view(np.int64))
    # Not vacuous: the rows' margins differ from each other and from the intercepts.
    finite = np.isfinite(ref)
    if n > 100:
        assert finite.sum() > 0.9 * ref.size
        assert len(np.unique(ref[finite])) > 0.5 * finite.sum()


def test_a_code_outside_its_table_takes_numpys_path() -> None:
    """numpy's gather raises IndexError on a code past the unknown level: so does the
    kernel's caller, through numpy, instead of reading outside the table."""
    stack = _stack(seed=1)
    X = _rows(10, seed=1)
    X[4, 1] = 9.0  # "b" has 5 levels (+ unknown): 9 is outside
    with pytest.raises(IndexError):
        stack.categorical_margins(X)


def test_a_trained_models_rows_give_numpys_bits(fitted: ConversionModel) -> None:
    """A fitted model's own stack (bags, pairs, products) on the rows the router scores."""
    state = fitted.fitted_
    rng = np.random.default_rng(5)
    reps = list(state.state.rep_ids)
    rows = []
    for i in range(30):
        lead = Lead(lead_id=f"L{i}", industry="Software", company_size=50 + 40 * i)
        X, _ = candidate_matrix(state, lead, reps, rng.uniform(0.1, 30.0, len(reps)))
        rows.append(X)
    X = np.vstack(rows)
    X[rng.random(X.shape) < 0.05] = np.nan
    stack = state.glm
    ref_pre, ref = _numpy(stack, X)
    pre = stack.categorical_margins(X)
    assert np.array_equal(pre, ref_pre)
    assert np.array_equal(stack.add_numeric(pre.copy(), X), ref)
    _, few = _numpy(stack, X[:12])
    assert np.array_equal(stack.add_numeric(stack.categorical_margins(X[:12]), X[:12]), few)


def test_without_numba_the_numpy_code_runs() -> None:
    """``LEADPILOT_NO_NUMBA=1`` (or numba missing) switches the loops off cleanly."""
    code = "from leadpilot.model import glm_kernels; print(glm_kernels.AVAILABLE)"
    env = {**os.environ, "LEADPILOT_NO_NUMBA": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_numba_is_imported_by_the_first_batch_only() -> None:
    """A process scoring a few rows never pays numba's import; the first call with
    ``IMPORT_ROWS`` rows loads it, and the few-row calls after it use the loops."""
    code = f"""
import sys
import numpy as np
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_glm_kernels import _rows, _stack
from leadpilot.model import glm_kernels
stack = _stack(seed=2)
few = _rows(12, seed=2)
stack.add_numeric(stack.categorical_margins(few), few)
print("numba" in sys.modules, glm_kernels.kernel("numeric") is not None)
many = _rows(glm_kernels.IMPORT_ROWS, seed=3)
stack.add_numeric(stack.categorical_margins(many), many)
print("numba" in sys.modules, glm_kernels.kernel("numeric") is not None)
"""
    env = {k: v for k, v in os.environ.items() if k != "LEADPILOT_NO_NUMBA"}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split("\n")[:2] == ["False False", "True True"]
