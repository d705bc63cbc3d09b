"""CSV exports escape formula-like cells."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpilot.csv_safe import FORMULA_PREFIXES, escape_cell, write_safe_csv


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("-12.5", "-12.5"),
        ("+3e5", "+3e5"),
        ("Acme = best", "Acme = best"),
        ("", ""),
        (-4, -4),
        (None, None),
    ],
)
def test_escape_cell(raw: object, expected: object) -> None:
    assert escape_cell(raw) == expected


@given(st.text())
def test_no_escaped_text_starts_with_a_formula_prefix(text: str) -> None:
    out = escape_cell(text)
    assert out in (text, "'" + text)
    if out.startswith(FORMULA_PREFIXES):  # only plain numbers may keep a leading sign
        assert out == text
        float(out)


def test_write_safe_csv_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"company": ["=cmd|' /C calc'!A0", "Acme"], "score": [-1.5, 2.0], "@col": ["a", None]}
    )
    path = write_safe_csv(df, tmp_path / "out.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["company", "score", "'@col"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "-1.5", "a"]
    assert rows[2] == ["Acme", "2.0", ""]
    assert df.company.iloc[0].startswith("=")  # the caller's frame is not modified
