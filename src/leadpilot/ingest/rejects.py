"""The rejects of an intake: one ``Reject`` per unreadable value, the rejects file (rejected
rows unchanged plus a ``reject_reason`` column) and the error listing the first bad rows."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadpilot.csv_safe import escape_frame
from leadpilot.errors import DataValidationError
from leadpilot.ingest.readers import RawTable

__all__ = [
    "MAX_LISTED",
    "Reject",
    "default_rejects_path",
    "malformed_rejects",
    "raise_bad_rows",
    "write_rejects",
]

MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class Reject:
    """One unreadable value: its row (line number in the source file, header = 1; the
    spreadsheet row for Excel), source column, original text, and why it was rejected."""

    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.value!r} {self.reason}"


def write_rejects(
    raw: RawTable, by_index: dict[int, list[Reject]], path: Path, warnings: list[str]
) -> Path:
    """Write the rejected rows as they were in the source (same columns and delimiter) plus
    ``reject_reason``; falls back to the current directory when ``path`` is not writable."""
    indices = sorted(by_index)
    columns = list(raw.reject_columns or raw.frame.columns)
    frame = raw.frame.loc[indices, columns].copy()
    frame["reject_reason"] = [
        "; ".join(f"{r.column}: {r.value!r} {r.reason}" for r in by_index[i]) for i in indices
    ]
    frame["_line"] = raw.rows[indices]
    if raw.malformed:
        # Too many fields: the header's columns get the first fields, the rest is quoted in
        # the reason, so the record's whole text is still there to fix by hand.
        width = len(raw.frame.columns)
        records = [
            [
                *m.fields[:width],
                f"{m.reason}; extra fields: {', '.join(repr(f) for f in m.fields[width:])}",
                m.line,
            ]
            for m in raw.malformed
        ]
        extra = pd.DataFrame(records, columns=[*raw.frame.columns, "reject_reason", "_line"])
        frame = pd.concat([frame, extra[[*columns, "reject_reason", "_line"]]])
    # Spreadsheet formula injection: cells starting with = + - @ are escaped (plain numbers
    # such as -5 are not), since the rejects file is meant to be opened and fixed in Excel.
    frame = escape_frame(frame.sort_values("_line", kind="stable").drop(columns="_line"))
    delimiter = raw.delimiter or ","
    # Same delimiter and encoding as the source, so the rows are byte-for-byte what the user
    # exported; UTF-8 with a BOM (which Excel recognises) when the source encoding cannot
    # hold the reasons, or for Excel sources.
    text = frame.to_csv(index=False, sep=delimiter, quoting=csv.QUOTE_MINIMAL)
    try:
        data = text.encode(raw.encoding or "utf-8-sig")
    except UnicodeEncodeError:
        data = text.encode("utf-8-sig")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError:
        fallback = Path.cwd() / path.name
        warnings.append(f"could not write {path} (read-only?); rejects written to {fallback}")
        fallback.write_bytes(data)
        return fallback
    return path


def default_rejects_path(path: Path) -> Path:
    """``<name>.rejects.csv`` beside the input (inside it for a folder)."""
    if path.is_dir():
        return path / f"{path.name}.rejects.csv"
    return path.with_name(f"{path.stem}.rejects.csv")


def malformed_rejects(raw: RawTable) -> list[Reject]:
    """One ``Reject`` per record that had more fields than the header."""
    return [
        Reject(m.line, "(whole row)", raw.delimiter_join(m.fields), m.reason) for m in raw.malformed
    ]


def raise_bad_rows(raw: RawTable, by_index: dict[int, list[Reject]]) -> None:
    """Raise ``DataValidationError`` listing the first ``MAX_LISTED`` bad values."""
    listed = [r for i in sorted(by_index) for r in by_index[i]] + malformed_rejects(raw)
    listed.sort(key=lambda r: r.row)
    lines = "\n".join(f"  {r}" for r in listed[:MAX_LISTED])
    more = f"\n  ... and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else ""
    raise DataValidationError(
        f"{raw.path.name}: {len(by_index) + len(raw.malformed)} row(s) have values that "
        f"cannot be read:\n{lines}{more}",
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
