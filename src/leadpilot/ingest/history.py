"""``read_history``: any supported export -> the canonical history frame, with every bad row
reported (row, column, value, reason) and, with ``on_error="skip"``, kept in a rejects file.

What is required: a lead id column (``lead_id`` or the preset's spelling; only the
bank-marketing preset, which has none, numbers its rows ``row-2``, ``row-3``...) plus each
preset's own required columns. What a *command* needs on top (an outcome to audit, a rep and
an outcome to learn) is checked by :func:`check_requirements`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.identity import FREE_MAIL_DOMAINS, domain_from_url, normalize_email
from leadpilot.ingest.presets import Preset, load_source, near_misses, resolve_columns
from leadpilot.ingest.readers import RawTable
from leadpilot.ingest.rejects import (
    Reject,
    default_rejects_path,
    malformed_rejects,
    raise_bad_rows,
    write_rejects,
)
from leadpilot.ingest.values import (
    Parsed,
    parse_bool_column,
    parse_date_column,
    parse_number_column,
    parse_size_column,
)
from leadpilot.schema import HISTORY_COLUMNS

__all__ = [
    "REQUIREMENTS",
    "IngestResult",
    "Reject",
    "check_requirements",
    "read_history",
]

OnError = Literal["raise", "skip"]
_ON_ERROR = ("raise", "skip")

_TEXT_COLUMNS = (
    "lead_id",
    "company",
    "source",
    "industry",
    "region",
    "country",
    "state",
    "product",
    "title",
    "language",
    "external_id",
    "rep_id",
)
_DATE_COLUMNS = ("created_at", "first_contact_at", "converted_at", "closed_at")
_NUMBER_COLUMNS = ("annual_revenue", "engagement_score", "deal_value")
_BOOL_COLUMNS = ("converted", "closed_won")
# Text that means "empty" in a text column. Narrower than values.MISSING_TOKENS: "unknown"
# and "none" are legitimate categories there (e.g. Olist's origin "unknown").
_TEXT_MISSING = frozenset({"", "nan", "null", "n/a", "#n/a", "na"})
# In place columns "NA" is a value (North America, Namibia), never a blank.
_GEO_COLUMNS = frozenset({"region", "country", "state"})
# A column is "of the wrong type" (mapped wrongly, not a few typos) when most values fail.
_WRONG_TYPE_SHARE = 0.5
_WRONG_TYPE_MIN = 3
_MAX_LISTED = 5

# What each command needs in the canonical frame, beyond lead_id (see check_requirements).
REQUIREMENTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "validate": (),
    "audit": (("converted", "closed_won"),),
    "learn": (("rep_id",), ("converted", "closed_won")),
    "route": (),
}


@dataclass(frozen=True)
class IngestResult:
    """The canonical history frame and everything said about reading it.

    ``frame`` has exactly ``schema.HISTORY_COLUMNS`` plus ``source_row`` (and ``x_*`` extra
    columns with ``keep_extra=True``); ``rejects`` lists every unreadable value and duplicate;
    ``rejects_path`` is where rejected rows were written (``None`` when none were);
    ``n_read`` counts the data rows in the source; ``mapping`` says which source column
    filled each canonical column and ``unmapped`` lists the source columns not used (kept as
    ``x_*`` columns only with ``keep_extra=True``).
    """

    frame: pd.DataFrame
    format: str
    rejects: list[Reject]
    rejects_path: Path | None
    warnings: list[str]
    n_read: int
    mapping: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    unmapped: tuple[str, ...] = ()

    @property
    def n_rejected_rows(self) -> int:
        """Number of distinct source rows that were rejected."""
        return len({r.row for r in self.rejects})


def check_requirements(frame: pd.DataFrame, purpose: str) -> None:
    """Raise ``DataValidationError`` unless ``frame`` has what ``purpose`` needs.

    ``audit`` needs an outcome (``converted`` or ``closed_won``) on some rows; ``learn`` needs
    ``rep_id`` and an outcome; ``validate`` and ``route`` need only ``lead_id``.
    """
    if purpose not in REQUIREMENTS:
        raise ConfigError(
            f"unknown purpose {purpose!r}; allowed: {', '.join(REQUIREMENTS)}",
        )
    for alternatives in REQUIREMENTS[purpose]:
        if not any(c in frame and frame[c].notna().any() for c in alternatives):
            names = " or ".join(alternatives)
            raise DataValidationError(
                f"to {purpose} leadpilot needs {names}, but no row has a value for it",
                hint=f"export the {names} column from your CRM (or map it with --format)",
                details={"purpose": purpose, "columns": list(alternatives)},
            )


def _all_text(series: pd.Series) -> bool:
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string"


def _stripped(series: pd.Series) -> pd.Series:
    """``series.str.strip()``; for a column of text in one pass (pandas' string methods also
    scan every cell for missing values and types, which cost more than the strip)."""
    if not _all_text(series):
        return series.str.strip()
    out = np.empty(len(series), dtype=object)
    out[:] = [v.strip() for v in series.tolist()]
    return pd.Series(out, index=series.index, dtype=object)


def _text(series: pd.Series, extra_missing: frozenset[str], *, keep_na: bool = False) -> pd.Series:
    tokens = _TEXT_MISSING | extra_missing
    if keep_na:
        tokens = tokens - {"na"}
    if _all_text(series):  # the same in one pass
        out = np.empty(len(series), dtype=object)
        out[:] = [_blank_to_none(v.strip(), tokens) for v in series.tolist()]
        return pd.Series(out, index=series.index, dtype=object)
    stripped = series.str.strip()
    missing = stripped.str.lower().isin(tokens)
    return stripped.where(~missing, None).astype(object)


def _blank_to_none(text: str, tokens: frozenset[str]) -> str | None:
    return None if text.lower() in tokens else text


class _Rows:
    """Collects rejects per row index while the columns are parsed."""

    def __init__(self, raw: RawTable, mapping: dict[str, str]) -> None:
        self.raw = raw
        self.mapping = mapping
        self.by_index: dict[int, list[Reject]] = {}

    def add(self, index: int, target: str, value: object, reason: str) -> None:
        column = self.mapping.get(target, target)
        reject = Reject(int(self.raw.rows[index]), column, str(value), reason)
        self.by_index.setdefault(index, []).append(reject)

    def add_parsed(self, target: str, strings: pd.Series, parsed: Parsed) -> None:
        bad = np.flatnonzero(parsed.bad)
        present = int((_stripped(strings) != "").sum())
        if len(bad) >= _WRONG_TYPE_MIN and len(bad) > _WRONG_TYPE_SHARE * present:
            column = self.mapping.get(target, target)
            examples = "; ".join(
                f"row {self.raw.rows[i]}: {strings.iat[i]!r}" for i in bad[:_MAX_LISTED].tolist()
            )
            raise DataValidationError(
                f"column {column!r} of {self.raw.path.name} should hold {parsed.expected}, "
                f"but {len(bad)} of its {present} values do not ({examples})",
                hint=f"check that {column!r} is the right column for {target} (a shifted or "
                "mislabelled column?), or pass --format to pick another format",
                details={"column": column, "target": target, "kind": "wrong_type"},
            )
        for i in bad.tolist():
            self.add(int(i), target, strings.iat[i], f"is not {parsed.expected}")


def _empty(index: pd.Index, col: str) -> pd.Series:
    """An all-missing column of ``col``'s canonical dtype."""
    if col in _DATE_COLUMNS:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if col in _BOOL_COLUMNS:
        return pd.Series(pd.NA, index=index, dtype="boolean")
    if col in (*_NUMBER_COLUMNS, "company_size", "time_to_contact_hours"):
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.Series([None] * len(index), index=index, dtype=object)


