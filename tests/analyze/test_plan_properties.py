"""Invariants of the capacity plan on random histories (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.analyze.recommend import plan_routing


@pytest.mark.slow  # ~30 s of CPU (each plan cross-fits its model); fixed cases below are fast
@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(60, 600),
    reps=st.integers(2, 6),
    min_leads=st.integers(1, 30),
    weights=st.lists(st.integers(1, 50), min_size=6, max_size=6),
)
def test_plan_never_exceeds_capacity_and_routes_every_lead(
    seed: int, n: int, reps: int, min_leads: int, weights: list[int]
) -> None:
    check_plan_invariants(seed, n, reps, min_leads, weights)


@pytest.mark.parametrize(
    ("seed", "n", "reps", "min_leads", "weights"),
    [
        (0, 60, 2, 1, [1, 50, 1, 1, 1, 1]),  # the smallest history, one rep capped hard
        (7, 400, 6, 30, [3, 9, 27, 1, 50, 5]),  # every rep, uneven capacity
    ],
)
def test_plan_invariants_on_fixed_cases(
    seed: int, n: int, reps: int, min_leads: int, weights: list[int]
) -> None:
    """The property above on two chosen cases, for the developer loop."""
    check_plan_invariants(seed, n, reps, min_leads, weights)


def check_plan_invariants(seed: int, n: int, reps: int, min_leads: int, weights: list[int]) -> None:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "rep": rng.choice([f"r{i}" for i in range(reps)], n),
            "industry": rng.choice(["A", "B", "C", None], n),
            "size_band": rng.choice(["1-10", "11-50"], n),
            "y": rng.integers(0, 2, n).astype(np.int8),
        }
    )
    present = sorted(data["rep"].unique())
    roster = pd.DataFrame({"rep_id": present, "max_leads_per_day": weights[: len(present)]})
    for r in (None, roster):
        plan = plan_routing(
            data,
            ["industry", "size_band"],
            float(data["y"].mean()),
            roster=r,
            min_leads=min_leads,
            rng=np.random.default_rng(seed),
            draws=50,
        )
        assert np.all(plan.plan >= -1e-9)
        assert np.all(plan.plan.sum(axis=1) <= plan.capacity + 1e-6)
        np.testing.assert_allclose(plan.plan.sum(axis=0), plan.volume, atol=1e-6)
        assert plan.volume.sum() == n
        # the model's rates are probabilities and its lift interval brackets its estimate
        assert np.all((plan.rates > 0) & (plan.rates < 1))
        lift = plan.lift
        assert lift is not None
        assert lift.value is not None
        assert lift.ci_low is not None
        assert lift.ci_high is not None
        assert lift.ci_low - 1e-9 <= lift.value <= lift.ci_high + 1e-9
        # the plan is never worse than round-robin under the rates it was chosen on
        assert (plan.rates * plan.plan).sum() >= (plan.rates * plan.round_robin).sum() - 1e-9
