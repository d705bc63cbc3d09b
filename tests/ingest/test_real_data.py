"""The presets on the real public data sets, checked against independent pandas reads."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from leadpilot.ingest import read_history

DATA = Path(os.environ["LEADPILOT_DATA_DIR"])
MAVEN = DATA / "maven-crm-sales-opportunities"
OLIST = DATA / "olist-marketing-funnel"
XED = DATA / "x-education-lead-scoring" / "Leads.csv"
BANK = DATA / "uci-bank-marketing" / "bank-additional-full.csv"

pytestmark = pytest.mark.shared_data(
    MAVEN.name, OLIST.name, XED.relative_to(DATA).as_posix(), BANK.relative_to(DATA).as_posix()
)


def test_maven_folder_against_pandas() -> None:
    result = read_history(MAVEN)
    frame = result.frame
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    accounts = pd.read_csv(MAVEN / "accounts.csv")
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    assert result.format == "maven-crm"
    assert result.n_read == len(frame) == 8800
    closed = frame["closed_won"].notna()
    assert int(closed.sum()) == 6711 == int(pipeline["deal_stage"].isin(["Won", "Lost"]).sum())
    assert int(frame["closed_won"].sum()) == 4238
    assert int(frame["converted"].sum()) == 4238  # Won = converted and won
    assert frame["rep_id"].nunique() == pipeline["sales_agent"].nunique() == 30
    # firmographics joined per opportunity, with the documented fixes
    merged = pipeline.merge(accounts, on="account", how="left").merge(teams, on="sales_agent")
    merged = merged.set_index("opportunity_id").loc[frame["lead_id"]]
    assert (frame["company_size"].fillna(-1).to_numpy() == merged["employees"].fillna(-1)).all()
    revenue = (merged["revenue"] * 1e6).fillna(-1).to_numpy()
    assert frame["annual_revenue"].fillna(-1).to_numpy() == pytest.approx(revenue)
    assert (frame["region"].to_numpy() == merged["regional_office"].to_numpy()).all()
    assert "technolgy" not in set(frame["industry"].dropna())
    assert int((frame["industry"] == "technology").sum()) == int(
        (merged["sector"] == "technolgy").sum()
    )
    assert "GTXPro" not in set(frame["product"])
    assert int((frame["product"] == "GTX Pro").sum()) == int(
        (pipeline["product"] == "GTXPro").sum()
    )
    # open deals: no outcome; dates as in the file
    stage = pipeline.set_index("opportunity_id").loc[frame["lead_id"], "deal_stage"].to_numpy()
    assert frame["converted"][(stage == "Engaging") | (stage == "Prospecting")].isna().all()
    assert frame["created_at"].min() == pd.Timestamp("2016-10-20", tz="UTC")
    assert frame["closed_at"].max() == pd.Timestamp("2017-12-31", tz="UTC")
    assert int(frame["created_at"].isna().sum()) == 500  # Prospecting deals have no date


def test_maven_pipeline_file_is_detected_too() -> None:
    result = read_history(MAVEN / "sales_pipeline.csv")
    assert result.format == "maven-crm"
    assert result.frame["region"].notna().all()  # sales_teams.csv found beside it


def test_olist_join() -> None:
    result = read_history(OLIST)
    frame = result.frame
    deals = pd.read_csv(OLIST / "olist_closed_deals_dataset.csv")
    assert result.format == "olist"
    assert len(frame) == 8000
    assert int(frame["converted"].sum()) == len(deals) == 842
    assert frame["rep_id"].notna().sum() == deals["sdr_id"].notna().sum()
    assert frame.loc[frame["rep_id"].notna(), "converted"].all()
    assert any("only for won leads" in w for w in result.warnings)
    # the README's one deal won 2 days before its first contact
    assert "1 row(s) have closed_at before created_at" in " ".join(result.warnings)
    won_at = frame.set_index("lead_id").loc[deals["mql_id"], "closed_at"]
    assert (won_at.to_numpy() == pd.to_datetime(deals["won_date"], utc=True).to_numpy()).all()


def test_x_education() -> None:
    result = read_history(XED)
    raw = pd.read_csv(XED)
    frame = result.frame
    assert result.format == "x-education"
    assert len(frame) == 9240
    assert int(frame["converted"].sum()) == int(raw["Converted"].sum()) == 3561
    assert frame["rep_id"].isna().all()
    # 'Select' means "not chosen": it becomes missing
    expected_missing = int(
        (raw["Specialization"].isna() | (raw["Specialization"] == "Select")).sum()
    )
    assert int(frame["industry"].isna().sum()) == expected_missing
    assert "Select" not in set(frame["industry"].dropna())


def test_bank_marketing_semicolons_and_generated_ids() -> None:
    result = read_history(BANK)
    raw = pd.read_csv(BANK, sep=";")
    frame = result.frame
    assert result.format == "bank-marketing"
    assert len(frame) == 41188
    assert int(frame["converted"].sum()) == int((raw["y"] == "yes").sum()) == 4640
    assert frame["lead_id"].iloc[0] == "row-2"
    assert frame["lead_id"].is_unique
    assert (frame["industry"].to_numpy() == raw["job"].to_numpy()).all()