def _parse(
    strings: pd.DataFrame,
    preset: Preset,
    rows: _Rows,
    present: set[str],
    *,
    dayfirst: bool | None,
    timezone: str,
) -> tuple[pd.DataFrame, list[str]]:
    """Parse every canonical column the source has (``present``); the others are all-missing
    without being parsed (a 40,000-row file maps only a few of the 26 columns)."""
    warnings: list[str] = []
    out = pd.DataFrame({c: _empty(strings.index, c) for c in HISTORY_COLUMNS})
    for col in _TEXT_COLUMNS:
        if col in present:
            missing = preset.missing_tokens
            out[col] = _text(strings[col], missing, keep_na=col in _GEO_COLUMNS)
    if "email" in present:
        emails = _text(strings["email"], preset.missing_tokens)
        normalised = emails.map(normalize_email, na_action="ignore")
        bad_email = emails.notna().to_numpy() & normalised.isna().to_numpy()
        for i in np.flatnonzero(bad_email).tolist():
            rows.add(int(i), "email", strings["email"].iat[i], "is not an email address")
        out["email"] = normalised.where(normalised.notna(), None).astype(object)
    if "company_size" in present:
        sizes, bands = parse_size_column(strings["company_size"])
        rows.add_parsed("company_size", strings["company_size"], sizes)
        out["company_size"], out["size_band"] = sizes.values, bands
    for col in (*_NUMBER_COLUMNS, "time_to_contact_hours"):
        if col in present:
            minimum = 0 if col == "time_to_contact_hours" else None
            parsed = parse_number_column(strings[col], minimum=minimum)
            rows.add_parsed(col, strings[col], parsed)
            out[col] = parsed.values
    for col in _DATE_COLUMNS:
        if col not in present:
            continue
        parsed, how = parse_date_column(strings[col], dayfirst=dayfirst, timezone=timezone)
        rows.add_parsed(col, strings[col], parsed)
        out[col] = parsed.values
        source = rows.mapping.get(col, col)
        if how.ambiguous:
            warnings.append(
                f"column {source!r}: every date has day and month <= 12, so the order cannot be "
                "told from the data; read as month-first (US, 03/04 = March 4). "
                "Pass dayfirst=True (leadpilot validate --dayfirst) if they are day-first"
            )
        elif how.order in ("day-first", "month-first") and dayfirst is None:
            warnings.append(f"column {source!r}: dates read {how.order} (decided from the data)")
    for col in _BOOL_COLUMNS:
        if col in present:
            parsed_bool = parse_bool_column(strings[col])
            rows.add_parsed(col, strings[col], parsed_bool)
            out[col] = parsed_bool.values
    if present & {"domain", "_website", "email"}:
        # Same rule as identity.company_domain (website first, then a non-free-mail email),
        # vectorised: the email is already normalised, its domain is what follows the "@".
        email_domain = out["email"].str.split("@").str[1]
        candidates = [email_domain]
        if "_website" in present:
            candidates.insert(0, _map_distinct(strings["_website"], domain_from_url))
        if "domain" in present:
            candidates.insert(0, _map_distinct(strings["domain"], domain_from_url))
        merged = pd.Series(None, index=out.index, dtype=object)
        for candidate in candidates:  # highest priority first
            usable = candidate.notna() & ~candidate.isin(FREE_MAIL_DOMAINS)
            merged = merged.where(merged.notna(), candidate.where(usable, None))
        out["domain"] = merged.where(merged.notna(), None).astype(object)
    return out, warnings


