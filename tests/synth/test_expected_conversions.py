"""``expected_conversions``: the truth a replayed policy is judged against."""

from __future__ import annotations

import numpy as np
import pytest

from leadpilot.synth import expected_conversions, generate_world
from leadpilot.synth.history import contact_delays


def test_matches_the_truth_at_drawn_delays_and_nobody_converts_nothing() -> None:
    world = generate_world(n_leads=1_000, n_reps=5, n_new_leads=50, seed=3)
    leads = world.history.iloc[:40].reset_index(drop=True)
    reps: list[str | None] = list(leads["rep_id"])
    reps[0] = None
    got = expected_conversions(world, leads, reps, draws=1, seed=9)
    # the same delay draw by hand: the generator's own function on the assigned rows
    sub = leads.iloc[1:].reset_index(drop=True)
    ids = [r for r in reps if r is not None]
    team = type("Team", (), {"roster": world.reps, "truths": world.truth.reps})
    pos = world.truth.rep_positions(ids)
    hours = contact_delays(np.random.default_rng(9), sub["created_at"], pos, team)
    assert got[0] == 0.0
    assert got[1:] == pytest.approx(world.truth.true_probability_assigned(sub, ids, hours))


def test_more_draws_average_towards_the_expectation() -> None:
    world = generate_world(n_leads=1_000, n_reps=5, n_new_leads=50, seed=3)
    leads = world.history.iloc[:200].reset_index(drop=True)
    reps = list(leads["rep_id"])
    a = expected_conversions(world, leads, reps, draws=64, seed=1).mean()
    b = expected_conversions(world, leads, reps, draws=64, seed=2).mean()
    assert a == pytest.approx(b, rel=0.01)
    assert 0 < a < 1
