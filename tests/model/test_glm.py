"""The linear part's product terms: a known interaction is recovered, scoring matches the
design matrix, and the spec survives a JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.model.glm import GLMSpec, GLMStack, fit_glm_stack, fit_one, make_spec


def _world(n: int = 40_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two numeric inputs and a rep; true log-odds -1 + 0.5 a - 0.4 b - 0.6 a*b + rep effect
    (a, b standard normal; some b missing)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    rep = rng.integers(0, 3, n).astype(np.float64)
    z = -1 + 0.5 * a - 0.4 * b - 0.6 * a * b + np.array([0.0, 0.3, -0.3])[rep.astype(int)]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    b_seen = b.copy()
    b_seen[rng.random(n) < 0.1] = np.nan
    return np.column_stack([a, b_seen, rep]), y, ["a", "b", "rep_id"]


def _spec(X: np.ndarray, names: list[str]) -> GLMSpec:
    return make_spec(
        X, names, cats=["rep_id"], pairs=[], nums=["a", "b"], levels={"rep_id": 3},
        products=[("a", "b")],
    )  # fmt: skip


def test_product_term_recovers_a_known_interaction() -> None:
    X, y, names = _world()
    spec = _spec(X, names)
    assert [t[0] for t in spec.products] == ["a_x_b"]
    b0, coef = fit_one(spec, X, y, C=10.0, seed=0)
    stack = fit_glm_stack(spec, [(b0, coef)])
    # The product is standardised: back to the a*b scale (a, b already ~standard normal).
    _, _, _, _, sa, _, sb, _, ps = spec.products[0]
    per_unit = stack.num[0, 2] / ps / (sa * sb)
    assert per_unit == pytest.approx(-0.6, abs=0.06)
    assert stack.num[0, 0] / spec.sd[0] == pytest.approx(0.5, abs=0.06)
    # Products carry no missing indicator.
    assert stack.miss[0, 2] == 0.0


def test_margins_equal_the_design_matrix_and_survive_json() -> None:
    X, y, names = _world(n=5_000, seed=1)
    spec = _spec(X, names)
    b0, coef = fit_one(spec, X, y, C=1.0, seed=0)
    stack = fit_glm_stack(spec, [(b0, coef)])
    direct = b0 + spec.design(X) @ coef
    assert np.allclose(stack.margins(X)[0], direct)
    again = GLMStack.from_json(stack.to_json())
    assert again.spec.products == spec.products
    assert np.allclose(again.margins(X), stack.margins(X))
    # A product's contribution is reported under its second input's term.
    parts = stack.term_contributions(X)
    assert "a_x_b" not in parts
    assert np.allclose(sum(parts.values()) + b0, direct)
