"""``read_history``: any supported export -> the canonical history frame, with every bad row
reported (row, column, value, reason) and, with ``on_error="skip"``, kept in a rejects file.

What is required: a lead id column (``lead_id`` or the preset's spelling; only the
bank-marketing preset, which has none, numbers its rows ``row-2``, ``row-3``...) plus each
preset's own required columns. What a *command* needs on top (an outcome to audit, a rep and
an outcome to learn) is checked by :func:`check_requirements`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.identity import company_domain, domain_from_url, normalize_email
from leadpilot.ingest.presets import Preset, load_source, resolve_columns
from leadpilot.ingest.readers import RawTable
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


@dataclass(frozen=True, slots=True)
class Reject:
    """One unreadable value: spreadsheet row number (header = 1), source column, text, why."""

    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.value!r} {self.reason}"


@dataclass(frozen=True)
class IngestResult:
    """The canonical history frame and everything said about reading it.

    ``frame`` has exactly ``schema.HISTORY_COLUMNS`` plus ``source_row`` (and ``x_*`` extra
    columns with ``keep_extra=True``); ``rejects`` lists every unreadable value and duplicate;
    ``rejects_path`` is where rejected rows were written (``None`` when none were);
    ``n_read`` counts the data rows in the source.
    """

    frame: pd.DataFrame
    format: str
    rejects: list[Reject]
    rejects_path: Path | None
    warnings: list[str]
    n_read: int
    mapping: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

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


def _text(series: pd.Series, extra_missing: frozenset[str]) -> pd.Series:
    stripped = series.str.strip()
    missing = stripped.str.lower().isin(_TEXT_MISSING | extra_missing)
    return stripped.where(~missing, None).astype(object)


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
        present = int((strings.str.strip() != "").sum())
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


def _parse(
    strings: pd.DataFrame, preset: Preset, rows: _Rows, *, dayfirst: bool | None, timezone: str
) -> tuple[pd.DataFrame, list[str]]:
    warnings: list[str] = []
    out = pd.DataFrame(index=strings.index)
    for col in _TEXT_COLUMNS:
        out[col] = _text(strings[col], preset.missing_tokens)
    emails = _text(strings["email"], preset.missing_tokens)
    normalised = emails.map(normalize_email, na_action="ignore")
    for i in np.flatnonzero(emails.notna().to_numpy() & normalised.isna().to_numpy()).tolist():
        rows.add(int(i), "email", strings["email"].iat[i], "is not an email address")
    out["email"] = normalised.where(normalised.notna(), None).astype(object)
    sizes, bands = parse_size_column(strings["company_size"])
    rows.add_parsed("company_size", strings["company_size"], sizes)
    out["company_size"], out["size_band"] = sizes.values, bands
    for col in _NUMBER_COLUMNS:
        parsed = parse_number_column(strings[col])
        rows.add_parsed(col, strings[col], parsed)
        out[col] = parsed.values
    hours = parse_number_column(strings["time_to_contact_hours"], minimum=0)
    rows.add_parsed("time_to_contact_hours", strings["time_to_contact_hours"], hours)
    out["time_to_contact_hours"] = hours.values
    for col in _DATE_COLUMNS:
        parsed, how = parse_date_column(strings[col], dayfirst=dayfirst, timezone=timezone)
        rows.add_parsed(col, strings[col], parsed)
        out[col] = parsed.values
        if how.ambiguous:
            source = rows.mapping.get(col, col)
            warnings.append(
                f"column {source!r}: every date has day and month <= 12, so the order cannot be "
                "told from the data; read as month-first (US, 03/04 = March 4). "
                "Pass dayfirst=True (--dayfirst) if these are day-first dates"
            )
        elif how.order in ("day-first", "month-first") and dayfirst is None:
            source = rows.mapping.get(col, col)
            warnings.append(f"column {source!r}: dates read {how.order} (decided from the data)")
    for col in _BOOL_COLUMNS:
        parsed_bool = parse_bool_column(strings[col])
        rows.add_parsed(col, strings[col], parsed_bool)
        out[col] = parsed_bool.values
    domains = strings["domain"].map(domain_from_url)
    website = strings["_website"] if "_website" in strings else pd.Series("", index=strings.index)
    derived = [company_domain(e, w) for e, w in zip(out["email"], website, strict=True)]
    out["domain"] = domains.where(domains.notna(), pd.Series(derived, index=out.index))
    out["domain"] = out["domain"].where(out["domain"].notna(), None).astype(object)
    return out, warnings


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


def _extra_columns(raw: RawTable, mapping: dict[str, str]) -> pd.DataFrame:
    used = set(mapping.values())
    extra = pd.DataFrame(index=raw.frame.index)
    for header in raw.frame.columns:
        if header in used:
            continue
        name = "x_" + re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")
        if name in extra or name == "x_":
            continue
        values = raw.frame[header].str.strip()
        extra[name] = values.where(values != "", None).astype(object)
    return extra


def _csv_safe(value: str) -> str:
    # Spreadsheet formula injection: a cell starting with = + - @ runs as a formula when the
    # rejects file is opened in Excel. Numbers like -5 are left as they are.
    if value[:1] in ("=", "+", "-", "@") and not re.fullmatch(r"[+-]?[\d.,]+", value):
        return "'" + value
    return value


def _write_rejects(
    raw: RawTable, by_index: dict[int, list[Reject]], path: Path, warnings: list[str]
) -> Path:
    indices = sorted(by_index)
    columns = list(raw.reject_columns or raw.frame.columns)
    frame = raw.frame.loc[indices, columns].copy()
    frame["reject_reason"] = [
        "; ".join(f"{r.column}: {r.value!r} {r.reason}" for r in by_index[i]) for i in indices
    ]
    frame = frame.map(_csv_safe)
    delimiter = raw.delimiter or ","
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, sep=delimiter, quoting=csv.QUOTE_MINIMAL)
    except OSError:
        fallback = Path.cwd() / path.name
        warnings.append(f"could not write {path} (read-only?); rejects written to {fallback}")
        frame.to_csv(fallback, index=False, sep=delimiter, quoting=csv.QUOTE_MINIMAL)
        return fallback
    return path


def _default_rejects_path(path: Path) -> Path:
    if path.is_dir():
        return path / f"{path.name}.rejects.csv"
    return path.with_name(f"{path.stem}.rejects.csv")


def _raise_bad_rows(raw: RawTable, by_index: dict[int, list[Reject]]) -> None:
    listed = [r for i in sorted(by_index) for r in by_index[i]]
    lines = "\n".join(f"  {r}" for r in listed[:_MAX_LISTED])
    more = f"\n  ... and {len(listed) - _MAX_LISTED} more" if len(listed) > _MAX_LISTED else ""
    raise DataValidationError(
        f"{raw.path.name}: {len(by_index)} row(s) have values that cannot be read:\n{lines}{more}",
        hint="fix these values in the file, or use --on-error skip to import the other rows "
        "and write these to a rejects file",
        details={
            "kind": "bad_values",
            "rejects": [
                {"row": r.row, "column": r.column, "value": r.value, "reason": r.reason}
                for r in listed[:50]
            ],
        },
    )


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
    file, and a warning says so. ``keep_extra`` adds unmapped source columns as ``x_<name>``.
    ``dayfirst`` forces the order of numeric dates; naive times are taken in ``timezone``.
    """
    if on_error not in _ON_ERROR:
        raise ConfigError(f"on_error must be one of {', '.join(_ON_ERROR)}, not {on_error!r}")
    raw, preset = load_source(source, format)
    headers = list(raw.frame.columns)
    mapping = resolve_columns(preset, headers, raw.path)
    warnings = list(raw.notes)
    strings = pd.DataFrame(index=raw.frame.index)
    for target in (*HISTORY_COLUMNS, *(t for t in preset.columns if t.startswith("_"))):
        header = mapping.get(target)
        strings[target] = raw.frame[header].astype(str) if header else ""
    if preset.derive is not None:
        strings = preset.derive(strings, warnings)
    rows = _Rows(raw, mapping)
    out, date_warnings = _parse(strings, preset, rows, dayfirst=dayfirst, timezone=timezone)
    warnings.extend(date_warnings)
    if preset.generated_ids or "lead_id" not in mapping:
        out["lead_id"] = [f"row-{n}" for n in raw.rows]
    for i in np.flatnonzero(out["lead_id"].isna().to_numpy()).tolist():
        rows.add(
            int(i), "lead_id", strings["lead_id"].iat[i], "is empty: every row needs a lead id"
        )
    _outcome_rules(out, rows, strings)
    _time_to_contact(out, rows)
    if rows.by_index and on_error == "raise":
        _raise_bad_rows(raw, rows.by_index)
    value_rejects = len(rows.by_index)
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
    if rows.by_index:
        target_path = Path(rejects_path) if rejects_path else _default_rejects_path(Path(source))
        written = _write_rejects(raw, rows.by_index, target_path, warnings)
        if value_rejects:
            warnings.append(
                f"skipped {value_rejects} row(s) with unreadable values; "
                f"written unchanged with the reason to {written}"
            )
    if out["created_at"].isna().all():
        warnings.append("no creation dates: file order stands for time")
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
    )
