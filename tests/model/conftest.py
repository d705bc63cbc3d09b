"""Shared fixtures: a fitted model on a small toy world."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from worlds import ToyWorld, toy_world

from leadpilot.model import ConversionModel


@pytest.fixture(scope="session")
def world() -> ToyWorld:
    return toy_world(8_000, seed=3)


@pytest.fixture(scope="session")
def fitted(world: ToyWorld) -> ConversionModel:
    return ConversionModel(n_bags=3).fit(world.history, world.reps)
