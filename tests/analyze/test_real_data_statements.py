"""Never state something false about the data: the audit on the shared real data sets.

Each test pins a statement an earlier version printed that the file contradicts (issue 14).
Skipped with a reason when the data set is not checked out beside the repository, and failed
instead under ``LEADPILOT_REQUIRE_SHARED_DATA=1`` (the ``shared_data`` marker, tests/conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadpilot.analyze import analyze, render_html, render_markdown
from leadpilot.analyze.core import Analysis
from leadpilot.ingest import read_history

DATA = Path(os.environ["LEADPILOT_DATA_DIR"])
OLIST = "olist-marketing-funnel"
MAVEN = "maven-crm-sales-opportunities"


def _audit(relative: str) -> tuple[Analysis, str, str]:
    result = read_history(DATA / relative)
    analysis = analyze(result.frame, ingest=result)
    return analysis, render_markdown(analysis), render_html(analysis)


@pytest.fixture(scope="module")
def olist() -> tuple[Analysis, str, str]:
    return _audit("olist-marketing-funnel/olist_marketing_qualified_leads_dataset.csv")


@pytest.mark.shared_data(OLIST)
def test_olist_missing_values_are_never_a_rep_or_a_source(olist: tuple[Analysis, str, str]) -> None:
    analysis, markdown, _ = olist
    doc = analysis.to_dict()
    # 7,158 leads have no seller: they are counted as leads without a rep, not as a rep
    assert doc["data_quality"]["leads_without_rep"] >= 7000
    assert all(r["rep"] != "(missing)" for r in doc["conversion_by_rep"])
    # olist spells a missing origin "unknown"
    sources = {r["source"].lower() for r in doc["conversion_by_source"]}
    assert "unknown" not in sources
    assert "(missing)" not in sources
    for action in doc["actions"]:
        assert "unknown converts" not in action["detail"]
    assert "| unknown |" not in markdown


@pytest.mark.shared_data(OLIST)
def test_olist_small_sample_rates_are_never_a_recommendation(
    olist: tuple[Analysis, str, str],
) -> None:
    doc = olist[0].to_dict()
    # every lead with a seller converted (only won deals carry the seller): no rep comparison
    for action in doc["actions"]:
        assert "100%" not in action["detail"], action
        assert "on only" not in action["detail"], action


@pytest.mark.shared_data(OLIST)
def test_olist_lift_says_not_computable(olist: tuple[Analysis, str, str]) -> None:
    analysis, markdown, _ = olist
    lift = analysis.to_dict()["verdict"]["projected_lift"]
    assert lift == {"value": None, "ci_low": None, "ci_high": None}
    assert "+0.0% (95% interval +0.0% to +0.0%)" not in markdown
    assert "+0.0%" not in analysis.sections.verdict.statement_15pct


@pytest.mark.shared_data(OLIST)
def test_olist_speed_section_does_not_deny_its_first_contact_date_column(
    olist: tuple[Analysis, str, str],
) -> None:
    """olist has a first_contact_date column (the date the lead came in, read as its creation
    date: the data set's notes say there is no rep-contact time). "The export has no
    first-contact time" contradicted the header a user sees; say what the column is instead."""
    _, markdown, _ = olist
    assert "has no first-contact time" not in markdown
    assert "first_contact_date is read as the date each lead came in" in markdown
    assert "does not record when a rep first contacted each lead" in markdown


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param(r, marks=pytest.mark.shared_data(r.split("/")[0]))
        for r in (
            "x-education-lead-scoring/Leads.csv",
            "uci-bank-marketing/bank-additional-full.csv",
        )
    ],
)
def test_without_reps_section_two_says_why_it_is_empty(relative: str) -> None:
    analysis, markdown, html = _audit(relative)
    doc = analysis.to_dict()
    assert doc["conversion_by_rep"] == []
    # the source column is filled (x-education 99.6%, bank-marketing 100%), so the report
    # must not claim it is not, nor compare reps that do not exist
    assert doc["data_quality"]["missing_share"]["source"] < 0.01
    assert "no industry, company-size or source column filled" not in html
    assert "No rep beats a segment" not in html
    assert "No rep beats a segment" not in markdown
    assert "does not name the rep of each lead" in html


@pytest.mark.shared_data(MAVEN)
def test_maven_names_the_p_value_the_verdict_uses() -> None:
    analysis, markdown, html = _audit("maven-crm-sales-opportunities")
    tests = analysis.to_dict()["verdict"]["tests"]
    assert tests
    # one p-value per test, and the report says which one decides
    assert "chi-square approximation p" not in html
    assert "the p-value the verdict uses" in html
    # open deals are open pipeline, not missing tracking
    for action in analysis.to_dict()["actions"]:
        assert "no recorded outcome" not in action["detail"]
    assert "no recorded outcome" not in markdown
