"""Rep rosters, account lists and the typed records built from frames."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.ingest import (
    accounts_from_frame,
    leads_from_frame,
    read_accounts,
    read_history,
    read_reps,
    reps_from_frame,
)
from leadpilot.schema import ACCOUNT_COLUMNS, REP_COLUMNS, Lead, Rep

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"
needs_maven = pytest.mark.shared_data(MAVEN.name)


def test_read_reps_canonical() -> None:
    frame = read_reps(FIXTURES / "reps.csv")
    assert list(frame.columns) == list(REP_COLUMNS)
    assert str(frame["max_leads_per_day"].dtype) == "Int64"
    assert str(frame["active"].dtype) == "boolean"
    reps = {r.rep_id: r for r in reps_from_frame(frame)}
    assert reps["r1"] == Rep(
        rep_id="r1",
        name="Alice Moore",
        email="alice@example.com",
        pool="inbound",
        role="AE",
        regions=("EMEA", "NA"),
        industries=("SaaS", "Fintech"),
        products=("Core",),
        languages=("en", "fr"),
        max_leads_per_day=25,
        max_open_leads=120,
        timezone="Europe/Paris",
        working_hours="Mon-Fri 09:00-17:30",
        active=True,
        start_date=date(2023, 1, 9),
        backup_rep_id="r2",
    )
    assert reps["r2"].products == ("Core", "Add-on")
    assert reps["r2"].active  # missing = active
    assert reps["r2"].max_open_leads is None
    assert reps["r3"].timezone == "UTC"
    assert not reps["r3"].active


def test_read_reps_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_text(
        "rep_id,timezone,working_hours,max_leads_per_day,backup_rep_id\n"
        "r1,Mars/Olympus,9 to 5,-3,r9\nr1,UTC,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(DataValidationError) as info:
        read_reps(path)
    message = str(info.value)
    assert "5 value(s) in the rep roster cannot be used" in message
    assert "row 2, column 'timezone': 'Mars/Olympus' is not an IANA time zone" in message
    assert "row 2, column 'working_hours': '9 to 5' is not like 'Mon-Fri 09:00-17:30'" in message
    assert "row 2, column 'max_leads_per_day': '-3' is not a number >= 0" in message
    assert "row 2, column 'backup_rep_id': 'r9' is not a rep_id of this roster" in message
    assert "row 3, column 'rep_id': 'r1' appears twice" in message


def test_read_reps_missing_id_column(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_text("repid_x,name\nq,Q\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"required column 'rep_id' is missing.*repid_x"):
        read_reps(path)


@needs_maven
def test_maven_reps_from_sales_teams() -> None:
    frame = read_reps(MAVEN)
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    assert len(frame) == len(teams) == 35
    assert frame["rep_id"].tolist() == teams["sales_agent"].tolist()
    assert frame["regions"].tolist() == teams["regional_office"].tolist()
    assert set(frame["pool"]) == {"Central", "East", "West"}
    reps = reps_from_frame(frame)
    assert all(r.active and r.timezone == "UTC" for r in reps)


def test_read_accounts_canonical() -> None:
    frame = read_accounts(FIXTURES / "accounts.csv")
    assert list(frame.columns) == list(ACCOUNT_COLUMNS)
    accounts = accounts_from_frame(frame)
    assert accounts[0].domain == "acme.com"
    assert accounts[0].owner_rep_id == "r1"
    assert accounts[0].has_open_opportunity
    assert accounts[0].last_touch_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert accounts[0].tier == "strategic"
    assert accounts[1].domain == "globex.io"
    assert not accounts[1].has_open_opportunity
    assert accounts[1].owner_rep_id is None


@needs_maven
def test_maven_accounts_open_opportunities_against_pandas() -> None:
    frame = read_accounts(MAVEN)
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    assert len(frame) == 85
    open_deals = pipeline[pipeline["deal_stage"].isin(["Engaging", "Prospecting"])]
    expected = set(open_deals["account"].dropna())
    assert set(frame.loc[frame["has_open_opportunity"], "account_id"]) == expected
    last = (
        pd.to_datetime(pd.concat([pipeline["engage_date"], pipeline["close_date"]]), utc=True)
        .groupby(pd.concat([pipeline["account"], pipeline["account"]]))
        .max()
    )
    acme = frame.set_index("account_id").loc["Acme Corporation", "last_touch_at"]
    assert acme == last["Acme Corporation"]


def test_leads_from_frame_keeps_extras_as_attributes() -> None:
    frame = read_history(FIXTURES / "canonical.csv", keep_extra=True).frame
    leads = leads_from_frame(frame)
    assert [lead.lead_id for lead in leads] == ["C1", "C2", "C3"]
    first = leads[0]
    assert first.email == "a@x.com"
    assert first.company_size == 120.0
    assert first.size_band == "51-200"
    assert first.created_at == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert first.get("demo_request") == "yes"
    assert first.get("rep_id") == "r1"
    assert leads[2].get("demo_request") is None
    assert leads[2].company_size is None


def test_leads_from_frame_fills_every_canonical_lead_field() -> None:
    """Every field of ``schema.Lead`` is read from its column (none left in attributes)."""
    import dataclasses

    from leadpilot.ingest import leads_from_frame
    from leadpilot.schema import Lead

    names = [f.name for f in dataclasses.fields(Lead) if f.name != "attributes"]
    row = {name: f"v-{name}" for name in names}
    for number in ("company_size", "annual_revenue", "engagement_score"):
        row[number] = 7.0
    row["created_at"] = pd.Timestamp("2026-01-02T03:04:00Z")
    (lead,) = leads_from_frame(pd.DataFrame([row]))
    assert dict(lead.attributes) == {}
    for name in names:
        expected = row[name].to_pydatetime() if name == "created_at" else row[name]
        assert getattr(lead, name) == expected, name


def test_leads_from_frame_reads_every_kind_of_missing_and_numpy_cell() -> None:
    """Column by column, each cell is what a row-by-row ``_py`` gives: NaN, NaT, pd.NA and
    None are ``None``; numpy scalars plain Python; timestamps ``datetime``; a missing domain
    comes from the email; ``x_`` prefixes drop; hand-checked values, and the row-by-row
    reading (kept for frames with repeated column names) agrees on every field's type."""
    import numpy as np

    from leadpilot.ingest.roster import _leads_by_row

    frame = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "created_at": pd.to_datetime(
                ["2026-01-02T03:04:05.123456Z", None, "2026-01-03T00:00:00.000000Z"], utc=True
            ),
            "email": ["x@acme.com", None, "y@beta.io"],
            "domain": [None, None, "gamma.org"],
            "company_size": [12.0, np.nan, 3.0],
            "industry": pd.Series(["Retail", pd.NA, np.nan], dtype=object),
            "converted": pd.array([True, None, False], dtype="boolean"),
            "first_contact_at": pd.Series(pd.to_datetime(["2026-01-02", None, None])),
            "x_demo_request": ["yes", "", None],
            "x_score": pd.Series([np.int64(4), np.float64(2.5), np.nan], dtype=object),
            "rep_id": pd.Series(["r1", None, "r2"], dtype=object),
            "source_row": np.array([2, 3, 4], dtype=np.int64),
        }
    )  # fmt: skip
    leads = leads_from_frame(frame)
    a, b, c = leads
    assert a.created_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert type(a.created_at) is datetime
    assert b.created_at is None
    assert [x.domain for x in leads] == ["acme.com", None, "gamma.org"]
    assert [x.company_size for x in leads] == [12.0, None, 3.0]
    assert type(c.company_size) is float
    assert [x.industry for x in leads] == ["Retail", None, None]
    assert dict(a.attributes) == {
        "converted": True,
        "first_contact_at": datetime(2026, 1, 2),
        "demo_request": "yes",
        "score": 4,
        "rep_id": "r1",
        "source_row": 2,
    }
    assert type(a.attributes["score"]) is int
    assert type(a.attributes["source_row"]) is int
    assert dict(b.attributes) == {"demo_request": "", "score": 2.5, "source_row": 3}
    assert type(b.attributes["score"]) is float
    assert dict(c.attributes) == {"converted": False, "rep_id": "r2", "source_row": 4}
    assert leads == _leads_by_row(frame)
    for new, old in zip(leads, _leads_by_row(frame), strict=True):
        for name in (*Lead.__dataclass_fields__,):
            assert type(getattr(new, name)) is type(getattr(old, name)), name
        assert list(new.attributes.items()) == list(old.attributes.items())
        assert [type(v) for v in new.attributes.values()] == [
            type(v) for v in old.attributes.values()
        ]
    # a frame with a repeated column name is read row by row, as before
    twice = pd.concat([frame, frame[["x_demo_request"]]], axis=1)
    with pytest.warns(UserWarning, match="not unique"):  # pandas' to_dict, as before
        assert leads_from_frame(twice)[0].get("demo_request") == "yes"
