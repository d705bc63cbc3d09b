"""Raw readers: bytes on disk -> a table of strings, whatever the encoding, delimiter or format.

Every cell comes back as the text the user sees (``""`` when empty), so that rejected rows can
be written back unchanged. Typed parsing happens later, in ``leadpilot.ingest.values``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError

__all__ = ["DELIMITERS", "RawTable", "decode_text", "read_table", "sniff_delimiter"]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class RawTable:
    """A source table as text: original headers, every cell a ``str`` (``""`` when empty).

    ``rows`` holds each record's row number as a spreadsheet shows it (header = row 1), used
    in every message about a row. ``reject_columns`` are the columns written to the rejects
    file (the source file's own columns, not those joined in from lookup files).
    """

    frame: pd.DataFrame
    path: Path
    rows: NDArray[np.int64]
    encoding: str | None = None
    delimiter: str | None = None
    reject_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def delimiter_name(self) -> str | None:
        """Human name of the delimiter ("semicolon"), ``None`` for Excel files."""
        return _DELIMITER_NAMES.get(self.delimiter or "", self.delimiter)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252/Latin-1.

    Returns ``(text, encoding)``. cp1252 is tried before Latin-1 because Excel on Windows
    writes it (curly quotes, the euro sign); Latin-1 decodes any byte, so it is the last resort.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """Return the delimiter (comma, semicolon, tab or pipe) that splits the first lines into
    the most consistent number of columns (> 1).

    Hand-written because ``csv.Sniffer`` guesses letters as delimiters on short samples and
    fails on quoted fields with embedded delimiters; here each candidate is parsed with the
    real CSV grammar and judged by how regular the resulting rows are.
    """
    sample_lines = text.splitlines()[:50]
    sample = "\n".join(sample_lines)
    best: tuple[float, int, str] | None = None
    for delim in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:  # pragma: no cover - csv.reader is lenient
            continue
        if not rows:
            continue
        widths = Counter(len(r) for r in rows)
        width, count = widths.most_common(1)[0]
        if width < 2 or len(rows[0]) < 2:
            continue
        consistency = count / len(rows)
        key = (consistency, width, delim)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return ","
    return best[2]


def _refuse_non_tabular(data: bytes, path: Path) -> None:
    head = data[:8192]
    stripped = head.lstrip()
    if head.startswith(b"%PDF"):
        raise DataValidationError(
            f"{path.name} is a PDF document, not a CSV or Excel file",
            hint="export the report from your CRM as CSV (or .xlsx) and pass that file",
            details={"path": str(path), "kind": "pdf"},
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataValidationError(
            f"{path.name} is an old Excel .xls workbook, which leadpilot does not read",
            hint="open it in Excel or LibreOffice and save it as .xlsx or CSV",
            details={"path": str(path), "kind": "xls"},
        )
    if head.startswith(b"PK\x03\x04"):
        raise DataValidationError(
            f"{path.name} is a ZIP archive, not a CSV file",
            hint="unzip it and pass the CSV inside (or rename an Excel workbook to .xlsx)",
            details={"path": str(path), "kind": "zip"},
        )
    if stripped[:1] in (b"{", b"[") and _is_json(data):
        raise DataValidationError(
            f"{path.name} is JSON, not a CSV file",
            hint="export the data as CSV (one row per lead, one column per field)",
            details={"path": str(path), "kind": "json"},
        )
    is_utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not is_utf16 and b"\x00" in head:
        raise DataValidationError(
            f"{path.name} is a binary file, not a CSV file",
            hint="pass a CSV export (text, one row per lead) or an .xlsx workbook",
            details={"path": str(path), "kind": "binary"},
        )


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _empty_error(path: Path) -> DataValidationError:
    return DataValidationError(
        f"{path.name} is empty",
        hint="export the report again with at least a header row and one data row",
        details={"path": str(path), "kind": "empty"},
    )


def _header_only_error(path: Path, columns: list[str]) -> DataValidationError:
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return DataValidationError(
        f"{path.name} has a header row ({shown}) but no data rows",
        hint="the export filtered out every record: widen the report's date range or filters",
        details={"path": str(path), "kind": "header_only", "columns": columns},
    )


def _clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    # Excel saves often add an unnamed, entirely empty trailing column.
    unnamed = [
        c
        for c in frame.columns
        if (c == "" or c.startswith("Unnamed:")) and (frame[c].str.strip() == "").all()
    ]
    return frame.drop(columns=unnamed)


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many unrelated types for broken files
        raise DataValidationError(
            f"{path.name} could not be read as an Excel workbook: {exc}",
            hint="open and re-save it in Excel, or export the sheet as CSV",
            details={"path": str(path), "kind": "bad_excel"},
        ) from exc
    return frame.fillna("").astype(str)


def read_table(path: Path | str) -> RawTable:
    """Read a CSV (any of ``DELIMITERS``, UTF-8/UTF-16/cp1252/Latin-1, LF or CRLF) or an
    ``.xlsx`` workbook (first sheet) into a :class:`RawTable` of strings.

    Raises ``DataValidationError`` for a missing, empty, header-only or non-tabular file.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(
            f"{path} does not exist",
            hint="check the path (relative paths are taken from the current directory)",
            details={"path": str(path), "kind": "missing"},
        )
    if path.is_dir():
        raise DataValidationError(
            f"{path} is a folder; only the maven-crm and olist presets read folders",
            hint="pass a CSV or .xlsx file, or --format maven-crm / olist for those folders",
            details={"path": str(path), "kind": "folder"},
        )
    data = path.read_bytes()
    if not data.strip():
        raise _empty_error(path)
    encoding: str | None = None
    delimiter: str | None = None
    if path.suffix.lower() in _EXCEL_SUFFIXES and data.startswith(b"PK"):
        frame = _read_excel(path)
    else:
        _refuse_non_tabular(data, path)
        text, encoding = decode_text(data)
        if not text.strip():
            raise _empty_error(path)
        delimiter = sniff_delimiter(text)
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=True,
            )
        except pd.errors.ParserError as exc:
            raise DataValidationError(
                f"{path.name} is not a well-formed {_DELIMITER_NAMES[delimiter]}-separated "
                f"file: {exc}",
                hint="a row has more fields than the header: check for an unquoted delimiter "
                "or line break inside a value, and re-export with quoting on",
                details={"path": str(path), "kind": "malformed"},
            ) from exc
        except pd.errors.EmptyDataError as exc:
            raise _empty_error(path) from exc
    frame = _clean_frame(frame).reset_index(drop=True)
    rows = np.arange(2, len(frame) + 2, dtype=np.int64)
    # Rows that are entirely empty (",,,," left by spreadsheet edits) carry nothing.
    filled = (frame != "").any(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    frame, rows = frame.loc[filled].reset_index(drop=True), rows[filled]
    if frame.empty:
        raise _header_only_error(path, list(frame.columns))
    return RawTable(
        frame=frame,
        path=path,
        rows=rows,
        encoding=encoding,
        delimiter=delimiter,
        reject_columns=tuple(frame.columns),
    )
