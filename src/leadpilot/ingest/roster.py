"""Rep rosters and account lists: read them into canonical frames and typed records.

Also ``leads_from_frame``, the bridge from a canonical history/lead frame to ``Lead`` records.
Rosters are small and hand-kept, so any bad value raises (listing up to 5 of them) rather
than being skipped: routing with half a roster is worse than not routing.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from leadpilot.errors import DataValidationError
from leadpilot.ingest.identity import company_domain, domain_from_url, normalize_email
from leadpilot.ingest.presets import header_key
from leadpilot.ingest.readers import RawTable, read_table
from leadpilot.ingest.values import parse_bool_column, parse_date_column, parse_number_column
from leadpilot.schema import ACCOUNT_COLUMNS, HISTORY_COLUMNS, REP_COLUMNS, Account, Lead, Rep

__all__ = [
    "accounts_from_frame",
    "leads_from_frame",
    "read_accounts",
    "read_reps",
    "reps_from_frame",
]

_REP_ALIASES: dict[str, tuple[str, ...]] = {
    "rep_id": ("rep_id", "rep", "id", "user id", "owner id", "sales_agent", "agent"),
    "name": ("name", "full name", "rep name", "user"),
    "email": ("email", "e-mail"),
    "pool": ("pool", "team", "queue", "group"),
    "role": ("role", "title", "position"),
    "regions": ("regions", "region", "territory", "territories", "regional_office"),
    "industries": ("industries", "industry", "verticals", "vertical"),
    "products": ("products", "product"),
    "languages": ("languages", "language"),
    "max_leads_per_day": ("max_leads_per_day", "daily cap", "daily capacity"),
    "max_open_leads": ("max_open_leads", "open cap", "max open"),
    "timezone": ("timezone", "time zone", "tz"),
    "working_hours": ("working_hours", "hours", "business hours"),
    "active": ("active", "is active", "isactive", "enabled"),
    "start_date": ("start_date", "start date", "hire date", "started"),
    "backup_rep_id": ("backup_rep_id", "backup", "backup rep"),
}
_ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id", "account id", "id", "record id", "account"),
    "name": ("name", "account name", "company", "company name", "account"),
    "domain": ("domain", "website", "company domain", "website url"),
    "owner_rep_id": ("owner_rep_id", "owner", "account owner", "owner id", "ownerid"),
    "has_open_opportunity": ("has_open_opportunity", "open opportunity", "has open opp"),
    "last_touch_at": ("last_touch_at", "last activity", "last activity date", "last touch"),
    "tier": ("tier", "segment", "account tier"),
}
_LIST_COLUMNS = ("regions", "industries", "products", "languages")
_WORKING_HOURS = re.compile(
    r"^[A-Za-z]{3}(-[A-Za-z]{3})?(,\s*[A-Za-z]{3}(-[A-Za-z]{3})?)*\s+"
    r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}$"
)
_MAX_LISTED = 5


def _map(table: RawTable, aliases: Mapping[str, tuple[str, ...]], what: str) -> pd.DataFrame:
    by_key: dict[str, str] = {}
    for name in table.frame.columns:
        by_key.setdefault(header_key(name), name)
    out = pd.DataFrame(index=table.frame.index)
    for target, spellings in aliases.items():
        header = next((by_key[k] for s in spellings if (k := header_key(s)) in by_key), None)
        out[target] = table.frame[header].str.strip() if header else ""
    first = next(iter(aliases))
    if (out[first] == "").all():
        from rapidfuzz import fuzz, process

        hit = process.extractOne(
            first, list(table.frame.columns), scorer=fuzz.ratio, score_cutoff=60
        )
        did = f"; did you mean {hit[0]!r}?" if hit else ""
        raise DataValidationError(
            f"required column {first!r} is missing from {table.path.name} ({what}){did} "
            f"Columns found: {', '.join(table.frame.columns)}",
            hint=f"add a {first!r} column (one of: {', '.join(aliases[first])})",
            details={"column": first, "columns": list(table.frame.columns)},
        )
    return out


def _errors(table: RawTable, problems: list[tuple[int, str, str, str]], what: str) -> None:
    if not problems:
        return
    lines = "\n".join(
        f"  row {table.rows[i]}, column {c!r}: {v!r} {why}" for i, c, v, why in problems[:5]
    )
    more = f"\n  ... and {len(problems) - 5} more" if len(problems) > _MAX_LISTED else ""
    raise DataValidationError(
        f"{table.path.name}: {len(problems)} value(s) in the {what} cannot be used:\n{lines}{more}",
        hint=f"fix these values in the {what} file and run again",
        details={"kind": "bad_values", "count": len(problems)},
    )


def _as_list(text: str) -> str | None:
    items = [p.strip() for p in re.split(r"[;|]", text) if p.strip()]
    return ";".join(items) if items else None


def _maven_reps(table: RawTable) -> pd.DataFrame:
    frame = table.frame
    out = pd.DataFrame({c: pd.Series([None] * len(frame), dtype=object) for c in REP_COLUMNS})
    out["rep_id"] = frame["sales_agent"].str.strip().to_numpy()
    out["name"] = out["rep_id"]
    # Agents of one regional office form a routing pool; their office is their territory.
    out["pool"] = frame["regional_office"].str.strip().to_numpy()
    out["regions"] = out["pool"]
    out["role"] = "AE"  # agents own each opportunity through to close: an AE's job
    out["timezone"] = "UTC"
    out["active"] = pd.array([True] * len(frame), dtype="boolean")
    out["max_leads_per_day"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    out["max_open_leads"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    out["start_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    return out


def read_reps(source: Path | str, *, format: str | None = None) -> pd.DataFrame:
    """Read a rep roster (CSV/.xlsx with ``REP_COLUMNS`` or common spellings, or the
    maven-crm folder / its ``sales_teams.csv``) into a frame with exactly ``REP_COLUMNS``.

    Lists (regions, industries, products, languages) are ';'-joined strings; caps are
    ``Int64``; ``active`` is ``boolean`` (missing = active); ``start_date`` is
    ``datetime64[ns]``; ``timezone`` defaults to ``UTC`` and must be an IANA name.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "sales_teams.csv"
    table = read_table(path)
    keys = {header_key(h) for h in table.frame.columns}
    if format == "maven-crm" or {"salesagent", "regionaloffice"} <= keys:
        return _maven_reps(table)
    mapped = _map(table, _REP_ALIASES, "rep roster")
    problems: list[tuple[int, str, str, str]] = []
    out = pd.DataFrame(index=mapped.index)
    out["rep_id"] = mapped["rep_id"].where(mapped["rep_id"] != "", None)
    for i in np.flatnonzero(out["rep_id"].isna().to_numpy()).tolist():
        problems.append((i, "rep_id", "", "is empty: every rep needs an id"))
    for i in np.flatnonzero(out["rep_id"].duplicated() & out["rep_id"].notna()).tolist():
        problems.append((i, "rep_id", str(out["rep_id"].iat[i]), "appears twice in the roster"))
    for col in ("name", "pool", "role", "working_hours", "backup_rep_id"):
        out[col] = mapped[col].where(mapped[col] != "", None).astype(object)
    emails = mapped["email"].map(normalize_email)
    for i in np.flatnonzero((mapped["email"] != "") & emails.isna()).tolist():
        problems.append((i, "email", str(mapped["email"].iat[i]), "is not an email address"))
    out["email"] = emails.where(emails.notna(), None).astype(object)
    for col in _LIST_COLUMNS:
        out[col] = mapped[col].map(_as_list).astype(object)
    for col in ("max_leads_per_day", "max_open_leads"):
        parsed = parse_number_column(mapped[col], minimum=0)
        for i in np.flatnonzero(parsed.bad).tolist():
            problems.append((i, col, str(mapped[col].iat[i]), f"is not {parsed.expected}"))
        out[col] = parsed.values.round().astype("Int64")
    zones = mapped["timezone"].where(mapped["timezone"] != "", "UTC")
    for i, zone in enumerate(zones.tolist()):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((i, "timezone", zone, "is not an IANA time zone (e.g. Europe/Paris)"))
    out["timezone"] = zones.astype(object)
    for i in np.flatnonzero(out["working_hours"].notna()).tolist():
        if not _WORKING_HOURS.match(str(out["working_hours"].iat[i])):
            value = str(out["working_hours"].iat[i])
            problems.append((i, "working_hours", value, "is not like 'Mon-Fri 09:00-17:30'"))
    active = parse_bool_column(mapped["active"])
    for i in np.flatnonzero(active.bad).tolist():
        problems.append((i, "active", str(mapped["active"].iat[i]), f"is not {active.expected}"))
    out["active"] = active.values.fillna(True)
    start, _how = parse_date_column(mapped["start_date"])
    for i in np.flatnonzero(start.bad).tolist():
        problems.append((i, "start_date", str(mapped["start_date"].iat[i]), "is not a date"))
    out["start_date"] = start.values.dt.tz_localize(None)
    known = set(out["rep_id"].dropna())
    for i in np.flatnonzero(out["backup_rep_id"].notna()).tolist():
        if out["backup_rep_id"].iat[i] not in known:
            value = str(out["backup_rep_id"].iat[i])
            problems.append((i, "backup_rep_id", value, "is not a rep_id of this roster"))
    _errors(table, sorted(problems), "rep roster")
    optional = _optional_rep_columns(table)
    for col, values in optional.items():
        out[col] = values
    return out[[*REP_COLUMNS, *optional]].reset_index(drop=True)


