"""Shared fixtures: one model fitted (and evaluated out of time) on a small toy world, with a
small fast parameter set: behaviour tests need a working model, not the best one (the
acceptance tests in test_synth_acceptance.py use the defaults and are marked slow)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from worlds import ToyWorld, toy_world

from leadpilot.model import ConversionModel
from leadpilot.model.evaluation import EvaluationReport, fit_and_evaluate

# Fewer bags and trees than the defaults (8 bags, up to 120 trees): about half the time.
FAST: dict[str, Any] = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}


@pytest.fixture(scope="session")
def world() -> ToyWorld:
    return toy_world(8_000, seed=3)


@pytest.fixture(scope="session")
def fitted_and_report(world: ToyWorld) -> tuple[ConversionModel, EvaluationReport]:
    model = ConversionModel(**{**FAST, "n_bags": 3})
    report = fit_and_evaluate(model, world.history, world.reps)
    return model, report


@pytest.fixture(scope="session")
def fitted(fitted_and_report: tuple[ConversionModel, EvaluationReport]) -> ConversionModel:
    return fitted_and_report[0]


@pytest.fixture(scope="session")
def report(fitted_and_report: tuple[ConversionModel, EvaluationReport]) -> EvaluationReport:
    return fitted_and_report[1]
