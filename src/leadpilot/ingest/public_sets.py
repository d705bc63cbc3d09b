"""Loaders for the public multi-file data sets: Maven CRM opportunities and the Olist funnel.

Each joins its lookup files onto the main file and returns one :class:`RawTable` whose rows
are the main file's rows (row numbers and rejected rows refer to that file).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from leadpilot.ingest.readers import RawTable, read_table

__all__ = ["MAVEN_PRODUCT_FIXES", "MAVEN_SECTOR_FIXES", "load_maven", "load_olist"]

# Spelling differences documented in the data set's README.
MAVEN_PRODUCT_FIXES = {"GTXPro": "GTX Pro"}
MAVEN_SECTOR_FIXES = {"technolgy": "technology"}


def _folder_and_main(source: Path, main_name: str) -> tuple[Path, Path]:
    if source.is_dir():
        return source, source / main_name
    return source.parent, source


def _left_join(left: pd.DataFrame, right: pd.DataFrame, on: str) -> pd.DataFrame:
    right = right.drop_duplicates(subset=on, keep="first")
    joined = left.merge(right, how="left", on=on, suffixes=("", "_lookup"), validate="m:1")
    return joined.fillna("")


def load_maven(source: Path) -> RawTable:
    """Read the Maven CRM folder (or its ``sales_pipeline.csv``) as one row per opportunity.

    Joins ``accounts.csv`` (sector, employees, revenue, office_location) on ``account`` and
    ``sales_teams.csv`` (manager, regional_office) on ``sales_agent``; fixes the product and
    sector spellings; adds ``revenue_usd`` (the ``revenue`` column is in USD millions).
    """
    folder, main = _folder_and_main(source, "sales_pipeline.csv")
    table = read_table(main)
    frame = table.frame.copy()
    notes: list[str] = []
    frame["product"] = frame["product"].replace(MAVEN_PRODUCT_FIXES)
    accounts_path = folder / "accounts.csv"
    if accounts_path.exists():
        accounts = read_table(accounts_path).frame
        accounts["sector"] = accounts["sector"].replace(MAVEN_SECTOR_FIXES)
        millions = pd.to_numeric(accounts["revenue"].str.replace(",", ""), errors="coerce")
        accounts["revenue_usd"] = (millions * 1e6).map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
        frame = _left_join(frame, accounts, "account")
    else:
        notes.append("maven-crm: accounts.csv not found next to the pipeline: no firmographics")
    teams_path = folder / "sales_teams.csv"
    if teams_path.exists():
        frame = _left_join(frame, read_table(teams_path).frame, "sales_agent")
    else:
        notes.append("maven-crm: sales_teams.csv not found: no regions")
    return replace(table, frame=frame, notes=tuple(notes))


def load_olist(source: Path) -> RawTable:
    """Read the Olist MQL file joined with the closed-deals file on ``mql_id``.

    Adds ``won`` ("yes" for MQLs found among the closed deals, else "no"); the closed-deal
    columns (sdr_id, sr_id, won_date, business_segment, lead_type, ...) are empty otherwise.
    """
    folder, main = _folder_and_main(source, "olist_marketing_qualified_leads_dataset.csv")
    table = read_table(main)
    frame = table.frame.copy()
    deals_path = folder / "olist_closed_deals_dataset.csv"
    notes = [
        "olist: sdr_id (the rep), business_segment and lead_type exist only for won leads, "
        "so per-rep conversion rates are 100% by construction and must not be learned from"
    ]
    if deals_path.exists():
        deals = read_table(deals_path).frame
        frame = _left_join(frame, deals, "mql_id")
        frame["won"] = frame["mql_id"].isin(set(deals["mql_id"])).map({True: "yes", False: "no"})
    else:
        notes.append("olist: olist_closed_deals_dataset.csv not found: outcomes unknown")
        frame["won"] = ""
        frame["won_date"] = ""
        frame["sdr_id"] = ""
    return replace(table, frame=frame, notes=tuple(notes))
