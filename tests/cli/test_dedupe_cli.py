"""``leadpilot dedupe``: clusters, explanations, duplicate rate vs the KPI, safe CSV export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from leadpilot.cli import dedupe as dedupe_cli
from leadpilot.cli.main import build_app
from leadpilot.ingest.dedupe import find_duplicates

runner = CliRunner()

ROWS = [
    ("L1", "Jane.Doe@acme.com", "Acme", ""),
    ("L2", " jane.doe@ACME.com", "Acme Inc", ""),
    ("L3", "john.smith@acme.com", "Acme [bold]", ""),
    ("L4", "=HYPERLINK(1)@evil.com", "=cmd()", "SF-1"),
    ("L5", "other@globex.com", "Globex", "SF-1"),
    *((f"L{i}", f"person{i}@firm{i}.com", f"Firm {i}", "") for i in range(6, 41)),
]


@pytest.fixture
def leads_csv(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    pd.DataFrame(ROWS, columns=["lead_id", "email", "company", "external_id"]).to_csv(
        path, index=False
    )
    return path


def test_table_output(leads_csv: Path) -> None:
    result = runner.invoke(build_app(), ["dedupe", str(leads_csv)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # 40 records, clusters {L1,L2} (email) and {L4,L5} (external id): 2 duplicates = 5.0%
    assert "40 records, 2 duplicate clusters, 2 duplicates: duplicate rate 5.0%" in result.output
    # Wilson 95% interval of 2/40: 1.4%-16.5%, spans the 3% target
    assert "(95% interval 1.4%-16.5%)" in result.output
    assert "cannot tell yet" in result.output
    assert "same email 'jane.doe@acme.com'" in result.output
    assert "same external_id 'SF-1'" in result.output
    assert "L3" not in result.output.split("why merged")[1]
    assert "email 100.0 - same email" in result.output


def test_json_output(leads_csv: Path) -> None:
    result = runner.invoke(build_app(), ["dedupe", str(leads_csv), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["records"] == 40
    assert report["duplicates"] == 2
    assert report["duplicate_rate"] == pytest.approx(0.05)
    assert [c["records"] for c in report["duplicate_clusters"]] == [["L1", "L2"], ["L4", "L5"]]
    assert report["duplicate_clusters"][0]["merges"][0]["method"] == "email"
    assert report["kpi_target"] == 0.03


def test_csv_export_is_escaped(leads_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = runner.invoke(build_app(), ["dedupe", str(leads_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["record_id"] for r in rows] == ["L1", "L2", "L4", "L5"]
    assert [r["keep"] for r in rows] == ["True", "False", "True", "False"]
    assert rows[1]["matched_with"] == "L1"
    assert rows[1]["method"] == "email"
    assert all(not r["explanation"].startswith(("=", "+", "-", "@")) for r in rows)


def test_bad_threshold_is_rejected(leads_csv: Path) -> None:
    result = runner.invoke(build_app(), ["dedupe", str(leads_csv), "--threshold", "2"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_kpi_verdicts() -> None:
    clean = pd.DataFrame({"lead_id": [str(i) for i in range(400)]})
    clean["email"] = [f"p{i}@x{i}.com" for i in range(400)]
    assert dedupe_cli.kpi_verdict(find_duplicates(clean)).startswith("within")
    dirty = clean.assign(email=[f"p{i // 2}@x{i // 2}.com" for i in range(400)])
    assert dedupe_cli.kpi_verdict(find_duplicates(dirty)).startswith("above")


def test_accounts_option_links_leads(leads_csv: Path, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,domain,owner_rep_id\n"
        "A1,Acme Corporation,acme.com,rep-1\n"
        "A2,Globex,,rep-2\n"
        "A3,Firm 7 Holdings,,rep-3\n",
        encoding="utf-8",
    )
    links_csv = tmp_path / "links.csv"
    args = ["dedupe", str(leads_csv), "--accounts", str(accounts), "--json"]
    result = runner.invoke(build_app(), [*args, "--links-out", str(links_csv)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # L1-L3 @acme.com by domain; L5 "Globex" by name; "Firm 7" = key of "Firm 7 Holdings"
    assert report["account_links"] == {
        "domain": 3,
        "company_exact": 2,
        "company_fuzzy": 0,
        "none": 35,
    }
    links = pd.read_csv(links_csv, dtype=str)
    assert links.set_index("lead_id").loc["L7", "account_id"] == "A3"
    assert links.set_index("lead_id").loc["L5", "method"] == "company_exact"


def test_links_out_needs_accounts(leads_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(), ["dedupe", str(leads_csv), "--links-out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2
    assert "--links-out needs --accounts" in result.output


def test_demo_section(tmp_path: Path) -> None:
    from leadpilot.synth import generate_world, write_world

    write_world(generate_world(n_leads=1_000, n_reps=6, n_new_leads=200, seed=2), tmp_path)
    console = Console(record=True, width=200)
    dedupe_cli.demo_section(console, tmp_path)
    text = console.export_text()
    assert "Duplicate leads at intake" in text
    assert "1,000 records" in text
    # the world's ground truth: 2% of 1,000 history rows are repeat submissions
    assert (
        "Ground truth of the synthetic world: 20 repeat submissions; found 20 of them, plus 0"
        in text
    )
    assert "Lead-to-account links" in text


def test_salesforce_export_with_names_and_phones(tmp_path: Path) -> None:
    path = tmp_path / "sf.csv"
    path.write_text(
        "Id,CreatedDate,Email,Company,FirstName,LastName,Phone,LeadSource,OwnerId,IsConverted\n"
        "00Q1,2025-01-02,jane.doe@acme.com,Acme,Jane,Doe,+1 555 0100,Web,005A,false\n"
        "00Q2,2025-01-03,jane.deo@acme.com,Acme Inc,Jane,Doe,555-0100,Web,005A,false\n"
        "00Q3,2025-01-04,mary.doe@acme.com,Acme,Mary,Doe,555-0199,Web,005B,true\n"
        "00Q4,2025-01-05,jdoe@gmail.com,Acme,Jane,Doe,,Event,005B,false\n",
        encoding="utf-8",
    )
    result = runner.invoke(build_app(), ["dedupe", str(path), "--format", "salesforce", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # Jane Doe three times (a typo'd work email; a gmail address), Mary Doe is a colleague
    assert [c["records"] for c in report["duplicate_clusters"]] == [["00Q1", "00Q2", "00Q4"]]
    merges = report["duplicate_clusters"][0]["merges"]
    assert all(m["method"] == "probabilistic" for m in merges)
    assert any("phone agrees" in m["explanation"] for m in merges)


def test_against_reports_repeats(leads_csv: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.csv"
    new.write_text(
        "lead_id,email,company\n"
        "N1,JANE.DOE@acme.com,Acme\n"  # repeats L1 (and L2)
        "N2,new.person@initech.com,Initech\n"
        "N3,new.person@initech.com,Initech\n",  # repeats N2
        encoding="utf-8",
    )
    out = tmp_path / "repeats.csv"
    args = ["dedupe", str(new), "--against", str(leads_csv), "--out", str(out), "--json"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["incoming"], report["repeats"]) == (3, 2)
    assert [(r["lead_id"], r["first_lead_id"]) for r in report["rows"]] == [
        ("N1", "L1"),
        ("N3", "N2"),
    ]
    assert pd.read_csv(out).lead_id.tolist() == ["N1", "N3"]
    table = runner.invoke(build_app(), ["dedupe", str(new), "--against", str(leads_csv)])
    assert "2 of 3 leads in new.csv repeat a lead of leads.csv" in table.output