# Optional roster columns the router reads (``Rep.segments``, ``Rep.seniority``) and the CRM
# connection reads (as rep attributes): kept, after ``REP_COLUMNS``, only when the file has them.
_OPTIONAL_REP_ALIASES: dict[str, tuple[str, ...]] = {
    "segments": ("segments", "segment", "tiers"),
    "seniority": ("seniority", "level", "seniority level"),
    # CRM user ids (owner write-back) and the rep's own notification webhook.
    "hubspot_owner_id": ("hubspot_owner_id", "hubspot owner id"),
    "salesforce_user_id": ("salesforce_user_id", "salesforce user id"),
    "notify_webhook_url": ("notify_webhook_url", "slack webhook url"),
}


def _optional_rep_columns(table: RawTable) -> dict[str, pd.Series]:
    by_key = {header_key(name): name for name in table.frame.columns}
    out: dict[str, pd.Series] = {}
    for target, spellings in _OPTIONAL_REP_ALIASES.items():
        header = next((by_key[k] for s in spellings if (k := header_key(s)) in by_key), None)
        if header is None:
            continue
        values = table.frame[header].fillna("").astype(str).str.strip()
        if target == "segments":
            out[target] = values.map(_as_list).astype(object)
        else:
            out[target] = values.where(values != "", None).astype(object)
    return out


