"""Every preset on small fixture files: detection, mapping and normalised values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadpilot.errors import ConfigError
from leadpilot.ingest import read_history
from leadpilot.schema import HISTORY_COLUMNS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"


def _read(name: str, **kwargs: object) -> pd.DataFrame:
    result = read_history(FIXTURES / name, **kwargs)  # type: ignore[arg-type]
    return result.frame.set_index("lead_id")


@pytest.mark.parametrize(
    ("name", "preset"),
    [
        ("seed_prompt.csv", "seed-prompt"),
        ("salesforce_api.csv", "salesforce"),
        ("salesforce_report.csv", "salesforce"),
        ("hubspot_contacts.csv", "hubspot"),
        ("canonical.csv", "canonical"),
    ],
)
def test_detected_preset_and_canonical_shape(name: str, preset: str) -> None:
    result = read_history(FIXTURES / name)
    assert result.format == preset
    assert list(result.frame.columns) == [*HISTORY_COLUMNS, "source_row"]
    frame = result.frame
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["converted"].dtype) == "boolean"
    assert frame["company_size"].dtype == "float64"
    assert frame["lead_id"].dtype == object
    assert result.rejects == []
    assert result.n_read == len(frame)


def test_seed_prompt_values() -> None:
    frame = _read("seed_prompt.csv")
    assert frame.loc["L001", "company_size"] == 125.5
    assert frame.loc["L001", "size_band"] == "51-200"
    assert frame.loc["L002", "company_size"] == 2000.0  # "1000+" -> 2 x 1000
    assert frame.loc["L002", "size_band"] == "1001-5000"
    assert frame.loc["L003", "size_band"] == "5000+"  # "10,001+"
    assert frame.loc["L004", "company_size"] == 5.5  # "1 to 10"
    assert frame.loc["L005", "time_to_contact_hours"] == 1200.0  # "1,200"
    assert frame["converted"].tolist() == [True, False, True, False, True, True]
    assert frame["closed_won"].tolist() == [True, False, False, False, False, False]
    assert frame["rep_id"].tolist() == ["Alice", "Bob", "Alice", "Carol", "Bob", "Carol"]
    assert frame["created_at"].isna().all()
    assert frame["source_row"].tolist() == [2, 3, 4, 5, 6, 7]


def test_salesforce_api_export() -> None:
    frame = _read("salesforce_api.csv")
    assert frame.loc["00Q1", "email"] == "jane@acme.com"
    assert frame.loc["00Q1", "domain"] == "acme.com"
    assert frame.loc["00Q2", "domain"] is None  # gmail.com is not a company domain
    assert frame.loc["00Q1", "annual_revenue"] == 5_000_000.0
    assert frame.loc["00Q3", "annual_revenue"] == 1_200_000.0  # "1.2M"
    # -0500 offset converted to UTC: 17:45 local = 22:45 UTC
    assert frame.loc["00Q3", "created_at"] == pd.Timestamp("2024-02-10 22:45", tz="UTC")
    assert frame.loc["00Q1", "converted"]
    assert not frame.loc["00Q2", "converted"]
    assert pd.isna(frame.loc["00Q3", "converted"])  # Working - Contacted: still open
    assert frame.loc["00Q1", "converted_at"] == pd.Timestamp("2024-01-20", tz="UTC")
    assert frame.loc["00Q1", "rep_id"] == "005A"


def test_salesforce_report_headers_and_us_dates() -> None:
    result = read_history(FIXTURES / "salesforce_report.csv")
    frame = result.frame.set_index("lead_id")
    assert result.mapping["rep_id"] == "Lead Owner"
    assert result.mapping["source"] == "Lead Source"
    assert frame.loc["00Q1", "created_at"] == pd.Timestamp("2024-03-15", tz="UTC")
    assert frame.loc["00Q3", "created_at"] == pd.Timestamp("2024-12-01", tz="UTC")
    assert frame.loc["00Q1", "company_size"] == 1200.0
    assert frame.loc["00Q1", "annual_revenue"] == 12_500_000.0
    assert frame["converted"].tolist()[:2] == [True, False]
    assert pd.isna(frame.loc["00Q3", "converted"])  # Open - Not Contacted
    assert any("month-first" in w for w in result.warnings)


def test_hubspot_lifecycle_stages() -> None:
    frame = _read("hubspot_contacts.csv")
    assert frame.loc["101", "converted"]
    assert frame.loc["101", "closed_won"]
    assert frame.loc["102", "converted"]
    assert pd.isna(frame.loc["102", "closed_won"])
    assert pd.isna(frame.loc["103", "converted"])  # Lead with status New: open
    assert not frame.loc["104", "converted"]  # MQL, Unqualified
    assert not frame.loc["104", "closed_won"]
    assert frame.loc["102", "domain"] == "contoso.com"  # from https://www.contoso.com
    assert frame.loc["103", "domain"] is None  # yahoo.com
    assert frame.loc["101", "closed_at"] == pd.Timestamp("2024-04-01 12:00", tz="UTC")
    assert frame.loc["101", "rep_id"] == "Kim Park"


def test_canonical_time_to_contact_and_zones() -> None:
    frame = _read("canonical.csv", keep_extra=True)
    assert frame.loc["C1", "time_to_contact_hours"] == 2.5
    assert frame.loc["C2", "created_at"] == pd.Timestamp("2024-05-02 06:00", tz="UTC")
    assert frame.loc["C3", "created_at"] == pd.Timestamp("2024-05-03 12:00", tz="UTC")
    assert frame.loc["C1", "deal_value"] == 12000.0
    assert frame.loc["C1", "email"] == "a@x.com"
    assert frame["x_demo_request"].tolist() == ["yes", "no", None]
    assert not frame.loc["C2", "closed_won"]  # not converted implies not won


def test_naive_times_in_a_given_timezone() -> None:
    frame = _read("canonical.csv", timezone="Europe/Paris")
    # naive 12:00 in Paris (CEST, +02:00) is 10:00 UTC; zoned values are unaffected
    assert frame.loc["C3", "created_at"] == pd.Timestamp("2024-05-03 10:00", tz="UTC")
    assert frame.loc["C1", "created_at"] == pd.Timestamp("2024-05-01 08:00", tz="UTC")


def test_format_can_be_forced_and_unknown_format_lists_allowed() -> None:
    assert read_history(FIXTURES / "seed_prompt.csv", format="seed-prompt").format == "seed-prompt"
    with pytest.raises(ConfigError, match=r"unknown format 'sf'; allowed: canonical, seed-prompt"):
        read_history(FIXTURES / "seed_prompt.csv", format="sf")


def test_salesforce_outcome_without_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "sf.csv"
    path.write_text(
        "Id,OwnerId,Status,ConvertedOpportunityId,StageName\n"
        "1,o1,Closed - Converted,006A,Closed Won\n"
        "2,o1,Qualified,006B,Closed Lost\n"
        "3,o2,Closed - Not Converted,,\n"
        "4,o2,Nurturing,,\n"
        "5,o2,Unqualified,,\n",
        encoding="utf-8",
    )
    frame = read_history(path).frame.set_index("lead_id")
    assert frame["converted"].tolist()[:3] == [True, True, False]
    assert pd.isna(frame.loc["4", "converted"])
    assert not frame.loc["5", "converted"]
    assert frame.loc["1", "closed_won"]
    assert not frame.loc["2", "closed_won"]


def test_hubspot_without_lead_status_says_so(tmp_path: Path) -> None:
    path = tmp_path / "hs.csv"
    path.write_text(
        "Record ID,Contact owner,Lifecycle Stage\n1,Kim,Lead\n2,Kim,Customer\n3,Lou,\n",
        encoding="utf-8",
    )
    result = read_history(path)
    assert result.frame["converted"].tolist()[:2] == [False, True]
    assert pd.isna(result.frame["converted"].iloc[2])  # no stage: unknown
    assert any("no 'Lead Status' column" in w for w in result.warnings)


def test_hubspot_requires_lifecycle_stage(tmp_path: Path) -> None:
    path = tmp_path / "hs.csv"
    path.write_text("Record ID,Contact owner,Lifecycle Stag\n1,Kim,Lead\n", encoding="utf-8")
    with pytest.raises(
        Exception, match=r"'Lifecycle Stage' is missing.*did you mean 'Lifecycle Stag'"
    ):
        read_history(path)


def test_na_is_a_region_not_a_blank(tmp_path: Path) -> None:
    """'NA' (North America, Namibia) is a value in place columns, a blank elsewhere."""
    path = tmp_path / "na.csv"
    path.write_text("lead_id,region,country,industry\nL1,NA,NA,NA\nL2,EMEA,FR,Retail\n")
    frame = read_history(path).frame
    assert frame["region"].tolist() == ["NA", "EMEA"]
    assert frame["country"].tolist() == ["NA", "FR"]
    assert frame["industry"].tolist() == [None, "Retail"]
