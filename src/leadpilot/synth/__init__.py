"""A synthetic CRM world with known ground truth, to measure routing and models against.

``generate_world`` draws history, reps, accounts and new leads from a seed;
``GroundTruth.true_probability`` gives the true P(convert | lead, rep) of any pair;
``write_world`` / ``load_truth`` store and read them.
"""

from __future__ import annotations

from leadpilot.synth.truth import GroundTruth, GroundTruthScorer, RepTruth, load_truth
from leadpilot.synth.world import EXTRA_COLUMNS, World, generate_world
from leadpilot.synth.writer import write_world
from leadpilot.synth.yardsticks import expected_conversions

__all__ = [
    "EXTRA_COLUMNS",
    "GroundTruth",
    "GroundTruthScorer",
    "RepTruth",
    "World",
    "expected_conversions",
    "generate_world",
    "load_truth",
    "write_world",
]