def _maven_accounts(table: RawTable) -> pd.DataFrame:
    frame = table.frame
    out = pd.DataFrame(index=frame.index)
    out["account_id"] = frame["account"].str.strip()
    out["name"] = out["account_id"]
    out["domain"] = None
    out["owner_rep_id"] = None  # 8 to 30 agents work each account: no single owner
    pipeline_path = table.path.parent / "sales_pipeline.csv"
    open_accounts: set[str] = set()
    last_touch = pd.Series(dtype="datetime64[ns, UTC]")
    if pipeline_path.exists():
        deals = read_table(pipeline_path).frame
        open_accounts = set(
            deals.loc[deals["deal_stage"].isin(["Engaging", "Prospecting"]), "account"]
        )
        dates = pd.concat(
            [
                deals[["account", "engage_date"]].rename(columns={"engage_date": "d"}),
                deals[["account", "close_date"]].rename(columns={"close_date": "d"}),
            ]
        )
        dates["d"] = pd.to_datetime(dates["d"].replace("", None), utc=True)
        last_touch = dates.groupby("account")["d"].max()
    out["has_open_opportunity"] = out["account_id"].isin(open_accounts).astype("boolean")
    out["last_touch_at"] = out["account_id"].map(last_touch).astype("datetime64[ns, UTC]")
    out["tier"] = None
    return out