def _map_distinct(series: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``series.map(fn)`` for a pure ``fn``, called once per distinct value (a history's
    domains repeat: many leads per account)."""
    codes, distinct = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=False)
    mapped = np.empty(len(distinct), dtype=object)
    mapped[:] = [fn(v) for v in distinct]
    return pd.Series(mapped[codes], index=series.index, dtype=object)


def _outcome_rules(out: pd.DataFrame, rows: _Rows, strings: pd.DataFrame) -> None:
    won, converted = out["closed_won"], out["converted"]
    contradiction = (won.fillna(False) & converted.eq(False).fillna(False)).to_numpy()
    for i in np.flatnonzero(contradiction).tolist():
        rows.add(
            int(i),
            "closed_won",
            strings["closed_won"].iat[i],
            "says won but the lead is marked not converted",
        )
    out.loc[won.fillna(False).to_numpy() & converted.isna().to_numpy(), "converted"] = True
    if not won.notna().any():
        # The file records no deal outcome at all (x-education, bank-marketing): inventing
        # "not won" for every lost lead would make up a won rate of 0% it does not contain.
        return
    lost = converted.eq(False).fillna(False).to_numpy() & won.isna().to_numpy()
    out.loc[lost, "closed_won"] = False


def _time_to_contact(out: pd.DataFrame, rows: _Rows) -> None:
    derived = (out["first_contact_at"] - out["created_at"]).dt.total_seconds() / 3600.0
    fill = out["time_to_contact_hours"].isna() & derived.notna()
    negative = np.flatnonzero((fill & (derived < 0)).to_numpy())
    for i in negative.tolist():
        value = f"{out['first_contact_at'].iat[i]}"
        rows.add(int(i), "first_contact_at", value, "is before the lead was created")
    out.loc[fill & (derived >= 0), "time_to_contact_hours"] = derived


def _order_warnings(out: pd.DataFrame) -> list[str]:
    """Dates that run backwards are kept (the CRM may have back-dated a record) but said."""
    notes = []
    for later in ("converted_at", "closed_at"):
        backwards = int((out[later] < out["created_at"]).sum())
        if backwards:
            notes.append(
                f"{backwards} row(s) have {later} before created_at (kept; check the CRM's "
                "date fields)"
            )
    return notes


def _extra_columns(raw: RawTable, mapping: dict[str, str]) -> pd.DataFrame:
    used = set(mapping.values())
    extra = pd.DataFrame(index=raw.frame.index)
    for header in raw.frame.columns:
        if header in used:
            continue
        name = "x_" + re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")
        if name in extra or name == "x_":
            continue
        values = _stripped(raw.frame[header])
        extra[name] = values.where(values != "", None).astype(object)
    return extra


def read_history(
    source: Path | str,
    *,
    format: str | None = None,
    on_error: OnError = "raise",
    rejects_path: Path | str | None = None,
    keep_extra: bool = False,
    dayfirst: bool | None = None,
    timezone: str = "UTC",
) -> IngestResult:
    """Read a history export into the canonical frame.

    ``source`` is a CSV/.xlsx file, or a folder for the maven-crm and olist presets;
    ``format`` names a preset (``None`` = detect from the headers). With ``on_error="raise"``
    the first unreadable values raise ``DataValidationError`` (up to 5 listed with row, column
    and value); with ``"skip"`` those rows are left out and written unchanged, with a
    ``reject_reason`` column, to ``rejects_path`` (default ``<name>.rejects.csv`` beside the
    input). Duplicate lead ids never raise: the first is kept, later ones go to the rejects
    file, and a warning says so. A column whose values are mostly unreadable (over half, at
    least 3) is a mapping error, not a few bad rows: it raises even with ``"skip"``, as does a
    file whose every row is rejected. ``keep_extra`` adds unmapped columns as ``x_<name>``.
    ``dayfirst`` forces the order of numeric dates; naive times are taken in ``timezone``.
    """
    if on_error not in _ON_ERROR:
        raise ConfigError(
            f"on_error must be one of {', '.join(_ON_ERROR)}, not {on_error!r}",
            hint="use --on-error skip to keep the readable rows and write a rejects file",
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {timezone!r}",
            hint="use an IANA name such as UTC, Europe/Paris or America/New_York",
        ) from None
    raw, preset = load_source(source, format)
    headers = list(raw.frame.columns)
    mapping = resolve_columns(preset, headers, raw.path)
    warnings = list(raw.notes) + near_misses(preset, headers, mapping)
    strings = pd.DataFrame(index=raw.frame.index)
    helpers = (t for t in preset.columns if t.startswith("_") and t in mapping)
    for target in (*HISTORY_COLUMNS, *helpers):
        header = mapping.get(target)
        strings[target] = _stripped(raw.frame[header].astype(str)) if header else ""
    if preset.derive is not None:
        strings = preset.derive(strings, warnings)
    present = set(mapping) | set(preset.derives)
    rows = _Rows(raw, mapping)
    out, date_warnings = _parse(
        strings, preset, rows, present, dayfirst=dayfirst, timezone=timezone
    )
    warnings.extend(date_warnings)
    if preset.generated_ids or "lead_id" not in mapping:
        out["lead_id"] = [f"row-{n}" for n in raw.rows]
    for i in np.flatnonzero(out["lead_id"].isna().to_numpy()).tolist():
        rows.add(
            int(i), "lead_id", strings["lead_id"].iat[i], "is empty: every row needs a lead id"
        )
    _outcome_rules(out, rows, strings)
    _time_to_contact(out, rows)
    if (rows.by_index or raw.malformed) and on_error == "raise":
        raise_bad_rows(raw, rows.by_index)
    value_rejects = len(rows.by_index) + len(raw.malformed)
    keep = ~np.isin(np.arange(len(out)), list(rows.by_index))
    dup = out["lead_id"].duplicated(keep="first").to_numpy() & keep
    if dup.any():
        first_row = dict(zip(out["lead_id"][keep][::-1], raw.rows[keep][::-1], strict=True))
        for i in np.flatnonzero(dup).tolist():
            lead = out["lead_id"].iat[i]
            rows.add(
                int(i),
                "lead_id",
                strings["lead_id"].iat[i],
                f"is a duplicate lead id (first at row {first_row[lead]}; that row was kept)",
            )
        ids = out["lead_id"][dup].unique()
        shown = ", ".join(map(str, ids[:_MAX_LISTED])) + (", ..." if len(ids) > _MAX_LISTED else "")
        warnings.append(
            f"{len(ids)} lead id(s) appear more than once ({shown}): kept the first row of "
            f"each, moved {int(dup.sum())} later row(s) to the rejects file"
        )
    keep = ~np.isin(np.arange(len(out)), list(rows.by_index))
    written: Path | None = None
    all_rejects = [r for i in sorted(rows.by_index) for r in rows.by_index[i]]
    all_rejects = sorted(all_rejects + malformed_rejects(raw), key=lambda r: r.row)
    if rows.by_index or raw.malformed:
        target_path = Path(rejects_path) if rejects_path else default_rejects_path(Path(source))
        written = write_rejects(raw, rows.by_index, target_path, warnings)
        if value_rejects:
            warnings.append(
                f"skipped {value_rejects} row(s) with unreadable values; "
                f"written unchanged with the reason to {written}"
            )
    if not keep.any():
        first = all_rejects[0]
        raise DataValidationError(
            f"{raw.path.name}: all {len(out)} rows were rejected (first: {first}); "
            f"they are in {written}",
            hint="the file does not match its format: check the delimiter, the header row and "
            "--format",
            details={"kind": "all_rejected", "rejects_path": str(written)},
        )
    if out["created_at"].isna().all():
        warnings.append("no creation dates: file order stands for time")
    warnings.extend(_order_warnings(out[keep]))
    frame = out.loc[keep, list(HISTORY_COLUMNS)].copy()
    frame["source_row"] = raw.rows[keep]
    if keep_extra:
        extra = _extra_columns(raw, mapping).loc[keep]
        frame = pd.concat([frame, extra], axis=1)
    frame = frame.reset_index(drop=True)
    return IngestResult(
        frame=frame,
        format=preset.name,
        rejects=all_rejects,
        rejects_path=written,
        warnings=warnings,
        n_read=len(raw.frame),
        mapping={t: h for t, h in mapping.items() if not t.startswith("_")},
        path=Path(source),
        unmapped=tuple(h for h in headers if h not in set(mapping.values())),
    )
