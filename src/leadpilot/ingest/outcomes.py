"""How each preset turns its status columns into outcomes (``converted``, ``closed_won``).

Each function takes the preset's string frame (canonical and ``_helper`` columns, ``""`` for
empty) and writes "true" / "false" / "" (open) text that the value parser then reads.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["copy_outcome", "derive_hubspot", "derive_maven", "derive_salesforce"]


def _status_outcome(text: pd.Series, converted: pd.Series) -> pd.Series:
    """Salesforce lead status -> converted where IsConverted does not already say yes."""
    status = text.str.strip().str.lower()
    out = converted.copy()
    is_converted = status.str.contains("converted") & ~status.str.contains("not converted")
    is_dead = status.str.contains(r"not converted|unqualified|disqualified|dead|junk|lost")
    is_open = status.str.contains(r"open|working|new|contacted|nurtur|attempt|progress")
    yes = converted.str.strip().str.lower().isin({"true", "1", "yes", "y"})
    out = out.mask(is_converted, "true")
    out = out.mask(is_dead & ~yes, "false")
    out = out.mask(is_open & ~yes & ~is_dead, "")  # still being worked: outcome unknown yet
    return out


def derive_salesforce(df: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """IsConverted, else a converted opportunity id, else the lead Status; an opportunity
    stage "Closed Won"/"Closed Lost" fills closed_won when IsWon is absent."""
    if "_opportunity_id" in df:
        has_opp = df["_opportunity_id"].str.strip() != ""
        df["converted"] = df["converted"].mask(
            has_opp & (df["converted"].str.strip() == ""), "true"
        )
    if "_status" in df:
        df["converted"] = _status_outcome(df["_status"], df["converted"])
    if "_stage" in df:
        stage = df["_stage"].str.strip().str.lower()
        empty = df["closed_won"].str.strip() == ""
        df["closed_won"] = df["closed_won"].mask(empty & (stage == "closed won"), "true")
        df["closed_won"] = df["closed_won"].mask(empty & (stage == "closed lost"), "false")
    return df


_HS_CONVERTED = {"opportunity", "customer", "evangelist"}
_HS_WON = {"customer", "evangelist"}
_HS_OPEN_STATUS = {"new", "open", "in progress", "attempted to contact", "connected", "open deal"}


def derive_hubspot(df: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Lifecycle stage opportunity/customer/evangelist = converted, customer/evangelist = won;
    earlier stages are open while the Lead Status is an open one, else not converted."""
    stage = df["_lifecycle"].str.strip().str.lower().str.replace(" ", "", regex=False)
    status = (
        df["_lead_status"].str.strip().str.lower()
        if "_lead_status" in df
        else pd.Series("", index=df.index)
    )
    known = stage != ""
    converted = stage.isin(_HS_CONVERTED)
    open_lead = ~converted & status.isin(_HS_OPEN_STATUS)
    df["converted"] = "false"
    df.loc[converted, "converted"] = "true"
    df.loc[open_lead | ~known, "converted"] = ""
    if "converted_at" in df:  # "Became an Opportunity Date" set means it did convert
        df.loc[df["converted_at"].str.strip() != "", "converted"] = "true"
    df["closed_won"] = ""
    df.loc[stage.isin(_HS_WON), "closed_won"] = "true"
    if "_lead_status" not in df:
        warnings.append(
            "hubspot: no 'Lead Status' column, so every contact before the opportunity stage "
            "is counted as not converted (none as still open)"
        )
    return df


_MAVEN_STAGE = {"won": "true", "lost": "false"}


def derive_maven(df: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """deal_stage Won = converted and won, Lost = neither, Engaging/Prospecting = open."""
    outcome = df["_deal_stage"].str.strip().str.lower().map(_MAVEN_STAGE).fillna("")
    df["converted"] = outcome
    df["closed_won"] = outcome
    df["converted_at"] = df["closed_at"].where(outcome == "true", "")
    return df


def copy_outcome(df: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """One outcome column only (bank marketing's y): won is the same as converted."""
    df["closed_won"] = df["converted"]
    return df
