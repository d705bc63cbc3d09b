"""Readers: encodings, delimiters, line endings, Excel, blank rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.ingest import read_history, read_table
from leadpilot.ingest.readers import decode_text, sniff_delimiter

ROWS = [
    [
        "Lead_ID",
        "Lead_Source",
        "Industry",
        "Company_Size",
        "Assigned_Rep",
        "Time_to_Contact_Hours",
        "Converted_to_Opp",
        "Closed_Won",
    ],
    ["L1", "Salon", "Café & Bäckerei", "51-200", "Zoë", "1,5", "Yes", "No"],
    ["L2", "Web", "Software; Cloud", "1000+", "José", "2", "No", "No"],
]


def _csv(delimiter: str, newline: str = "\n") -> str:
    lines = []
    for row in ROWS:
        cells = [f'"{c}"' if delimiter in c or "," in c else c for c in row]
        lines.append(delimiter.join(cells))
    return newline.join(lines) + newline


@pytest.mark.parametrize(
    ("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_delimiters_encodings_line_endings(
    tmp_path: Path, delimiter: str, name: str, encoding: str, newline: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(_csv(delimiter, newline).encode(encoding))
    table = read_table(path)
    assert table.delimiter_name == name
    assert list(table.frame.columns) == ROWS[0]
    assert table.frame["Industry"].tolist() == ["Café & Bäckerei", "Software; Cloud"]
    frame = read_history(path).frame
    assert frame["rep_id"].tolist() == ["Zoë", "José"]
    assert frame["time_to_contact_hours"].tolist() == [1.5, 2.0]  # "1,5": decimal comma


def test_decode_order() -> None:
    assert decode_text("é".encode())[1] == "utf-8"
    assert decode_text("\ufeffé".encode())[1] == "utf-8-sig"
    assert decode_text("€ é".encode("cp1252")) == ("€ é", "cp1252")
    assert decode_text(b"\x81\xe9")[1] == "latin-1"  # 0x81 is undefined in cp1252


def test_sniff_prefers_consistent_columns() -> None:
    text = 'a;b;c\n"x, y";2;3\n"p, q";5;6\n'
    assert sniff_delimiter(text) == ";"
    assert sniff_delimiter("a,b\n1,2\n") == ","


def test_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    frame = pd.DataFrame(ROWS[1:], columns=ROWS[0])
    frame["Created"] = [pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-03-06")]
    frame.to_excel(path, index=False)
    table = read_table(path)
    assert table.delimiter is None
    result = read_history(path)
    assert result.format == "seed-prompt"
    assert result.frame["industry"].tolist() == ["Café & Bäckerei", "Software; Cloud"]


def test_broken_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DataValidationError, match="could not be read as an Excel workbook"):
        read_table(path)


def test_blank_rows_are_dropped_and_row_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,converted,\nA,yes,\n,,\nB,maybe,\n", encoding="utf-8")
    table = read_table(path)
    assert list(table.frame.columns) == ["lead_id", "converted"]  # empty trailing column gone
    assert table.rows.tolist() == [2, 4]
    with pytest.raises(DataValidationError, match=r"row 4, column 'converted': 'maybe'"):
        read_history(path)


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,converted\nA,yes\nB,no,extra,more\nC,no,,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_history(path)
    assert (
        "row 3, column '(whole row)': 'B,no,extra,more' has 4 fields but the header has 2"
        in str(info.value)
    )
    result = read_history(path, on_error="skip")
    assert result.frame["lead_id"].tolist() == ["A", "C"]  # C's trailing empty fields are fine
    assert result.rejects_path is not None
    rejected = pd.read_csv(result.rejects_path, dtype=str)
    assert rejected.loc[0, "lead_id"] == "B"
    assert "extra fields: 'extra', 'more'" in rejected.loc[0, "reject_reason"]


def test_true_line_numbers_with_multiline_values(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text('lead_id,note,converted\nA,"two\nlines",yes\n\nB,x,perhaps\n', encoding="utf-8")
    table = read_table(path)
    assert table.rows.tolist() == [2, 5]
    assert table.frame.loc[0, "note"] == "two\nlines"
    with pytest.raises(DataValidationError, match=r"row 5, column 'converted': 'perhaps'"):
        read_history(path)


def test_salesforce_report_footer_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        '"Lead ID","Lead Owner","Converted"\n"00Q1","Ann","1"\n"00Q2","Bo","0"\n\n'
        '"Grand Totals (2 records)"\n\n"Confidential Information - Do Not Distribute"\n'
        '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."\n',
        encoding="utf-8",
    )
    result = read_history(path)
    assert result.frame["lead_id"].tolist() == ["00Q1", "00Q2"]
    assert any("dropped 3 report footer line(s)" in w for w in result.warnings)


def test_duplicate_headers_are_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,Email,Email\nA,a@x.com,b@y.com\n", encoding="utf-8")
    table = read_table(path)
    assert list(table.frame.columns) == ["lead_id", "Email", "Email.1"]


def test_folder_without_known_files(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"holds none of the files"):
        read_history(tmp_path)
    with pytest.raises(DataValidationError, match=r"is a folder"):
        read_table(tmp_path)


def test_old_xls(tmp_path: Path) -> None:
    path = tmp_path / "leads.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(DataValidationError, match=r"old Excel .xls workbook"):
        read_table(path)


def test_excel_sep_hint_line(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("sep=;\r\nlead_id;converted;note\r\nA;yes;x,y\r\nB;maybe;z\r\n", "utf-8")
    table = read_table(path)
    assert table.delimiter == ";"
    assert list(table.frame.columns) == ["lead_id", "converted", "note"]
    with pytest.raises(DataValidationError, match=r"row 4, column 'converted': 'maybe'"):
        read_history(path)