def read_accounts(source: Path | str) -> pd.DataFrame:
    """Read an account list into a frame with ``ACCOUNT_COLUMNS`` (maven-crm: its folder or
    ``accounts.csv``; open opportunities and last touch come from ``sales_pipeline.csv``).

    ``domain`` is normalised from a domain or website; ``has_open_opportunity`` is
    ``boolean``; ``last_touch_at`` is ``datetime64[ns, UTC]``.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "accounts.csv"
    table = read_table(path)
    keys = {header_key(h) for h in table.frame.columns}
    if {"account", "sector", "officelocation"} <= keys:
        return _maven_accounts(table)[list(ACCOUNT_COLUMNS)].reset_index(drop=True)
    mapped = _map(table, _ACCOUNT_ALIASES, "account list")
    problems: list[tuple[int, str, str, str]] = []
    out = pd.DataFrame(index=mapped.index)
    for col in ("account_id", "name", "owner_rep_id", "tier"):
        out[col] = mapped[col].where(mapped[col] != "", None).astype(object)
    for i in np.flatnonzero(out["account_id"].duplicated() & out["account_id"].notna()).tolist():
        value = str(out["account_id"].iat[i])
        problems.append((i, "account_id", value, "appears twice in the account list"))
    out["domain"] = mapped["domain"].map(domain_from_url).astype(object)
    flag = parse_bool_column(mapped["has_open_opportunity"])
    for i in np.flatnonzero(flag.bad).tolist():
        value = str(mapped["has_open_opportunity"].iat[i])
        problems.append((i, "has_open_opportunity", value, f"is not {flag.expected}"))
    out["has_open_opportunity"] = flag.values.fillna(False)
    touch, _how = parse_date_column(mapped["last_touch_at"])
    for i in np.flatnonzero(touch.bad).tolist():
        problems.append((i, "last_touch_at", str(mapped["last_touch_at"].iat[i]), "is not a date"))
    out["last_touch_at"] = touch.values
    _errors(table, problems, "account list")
    return out[list(ACCOUNT_COLUMNS)].reset_index(drop=True)


def _py(value: Any) -> Any:
    """A frame cell as a plain Python value (``None`` for every kind of missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _split(value: Any) -> tuple[str, ...]:
    value = _py(value)
    if not value:
        return ()
    return tuple(p.strip() for p in re.split(r"[;|]", str(value)) if p.strip())


# Optional roster columns the router reads, parsed once here into typed ``Rep`` fields.
_TYPED_EXTRAS = frozenset({"segments", "seniority"})


def _text(value: Any) -> str | None:
    value = _py(value)
    return str(value).strip() or None if value is not None else None


def reps_from_frame(df: pd.DataFrame) -> list[Rep]:
    """Turn a ``read_reps`` frame into ``Rep`` records (lists split on ';'; the optional
    ``segments`` and ``seniority`` columns become typed fields)."""
    reps: list[Rep] = []
    for row in df.to_dict(orient="records"):
        start = _py(row.get("start_date"))
        cap = _py(row.get("max_leads_per_day"))
        open_cap = _py(row.get("max_open_leads"))
        active = _py(row.get("active"))
        reps.append(
            Rep(
                rep_id=str(row["rep_id"]),
                name=_py(row.get("name")),
                email=_py(row.get("email")),
                pool=_py(row.get("pool")),
                role=_py(row.get("role")),
                regions=_split(row.get("regions")),
                industries=_split(row.get("industries")),
                products=_split(row.get("products")),
                languages=_split(row.get("languages")),
                max_leads_per_day=None if cap is None else int(cap),
                max_open_leads=None if open_cap is None else int(open_cap),
                timezone=_py(row.get("timezone")) or "UTC",
                working_hours=_py(row.get("working_hours")),
                active=True if active is None else bool(active),
                start_date=start.date() if isinstance(start, datetime) else start,
                backup_rep_id=_py(row.get("backup_rep_id")),
                segments=_split(row.get("segments")),
                seniority=_text(row.get("seniority")),
                attributes={
                    str(k): _py(v)
                    for k, v in row.items()
                    if k not in REP_COLUMNS and k not in _TYPED_EXTRAS and _py(v) is not None
                },
            )
        )
    return reps


def accounts_from_frame(df: pd.DataFrame) -> list[Account]:
    """Turn a ``read_accounts`` frame into ``Account`` records."""
    return [
        Account(
            account_id=str(row["account_id"]),
            name=_py(row.get("name")),
            domain=_py(row.get("domain")),
            owner_rep_id=_py(row.get("owner_rep_id")),
            has_open_opportunity=bool(_py(row.get("has_open_opportunity")) or False),
            last_touch_at=_py(row.get("last_touch_at")),
            tier=_py(row.get("tier")),
        )
        for row in df.to_dict(orient="records")
    ]


# The Lead record's own fields (one source of truth: schema.Lead), in declaration order.
_LEAD_FIELDS = tuple(
    f.name for f in dataclasses.fields(Lead) if f.name not in ("lead_id", "attributes")
)


def _column_values(column: pd.Series) -> list[Any]:
    """``_py`` of every cell of ``column`` (what ``to_dict(orient="records")`` cells give),
    one column at a time: floats and timestamps without a Python call per cell."""
    dtype = column.dtype
    if dtype == np.float64:
        return [None if v != v else v for v in column.to_numpy().tolist()]
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        missing = column.isna().to_numpy()
        stamps = column.array.to_pydatetime()
        return [None if m else v for v, m in zip(stamps.tolist(), missing.tolist(), strict=True)]
    # text and yes/no cells are what they are (no call); anything else goes through _py
    return [v if type(v) is str or type(v) is bool else _py(v) for v in column.tolist()]


def leads_from_frame(df: pd.DataFrame) -> list[Lead]:
    """Turn canonical rows into ``Lead`` records.

    Canonical lead fields fill the record; every other column goes into ``Lead.attributes``
    (``x_`` prefixes of ``keep_extra`` columns removed, so a policy can test ``demo_request``).
    Outcome and routing columns (rep_id, converted, ...) are attributes too.
    """
    if not df.columns.is_unique:
        return _leads_by_row(df)
    n = len(df)
    nothing = [None] * n
    # Each column converted once (``_py`` of each cell), then the records built row by row.
    fields = {
        name: _column_values(df[name]) if name in df.columns else nothing for name in _LEAD_FIELDS
    }
    extra_columns = [c for c in df.columns if c not in _LEAD_FIELDS and c != "lead_id"]
    extras = [
        (col[2:] if col.startswith("x_") and col not in HISTORY_COLUMNS else col,
         _column_values(df[col]))
        for col in extra_columns
    ]  # fmt: skip
    ids = [str(v) for v in df["lead_id"].tolist()]
    names = list(_LEAD_FIELDS)
    columns = [fields[name] for name in names]
    domain_at, email_at = names.index("domain"), names.index("email")
    leads: list[Lead] = []
    for i, values in enumerate(zip(*columns, strict=True)):
        record = dict(zip(names, values, strict=True))
        if values[domain_at] is None and values[email_at] is not None:
            record["domain"] = company_domain(values[email_at])
        attributes = {key: col[i] for key, col in extras if col[i] is not None}
        leads.append(Lead(lead_id=ids[i], attributes=attributes, **record))
    return leads


def _leads_by_row(df: pd.DataFrame) -> list[Lead]:
    """``leads_from_frame`` one row at a time (a frame with repeated column names)."""
    leads: list[Lead] = []
    extra_columns = [c for c in df.columns if c not in _LEAD_FIELDS and c != "lead_id"]
    for row in df.to_dict(orient="records"):
        fields = {name: _py(row.get(name)) for name in _LEAD_FIELDS}
        if fields["domain"] is None and fields["email"] is not None:
            fields["domain"] = company_domain(fields["email"])
        attributes = {}
        for col in extra_columns:
            value = _py(row[col])
            if value is None:
                continue
            key = col[2:] if col.startswith("x_") and col not in HISTORY_COLUMNS else col
            attributes[key] = value
        leads.append(Lead(lead_id=str(row["lead_id"]), attributes=attributes, **fields))
    return leads
