"""A small world shared by the synth tests (generated once per session)."""

from __future__ import annotations

import pytest

from leadpilot.synth import World, generate_world


@pytest.fixture(scope="session")
def world() -> World:
    return generate_world(n_leads=20_000, n_reps=20, n_new_leads=1_000, seed=3)
