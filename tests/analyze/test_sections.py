"""Typed report sections: the JSON is derived from the dataclasses, optional fields drop out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from leadpilot.analyze import analyze
from leadpilot.analyze.builders import SECTION_BUILDERS
from leadpilot.analyze.sections import OMIT_NONE, Lift, ReportSections, plain


@dataclass
class _Example:
    kept: int | None
    dropped: str | None = field(default=None, metadata=OMIT_NONE)
    nested: Lift = field(default_factory=lambda: Lift(0.1, None, 0.2))


def test_plain_drops_only_the_omittable_nones() -> None:
    assert plain(_Example(kept=None)) == {
        "kept": None,
        "nested": {"value": 0.1, "ci_low": None, "ci_high": 0.2},
    }
    assert plain(_Example(kept=1, dropped="x"))["dropped"] == "x"


def test_sections_are_typed_and_the_json_mirrors_them(history: pd.DataFrame) -> None:
    analysis = analyze(history.iloc[:1500], seed=1)
    s = analysis.sections
    assert isinstance(s, ReportSections)
    assert s.overall.leads == 1500
    assert s.overall.converted == int(history["converted"].iloc[:1500].sum())
    doc = json.loads(analysis.to_json())
    assert doc["overall"] == {
        "leads": 1500,
        "converted": s.overall.converted,
        "rate": s.overall.rate,
    }
    assert doc["verdict"]["reason"] == s.verdict.reason
    # optional fields that do not apply are absent, not null
    assert "narrative" not in doc
    assert "has_reps" not in doc["data_quality"]
    assert "date_range" not in doc["data_quality"]  # the fixture has no creation dates
    assert set(doc["verdict"]["projected_lift"]) == {"value", "ci_low", "ci_high"}
    assert doc["recommendations"]["projected_lift"]["baseline"].startswith("round-robin")


def test_without_reps_the_builders_mark_it(history: pd.DataFrame) -> None:
    doc = analyze(history.iloc[:800].assign(rep_id=None), seed=1).to_dict()
    assert doc["data_quality"]["has_reps"] is False
    assert doc["conversion_by_rep"] == []
    assert doc["recommendations"]["projected_lift"] == {
        "value": None,
        "ci_low": None,
        "ci_high": None,
    }


def test_every_builder_is_documented_and_runs_once() -> None:
    assert len({b.__name__ for b in SECTION_BUILDERS}) == len(SECTION_BUILDERS)
    assert all(b.__doc__ for b in SECTION_BUILDERS)
