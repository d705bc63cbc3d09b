"""``benchmarks/model_gap.py``'s pieces, on hand-computed cases and the synth generators."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leadpilot.synth import kinds

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def gap() -> ModuleType:
    if str(BENCH) not in sys.path:  # the script imports its siblings, as when run from there
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("model_gap", BENCH / "model_gap.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["model_gap"] = module
    spec.loader.exec_module(module)
    return module


@settings(max_examples=50, deadline=None)
@given(z=arrays(np.float64, (5, 4), elements=st.floats(-8, 8)))
def test_split_edges_adds_up_and_centres(gap, z):
    level, rep, rest = gap.split_edges(z)
    np.testing.assert_allclose(level + rep + rest, z, atol=1e-9)
    np.testing.assert_allclose(rest.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(rest.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(rep.sum(), 0.0, atol=1e-9)


def test_share_of_best_by_hand(gap):
    # one day, one lead per rep: the best pairs (0, 0) and (1, 1) for 0.5 + 0.3 = 0.8; a
    # random rep gets (0.5 + 0.1) / 2 + (0.4 + 0.3) / 2 = 0.65; the swap gets 0.1 + 0.4 = 0.5
    p = np.array([[0.5, 0.1], [0.4, 0.3]])
    day, cap = np.array([0, 0]), np.array([1, 1])
    assert gap.share_of_best(p, p, day, cap) == pytest.approx(1.0)
    assert gap.share_of_best(p[:, ::-1].copy(), p, day, cap) == pytest.approx((0.5 - 0.65) / 0.15)


def test_form_of_names_each_generator(gap):
    expected = {
        "_size_curve": "size sweet spot",
        "_engagement_step": "engagement step",
        "_industry_source": "industry x source",
        "_region_size": "region x size",
        "_product_industry_size": "product x industry x size",
        "_industry_engagement": "industry x engagement",
    }
    rng = np.random.default_rng(0)
    for make in kinds._FORMS:
        effect = make(rng, "rep-01")
        assert gap.form_of(effect) == expected[make.__name__]
        changed = replace(effect, since="2025-06-01")
        assert gap.form_of(changed) == expected[make.__name__] + " (changes)"
