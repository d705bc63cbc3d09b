"""CSV exports that spreadsheets cannot execute: cells starting ``= + - @`` are escaped.

Excel, LibreOffice and Google Sheets treat such cells as formulas ("CSV injection"); a lead
named ``=HYPERLINK(...)`` must not run when a RevOps analyst opens an export. Following the
OWASP advice, an offending text cell gets a leading single quote, which spreadsheets show as
text. Tab and carriage return are escaped too (they also start formulas in some programs).
Plain numbers such as ``-12.5`` are left alone: a number cannot be a formula.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from leadpilot.errors import ConfigError
from leadpilot.outputs import prepare_output_file

__all__ = ["FORMULA_PREFIXES", "escape_cell", "escape_frame", "write_safe_csv"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def escape_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet would run.

    >>> escape_cell("=1+1"), escape_cell("-3.5"), escape_cell(-3.5), escape_cell("Acme")
    ("'=1+1", '-3.5', -3.5, 'Acme')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        if _PLAIN_NUMBER.match(value):
            return value
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` with every text cell and column name escaped."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(escape_cell, na_action="ignore")
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def write_safe_csv(frame: pd.DataFrame, path: str | Path, **to_csv: Any) -> Path:
    """Write ``frame`` to ``path`` as CSV (no index unless asked) with cells escaped.

    An unwritable path raises ``ConfigError`` (what, where, how to fix), not ``OSError``.
    """
    target = prepare_output_file(path)
    to_csv.setdefault("index", False)
    try:
        escape_frame(frame).to_csv(target, **to_csv)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="choose a path in a folder you can write to (and close the file in Excel)",
        ) from None
    return target
