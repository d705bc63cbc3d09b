"""``leadpilot validate``: summary, JSON, exit codes and messages."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console
from typer.testing import CliRunner

import leadpilot.ingest as ingest
from leadpilot.cli.main import build_app
from leadpilot.cli.validate import print_quality
from leadpilot.ingest import quality_report, read_history

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
runner = CliRunner()


def test_validate_prints_summary_and_verdict() -> None:
    result = runner.invoke(build_app(), ["validate", str(FIXTURES / "seed_prompt.csv")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "seed-prompt" in out
    assert "6 read, 6 kept" in out
    assert "66.7% (95% CI 30.0%-90.3%, n=6)" in out  # 4 of 6 converted
    assert "not enough" in out
    assert "only 6 leads with a known outcome" in out
    assert "Alice" in out


def test_validate_json() -> None:
    result = runner.invoke(
        build_app(), ["validate", str(FIXTURES / "salesforce_api.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "salesforce"
    assert data["rows"] == 4
    assert data["outcome"]["successes"] == 1
    assert data["outcome"]["trials"] == 3
    assert data["mapping"]["rep_id"] == "OwnerId"
    assert data["verdict"] == "not enough"


def test_validate_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("Lead_ID,Lead_Sorce,Assigned_Rep,Converted_to_Opp\nL1,Web,A,Yes\n")
    result = runner.invoke(build_app(), ["validate", str(path)])
    assert result.exit_code == 2
    assert "did you mean 'Lead_Sorce'?" in result.output
    assert "Traceback" not in result.output


def test_validate_skip_reports_rejects(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,rep_id,converted\nA,r1,yes\nB,r2,perhaps\nC,r1,no\n")
    rejects = tmp_path / "bad.csv"
    result = runner.invoke(
        build_app(),
        ["validate", str(path), "--on-error", "skip", "--rejects", str(rejects)],
    )
    assert result.exit_code == 0, result.output
    assert "1 row(s) rejected" in result.output
    assert rejects.read_text().splitlines()[1].startswith("B,r2,perhaps,")


def test_validate_unknown_on_error_value(tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(), ["validate", str(FIXTURES / "seed_prompt.csv"), "--on-error", "ignore"]
    )
    assert result.exit_code == 2
    assert "--on-error must be raise or skip" in result.output


def test_print_quality_demo_hook() -> None:
    result = read_history(FIXTURES / "hubspot_contacts.csv")
    console = Console(record=True, width=120)
    print_quality(console, quality_report(result.frame, ingest=result), result=result)
    text = console.export_text()
    assert "Kim Park" in text
    assert "Contact owner" in text  # the column mapping
    assert "Enough history to learn routing from?" in text


def test_public_api_is_complete() -> None:
    public = {
        name
        for name in dir(ingest)
        if not name.startswith("_") and not isinstance(getattr(ingest, name), ModuleType)
    }
    assert public == set(ingest.__all__)


MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"


@pytest.mark.shared_data(MAVEN.name)
def test_validate_maven_folder() -> None:
    result = runner.invoke(build_app(), ["validate", str(MAVEN), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "maven-crm"
    assert data["rows"] == 8800
    assert (data["outcome"]["successes"], data["outcome"]["trials"]) == (4238, 6711)
    assert len(data["reps"]) == 30
    assert data["verdict"] == "usable"


def test_quality_report_tolerates_missing_columns() -> None:
    import pandas as pd

    frame = pd.DataFrame({"lead_id": ["a", "b"], "rep_id": ["r1", "r2"]})
    report = quality_report(frame)
    assert report.rows == 2
    assert report.outcome is None
    assert report.verdict == "not enough"


def test_demo_section_bad_input_loses_nothing(tmp_path: Path) -> None:
    from leadpilot.cli.validate import demo_section

    console = Console(record=True, width=140)
    result = demo_section(console, tmp_path)
    text = console.export_text()
    assert "6 rows, semicolon-separated, Windows-1252): 3 kept, 3 rejected" in text
    assert result.frame["lead_id"].tolist() == ["L-1001", "L-1002", "L-1003"]
    assert result.frame["rep_id"].tolist() == ["Zoé", "José", "Zoé"]
    assert result.frame["time_to_contact_hours"].tolist() == [1.5, 26.0, 0.25]
    assert result.frame["converted"].tolist() == [True, False, True]  # Oui / No / Yes
    assert result.rejects_path == tmp_path / "messy_export.rejects.csv"
    written = result.rejects_path.read_bytes().decode("cp1252").splitlines()
    assert written[1].startswith("L-1002;Salon;Santé;1000+;José;26;No;No;")
    assert written[2].startswith("L-1004;\"'=HYPERLINK(")  # formula escaped
    assert [r.row for r in result.rejects] == [5, 6, 7]
