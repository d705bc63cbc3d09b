"""Column-mapping presets: which source headers mean which canonical column, per CRM export.

A preset maps source headers (compared case- and punctuation-insensitively, so ``Lead Source``,
``LeadSource`` and ``lead_source`` are one header) onto canonical columns, plus a few helper
columns (names starting with ``_``) that its ``derive`` step turns into outcomes. Presets are
auto-detected from the headers or chosen by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, process

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest import outcomes, public_sets
from leadpilot.ingest.readers import RawTable, read_table
from leadpilot.schema import HISTORY_COLUMNS

__all__ = [
    "PRESETS",
    "Preset",
    "detect_preset",
    "get_preset",
    "header_key",
    "load_source",
    "resolve_columns",
]

Derive = Callable[[pd.DataFrame, list[str]], pd.DataFrame]


def header_key(header: str) -> str:
    """Comparison key of a header: lower-case letters and digits (``Lead_ID`` -> ``leadid``)."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass(frozen=True)
class Preset:
    """One source format. ``columns`` maps a target (canonical or ``_helper``) column to the
    source header spellings that fill it; ``required`` lists targets that must be present;
    ``signature`` holds header keys of which at least one must appear for auto-detection."""

    name: str
    description: str
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...] = ("lead_id",)
    signature: frozenset[str] = frozenset()
    missing_tokens: frozenset[str] = frozenset()
    generated_ids: bool = False
    derive: Derive | None = None
    derives: tuple[str, ...] = ()  # canonical columns ``derive`` may fill
    load: Callable[[Path], RawTable] | None = None
    folder_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


_CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    c: (c,) for c in HISTORY_COLUMNS if c not in {"domain", "size_band"}
}
_CANONICAL_COLUMNS["domain"] = ("domain",)
_CANONICAL_COLUMNS["company_size"] = ("company_size", "size_band", "employees")
_CANONICAL_COLUMNS["_website"] = ("website",)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="canonical",
        description="leadpilot's own column names (lead_id, created_at, rep_id, converted, ...)",
        columns=_CANONICAL_COLUMNS,
        signature=frozenset({"leadid", "repid", "createdat", "closedwon", "firstcontactat"}),
    ),
    Preset(
        name="seed-prompt",
        description="Lead_ID, Lead_Source, Industry, Company_Size, Assigned_Rep, "
        "Time_to_Contact_Hours, Converted_to_Opp, Closed_Won (no dates: file order = time)",
        columns={
            "lead_id": ("Lead_ID",),
            "source": ("Lead_Source",),
            "industry": ("Industry",),
            "company_size": ("Company_Size",),
            "rep_id": ("Assigned_Rep",),
            "time_to_contact_hours": ("Time_to_Contact_Hours",),
            "converted": ("Converted_to_Opp",),
            "closed_won": ("Closed_Won",),
        },
        required=(
            "lead_id",
            "source",
            "industry",
            "company_size",
            "rep_id",
            "time_to_contact_hours",
            "converted",
            "closed_won",
        ),
        signature=frozenset({"assignedrep", "convertedtoopp", "timetocontacthours"}),
        notes=("no dates in this format: file order stands for time",),
    ),
    Preset(
        name="salesforce",
        description="Salesforce Lead export or report (API names like IsConverted, or report "
        "headers like Lead Owner, Converted, Created Date)",
        columns={
            "lead_id": ("Id", "Lead ID", "Lead Id", "LeadId"),
            "created_at": ("CreatedDate", "Created Date", "Create Date"),
            "email": ("Email",),
            "company": ("Company", "Company / Account", "Account Name"),
            "source": ("LeadSource", "Lead Source"),
            "industry": ("Industry",),
            "company_size": ("NumberOfEmployees", "No. of Employees", "Employees"),
            "annual_revenue": ("AnnualRevenue", "Annual Revenue"),
            "region": ("Region", "Territory"),
            "country": ("Country", "CountryCode", "Country Code"),
            "state": ("State", "State/Province", "StateCode", "State Code"),
            "product": ("Product Interest", "ProductInterest__c", "Product"),
            "engagement_score": ("Lead Score", "Score"),
            "title": ("Title",),
            "language": ("Language",),
            "rep_id": ("OwnerId", "Lead Owner", "Owner", "Owner Name", "Lead Owner ID"),
            "first_contact_at": ("First Contact Date", "FirstContactDate", "First_Contact_Date__c"),
            "converted": ("IsConverted", "Converted"),
            "converted_at": ("ConvertedDate", "Converted Date"),
            "closed_won": ("IsWon", "Won", "Opportunity Won"),
            "closed_at": ("CloseDate", "Close Date", "Opportunity Close Date"),
            "deal_value": ("Amount", "Opportunity Amount"),
            "_opportunity_id": (
                "ConvertedOpportunityId",
                "Converted Opportunity ID",
                "Converted Opportunity",
            ),
            "_status": ("Status", "Lead Status"),
            "_stage": ("StageName", "Stage", "Opportunity Stage"),
            "_website": ("Website",),
        },
        signature=frozenset(
            {
                "id",
                "leadid",
                "isconverted",
                "leadowner",
                "ownerid",
                "createddate",
                "leadstatus",
                "convertedopportunityid",
                "converteddate",
            }
        ),
        derive=outcomes.derive_salesforce,
        derives=("converted", "closed_won"),
        notes=(
            "converted: IsConverted/Converted, else a converted opportunity id, else Status "
            "('Closed - Converted' = yes, 'Closed - Not Converted'/Unqualified = no, "
            "Open/Working/Nurturing = still open)",
        ),
    ),
    Preset(
        name="hubspot",
        description="HubSpot contacts export (Record ID, Create Date, Contact owner, "
        "Lifecycle Stage, ...)",
        columns={
            "lead_id": ("Record ID", "Contact ID", "Record ID - Contact"),
            "created_at": ("Create Date", "Created Date", "Create date"),
            "email": ("Email",),
            "company": ("Company Name", "Company", "Associated Company"),
            "source": ("Original Source", "Original Source Type", "Lead Source"),
            "industry": ("Industry",),
            "company_size": ("Number of Employees", "Company size", "Employees"),
            "annual_revenue": ("Annual Revenue",),
            "country": ("Country/Region", "Country"),
            "state": ("State/Region", "State"),
            "title": ("Job Title",),
            "language": ("Preferred language",),
            "engagement_score": ("HubSpot Score", "Lead Score"),
            "rep_id": ("Contact owner", "HubSpot Owner", "Owner"),
            "first_contact_at": ("Date of first engagement", "First Engagement Date"),
            "converted_at": ("Became an Opportunity Date",),
            "closed_at": ("Became a Customer Date",),
            "_lifecycle": ("Lifecycle Stage",),
            "_lead_status": ("Lead Status",),
            "_website": ("Website URL", "Website"),
        },
        required=("lead_id", "_lifecycle"),
        signature=frozenset({"recordid", "lifecyclestage", "contactowner", "originalsource"}),
        derive=outcomes.derive_hubspot,
        derives=("converted", "closed_won"),
        notes=(
            "lifecycle stage opportunity/customer/evangelist = converted; customer/evangelist = "
            "won; earlier stages are open when Lead Status is New/Open/In Progress/Attempted "
            "to Contact/Connected/Open Deal, otherwise not converted",
        ),
    ),
    Preset(
        name="maven-crm",
        description="Maven Analytics CRM Sales Opportunities folder (sales_pipeline.csv + "
        "accounts.csv + sales_teams.csv + products.csv)",
        columns={
            "lead_id": ("opportunity_id",),
            "rep_id": ("sales_agent",),
            "product": ("product",),
            "company": ("account",),
            "industry": ("sector",),
            "company_size": ("employees",),
            "annual_revenue": ("revenue_usd",),
            "country": ("office_location",),
            "region": ("regional_office",),
            "created_at": ("engage_date",),
            "closed_at": ("close_date",),
            "deal_value": ("close_value",),
            "_deal_stage": ("deal_stage",),
        },
        required=("lead_id", "rep_id", "_deal_stage"),
        signature=frozenset({"opportunityid", "salesagent", "dealstage"}),
        derive=outcomes.derive_maven,
        derives=("converted", "closed_won", "converted_at"),
        load=public_sets.load_maven,
        folder_files=("sales_pipeline.csv",),
        notes=(
            "one opportunity = one row; Won = converted and won, Lost = neither, "
            "Engaging/Prospecting = open; created_at = engage_date",
        ),
    ),
    Preset(
        name="x-education",
        description="X Education Leads.csv (Prospect ID, Lead Number, Lead Origin, "
        "Converted 0/1; no rep, no dates)",
        columns={
            "lead_id": ("Lead Number",),
            "external_id": ("Prospect ID",),
            "source": ("Lead Source",),
            "industry": ("Specialization",),
            "country": ("Country",),
            "converted": ("Converted",),
        },
        required=("lead_id", "converted"),
        signature=frozenset({"prospectid", "leadnumber", "leadorigin"}),
        missing_tokens=frozenset({"select"}),
        notes=("'Select' means the form field was left empty", "no rep column and no dates"),
    ),
    Preset(
        name="olist",
        description="Olist marketing funnel: MQL file joined with closed deals (won = converted)",
        columns={
            "lead_id": ("mql_id",),
            "created_at": ("first_contact_date",),
            "source": ("origin",),
            "rep_id": ("sdr_id",),
            "converted": ("won",),
            "closed_won": ("won",),
            "converted_at": ("won_date",),
            "closed_at": ("won_date",),
        },
        required=("lead_id", "created_at"),
        signature=frozenset({"mqlid", "landingpageid"}),
        load=public_sets.load_olist,
        folder_files=("olist_marketing_qualified_leads_dataset.csv",),
        notes=(
            "rep (sdr_id), segment and lead type exist only for won leads: per-rep conversion "
            "cannot be learned from this data",
        ),
    ),
    Preset(
        name="bank-marketing",
        description="UCI bank marketing (';'-separated, y = subscribed; no id, rep or dates)",
        columns={"converted": ("y",), "industry": ("job",), "source": ("contact",)},
        required=("converted",),
        signature=frozenset({"pdays", "poutcome", "euribor3m"}),
        generated_ids=True,
        derive=outcomes.copy_outcome,
        derives=("closed_won",),
        notes=("no lead id: ids are generated from the row number (row-2, row-3, ...)",),
    ),
)

