"""Bad input: each case gives a message that says what, where and how to fix, and loses nothing."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest import check_requirements, read_history

SEED_HEADER = (
    "Lead_ID,Lead_Source,Industry,Company_Size,Assigned_Rep,"
    "Time_to_Contact_Hours,Converted_to_Opp,Closed_Won\n"
)


def _write(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_required_column_names_it_and_suggests(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SEED_HEADER.replace("Lead_Source", "Lead_Sorce") + "L1,Web,SaaS,10,Al,1,Yes,No\n",
    )
    with pytest.raises(DataValidationError) as info:
        read_history(path)
    message = str(info.value)
    assert "required column 'Lead_Source' is missing from leads.csv" in message
    assert "did you mean 'Lead_Sorce'?" in message
    assert "Columns found: Lead_ID, Lead_Sorce, Industry" in message
    assert "rename 'Lead_Sorce' to 'Lead_Source'" in message
    assert info.value.details["suggestion"] == "Lead_Sorce"


def test_unrecognised_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "foo,bar\n1,2\n")
    with pytest.raises(
        DataValidationError, match=r"cannot tell which export leads.csv is.*foo, bar"
    ):
        read_history(path)


def test_bad_values_raise_with_row_column_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SEED_HEADER
        + "L1,Web,SaaS,10,Al,1,Yes,No\n"
        + "L2,Web,SaaS,10,Al,1,Maybe,No\n"
        + "L3,Web,SaaS,lots,Al,1,Yes,No\n"
        + "L4,Web,SaaS,10,Al,-3,No,No\n"
        + "L5,Web,SaaS,10,Al,2,No,No\n",
    )
    with pytest.raises(DataValidationError) as info:
        read_history(path)
    message = str(info.value)
    assert "3 row(s) have values that cannot be read" in message
    assert "row 3, column 'Converted_to_Opp': 'Maybe' is not yes/no" in message
    assert "row 4, column 'Company_Size': 'lots' is not an employee count" in message
    assert "row 5, column 'Time_to_Contact_Hours': '-3' is not a number >= 0" in message
    assert "--on-error skip" in message


def test_skip_writes_rejected_rows_unchanged_with_reason(tmp_path: Path) -> None:
    lines = [
        "L1,Web,SaaS,10,Al,1,Yes,No",
        'L2,Web,"Saas, Inc",10,Al,1,Maybe,No',
        "L3,Web,SaaS,=cmd(),Al,1,Yes,No",
        "L4,Web,SaaS,10,Al,2,No,No",
    ]
    path = _write(tmp_path, SEED_HEADER + "\n".join(lines) + "\n")
    result = read_history(path, on_error="skip")
    assert result.frame["lead_id"].tolist() == ["L1", "L4"]
    assert result.rejects_path == tmp_path / "leads.rejects.csv"
    with result.rejects_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Lead_ID"] for r in rows] == ["L2", "L3"]
    assert rows[0]["Industry"] == "Saas, Inc"  # original text, quoting preserved
    assert rows[0]["Converted_to_Opp"] == "Maybe"
    assert "Converted_to_Opp: 'Maybe' is not yes/no" in rows[0]["reject_reason"]
    assert rows[1]["Company_Size"] == "'=cmd()"  # formula injection defused
    assert any("skipped 2 row(s)" in w for w in result.warnings)
    assert {r.row for r in result.rejects} == {3, 4}


def test_explicit_rejects_path(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_HEADER + "L1,Web,SaaS,10,Al,1,Yes,No\nL2,Web,SaaS,10,Al,1,?,No\n")
    target = tmp_path / "out" / "bad.csv"
    result = read_history(path, on_error="skip", rejects_path=target)
    assert result.rejects_path == target
    assert pd.read_csv(target)["Lead_ID"].tolist() == ["L2"]


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    with pytest.raises(DataValidationError, match=r"leads.csv is empty"):
        read_history(path)


def test_header_only(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_HEADER)
    with pytest.raises(
        DataValidationError, match=r"has a header row \(Lead_ID, .*\) but no data rows"
    ):
        read_history(path)


def test_duplicate_lead_ids_first_kept_rest_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SEED_HEADER
        + "L1,Web,SaaS,10,Al,1,Yes,No\nL2,Web,SaaS,10,Al,1,No,No\nL1,Ads,Fintech,10,Bo,3,No,No\n",
    )
    result = read_history(path)  # duplicates never raise, even in raise mode
    assert result.frame["lead_id"].tolist() == ["L1", "L2"]
    assert result.frame.loc[0, "source"] == "Web"
    assert any("1 lead id(s) appear more than once (L1)" in w for w in result.warnings)
    rejected = pd.read_csv(result.rejects_path)  # type: ignore[arg-type]
    assert rejected["Lead_Source"].tolist() == ["Ads"]
    assert "duplicate lead id (first at row 2" in rejected.loc[0, "reject_reason"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "leads.csv is a PDF document, not a CSV"),
        (b'[{"lead_id": "L1"}]', "leads.csv is JSON, not a CSV file"),
        (b"\x00\x01\x02\x03binary\x00", "leads.csv is a binary file"),
        (b"PK\x03\x04rest-of-zip", "leads.csv is a ZIP archive"),
    ],
)
def test_not_a_csv(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match=message):
        read_history(path)


def test_column_of_the_wrong_type(tmp_path: Path) -> None:
    rows = "".join(f"L{i},Web,SaaS,10,Al,soon,Yes,No\n" for i in range(6))
    path = _write(tmp_path, SEED_HEADER + rows)
    with pytest.raises(DataValidationError) as info:
        read_history(path, on_error="skip")  # a mis-mapped column is not skipped row by row
    message = str(info.value)
    assert "column 'Time_to_Contact_Hours' of leads.csv should hold a number >= 0" in message
    assert "6 of its 6 values do not (row 2: 'soon'" in message
    assert info.value.hint
    assert "right column for time_to_contact_hours" in info.value.hint


def test_missing_lead_id_value(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_HEADER + "L1,Web,SaaS,10,Al,1,Yes,No\n,Web,SaaS,10,Al,1,No,No\n")
    with pytest.raises(DataValidationError, match=r"row 3, column 'Lead_ID': '' is empty"):
        read_history(path)


def test_won_but_not_converted_is_a_row_error(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_HEADER + "L1,Web,SaaS,10,Al,1,No,Yes\n")
    with pytest.raises(DataValidationError, match=r"'Closed_Won': 'Yes' says won but"):
        read_history(path)


def test_first_contact_before_creation(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "lead_id,created_at,first_contact_at\nA,2024-01-02 10:00,2024-01-02 09:00\n"
        "B,2024-01-02 10:00,2024-01-02 12:00\n",
    )
    result = read_history(path, on_error="skip")
    assert result.frame["time_to_contact_hours"].tolist() == [2.0]
    assert result.rejects[0].reason == "is before the lead was created"


def test_missing_file_and_bad_on_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"does not exist"):
        read_history(tmp_path / "nope.csv")
    with pytest.raises(Exception, match=r"on_error must be one of raise, skip"):
        read_history(tmp_path / "nope.csv", on_error="ignore")  # type: ignore[arg-type]


def test_unreadable_rejects_dir_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(
        tmp_path, SEED_HEADER + "L1,Web,SaaS,10,Al,1,Yes,No\nL1,Web,SaaS,10,Al,1,Yes,No\n"
    )
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    monkeypatch.chdir(tmp_path)
    result = read_history(path, rejects_path=blocked / "r.csv")
    assert result.rejects_path == tmp_path / "r.csv"
    assert any("could not write" in w for w in result.warnings)


def test_unknown_timezone(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED_HEADER + "L1,Web,SaaS,10,Al,1,Yes,No\n")
    with pytest.raises(ConfigError, match=r"unknown time zone 'Mars/Base'"):
        read_history(path, timezone="Mars/Base")


def test_check_requirements_per_purpose(tmp_path: Path) -> None:
    path = _write(tmp_path, "lead_id,source\nA,web\n")
    frame = read_history(path).frame
    check_requirements(frame, "validate")
    check_requirements(frame, "route")
    with pytest.raises(
        DataValidationError, match=r"to audit leadpilot needs converted or closed_won"
    ):
        check_requirements(frame, "audit")
    with pytest.raises(DataValidationError, match=r"to learn leadpilot needs rep_id"):
        check_requirements(frame, "learn")
    with pytest.raises(ConfigError, match=r"unknown purpose 'fly'; allowed: validate, audit"):
        check_requirements(frame, "fly")


MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"


@pytest.mark.shared_data(MAVEN.name)
def test_maven_copy_with_a_bad_row_rejects_the_pipeline_row_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "maven"
    shutil.copytree(MAVEN, folder)
    pipeline = folder / "sales_pipeline.csv"
    lines = pipeline.read_bytes().split(b"\r\n")
    original = lines[5]
    fields = original.split(b",")
    fields[7] = b"lots"  # close_value
    lines[5] = b",".join(fields)
    pipeline.write_bytes(b"\r\n".join(lines))
    result = read_history(folder, on_error="skip")
    assert len(result.frame) == 8799
    assert result.rejects_path == folder / "maven.rejects.csv"
    rejected = result.rejects_path.read_text(encoding="utf-8").splitlines()
    assert rejected[0] == (
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,"
        "close_value,reject_reason"
    )
    assert rejected[1].startswith(lines[5].decode() + ",")
    assert "close_value: 'lots' is not a number" in rejected[1]
    assert result.rejects[0].row == 6


def test_misspelt_optional_column_is_named_in_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "lead_id,rep_id,converted,industy\nA,r1,yes,SaaS\n")
    result = read_history(path)
    assert result.frame["industry"].isna().all()
    assert result.unmapped == ("industy",)
    assert any(
        "column 'industy' was not used: did you mean 'industry' (industry)?" in w
        for w in result.warnings
    )


def test_every_row_rejected_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "lead_id,converted\nA,perhaps\nB,maybe\n")
    with pytest.raises(DataValidationError, match=r"all 2 rows were rejected \(first: row 2"):
        read_history(path, on_error="skip")
    assert (tmp_path / "leads.rejects.csv").exists()


def test_dates_running_backwards_are_kept_with_a_warning(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "lead_id,created_at,closed_at\nA,2024-03-05,2024-03-01\nB,2024-03-05,2024-04-01\n",
    )
    result = read_history(path)
    assert len(result.frame) == 2
    assert "1 row(s) have closed_at before created_at" in " ".join(result.warnings)
