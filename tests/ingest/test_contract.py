"""The output contract other modules code against: columns, order and dtypes of every preset."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from leadpilot.ingest import read_history
from leadpilot.schema import HISTORY_COLUMNS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
DATA = Path(os.environ["LEADPILOT_DATA_DIR"])
SOURCES = [
    FIXTURES / "seed_prompt.csv",
    FIXTURES / "salesforce_api.csv",
    FIXTURES / "salesforce_report.csv",
    FIXTURES / "hubspot_contacts.csv",
    FIXTURES / "canonical.csv",
    DATA / "maven-crm-sales-opportunities",
    DATA / "olist-marketing-funnel",
    DATA / "x-education-lead-scoring" / "Leads.csv",
]
TEXT = (
    "lead_id",
    "email",
    "company",
    "domain",
    "source",
    "industry",
    "size_band",
    "region",
    "country",
    "state",
    "product",
    "rep_id",
    "external_id",
    "title",
    "language",
)
DATES = ("created_at", "first_contact_at", "converted_at", "closed_at")
FLOATS = (
    "company_size",
    "annual_revenue",
    "engagement_score",
    "time_to_contact_hours",
    "deal_value",
)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_canonical_columns_and_dtypes(source: Path) -> None:
    if not source.exists():
        pytest.skip("shared data not available")
    frame = read_history(source).frame
    assert list(frame.columns) == [*HISTORY_COLUMNS, "source_row"]
    for col in TEXT:
        assert frame[col].dtype == object, col
        assert all(v is None or isinstance(v, str) for v in frame[col]), col
    for col in DATES:
        assert str(frame[col].dtype) == "datetime64[ns, UTC]", col
    for col in FLOATS:
        assert frame[col].dtype == "float64", col
    for col in ("converted", "closed_won"):
        assert str(frame[col].dtype) == "boolean", col
    assert frame["source_row"].dtype == "int64"
    assert frame["lead_id"].is_unique
    assert frame["lead_id"].notna().all()
    assert isinstance(frame.index, pd.RangeIndex)
    # closed_won implies converted; not converted implies not won
    won = frame["closed_won"].fillna(False)
    assert frame.loc[won, "converted"].all()
    assert not frame.loc[frame["converted"].eq(False).fillna(False), "closed_won"].any()