_BY_NAME = {p.name: p for p in PRESETS}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``; ``ConfigError`` lists the allowed names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        allowed = ", ".join(_BY_NAME)
        raise ConfigError(
            f"unknown format {name!r}; allowed: {allowed}",
            hint="leave --format out to detect it from the headers",
            details={"format": name, "allowed": list(_BY_NAME)},
        ) from None


def _matches(preset: Preset, headers: list[str]) -> dict[str, str]:
    """Target column -> source header, for the headers this preset recognises."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(header_key(header), header)
    found: dict[str, str] = {}
    for target, spellings in preset.columns.items():
        for spelling in spellings:
            hit = by_key.get(header_key(spelling))
            if hit is not None:
                found[target] = hit
                break
    return found


def detect_preset(headers: list[str], path: Path | None = None) -> Preset:
    """Pick the preset whose signature appears and that recognises the most headers."""
    keys = {header_key(h) for h in headers}
    best: tuple[int, Preset] | None = None
    for preset in PRESETS:
        if not preset.signature & keys:
            continue
        score = len(set(_matches(preset, headers).values()))
        if best is None or score > best[0]:
            best = (score, preset)
    if best is None:
        where = path.name if path else "the file"
        shown = ", ".join(headers[:15]) + (", ..." if len(headers) > 15 else "")
        suggestion = _closest(["lead_id", "Lead_ID", "Id", "Record ID"], headers)
        did_you_mean = f" (did you mean {suggestion!r} for the lead id?)" if suggestion else ""
        raise DataValidationError(
            f"cannot tell which export {where} is: no known lead id or CRM column among its "
            f"columns ({shown}){did_you_mean}",
            hint="rename the columns to leadpilot's canonical names (lead_id, rep_id, "
            "converted, ...) or pass --format with one of: " + ", ".join(_BY_NAME),
            details={"columns": headers, "kind": "unknown_format"},
        )
    return best[1]


def _closest(spellings: list[str], headers: list[str]) -> str | None:
    choices = {h: header_key(h) for h in headers}
    best: tuple[str, float] | None = None
    for spelling in spellings:
        hit = process.extractOne(header_key(spelling), choices, scorer=fuzz.ratio, score_cutoff=70)
        if hit is not None and (best is None or hit[1] > best[1]):
            best = (hit[2], hit[1])
    return best[0] if best else None


def near_misses(preset: Preset, headers: list[str], mapping: Mapping[str, str]) -> list[str]:
    """Warnings for unmapped headers that look like a misspelt column of the preset
    ("Industy" -> "Industry"), which would otherwise be ignored without a word."""
    used = set(mapping.values())
    open_targets = [t for t in preset.columns if t not in mapping]
    choices = {
        (target, spelling): header_key(spelling)
        for target in open_targets
        for spelling in preset.columns[target]
    }
    notes = []
    for header in headers:
        if header in used or len(header_key(header)) < 4:
            continue
        hit = process.extractOne(header_key(header), choices, scorer=fuzz.ratio, score_cutoff=85)
        if hit is not None:
            target, spelling = hit[2]
            notes.append(
                f"column {header!r} was not used: did you mean {spelling!r} "
                f"({target.lstrip('_')})? Rename it to have it read"
            )
    return notes


def resolve_columns(preset: Preset, headers: list[str], path: Path) -> dict[str, str]:
    """Map target columns to source headers; a missing required column is an error naming
    the column, the columns found and the closest header."""
    found = _matches(preset, headers)
    for target in preset.required:
        if target in found:
            continue
        wanted = preset.columns[target][0]
        used = set(found.values())
        suggestion = _closest(list(preset.columns[target]), [h for h in headers if h not in used])
        did_you_mean = f"; did you mean {suggestion!r}?" if suggestion else ""
        shown = ", ".join(headers[:20]) + (", ..." if len(headers) > 20 else "")
        raise DataValidationError(
            f"required column {wanted!r} is missing from {path.name} "
            f"({preset.name} format){did_you_mean} Columns found: {shown}",
            hint=(
                f"rename {suggestion!r} to {wanted!r}"
                if suggestion
                else f"add a {wanted!r} column, or pass --format to pick another format"
            ),
            details={
                "column": wanted,
                "columns": headers,
                "suggestion": suggestion,
                "format": preset.name,
                "kind": "missing_column",
            },
        )
    return found


def load_source(source: Path | str, format: str | None = None) -> tuple[RawTable, Preset]:
    """Read ``source`` (a file, or a folder for maven-crm / olist) with its preset."""
    path = Path(source)
    preset = get_preset(format) if format is not None else None
    if path.is_dir():
        candidates = [preset] if preset else [p for p in PRESETS if p.folder_files]
        for candidate in candidates:
            if candidate.load and all((path / f).exists() for f in candidate.folder_files):
                return candidate.load(path), candidate
        raise DataValidationError(
            f"{path} is a folder but holds none of the files leadpilot reads from a folder "
            "(maven-crm: sales_pipeline.csv; olist: olist_marketing_qualified_leads_dataset.csv)",
            hint="pass the CSV file itself rather than its folder",
            details={"path": str(path), "kind": "folder"},
        )
    raw = read_table(path)
    if preset is None:
        preset = detect_preset(list(raw.frame.columns), path)
    if preset.load is not None:
        return preset.load(path), preset
    return raw, preset
