"""``leadpilot analyze`` end to end: seed-prompt export, maven data set, options, demo hook."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy.stats import binomtest
from typer.testing import CliRunner

from leadpilot.cli.analyze import run_analysis
from leadpilot.cli.main import build_app

runner = CliRunner()
MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"

SIZES = {"11-50": "11-50", "51-200": "51-200", "1001-5000": "1001-5000"}


@pytest.fixture(scope="module")
def seed_prompt_csv(tmp_path_factory: pytest.TempPathFactory, world: Any) -> Path:
    frame = world.make(n=3000, seed=12)
    yes_no = {True: "Yes", False: "No"}
    out = pd.DataFrame(
        {
            "Lead_ID": frame["lead_id"],
            "Lead_Source": frame["source"],
            "Industry": frame["industry"],
            "Company_Size": frame["size_band"].map(SIZES),
            "Assigned_Rep": frame["rep_id"],
            "Time_to_Contact_Hours": frame["time_to_contact_hours"].round(3),
            "Converted_to_Opp": frame["converted"].astype(bool).map(yes_no),
            "Closed_Won": frame["closed_won"].astype(bool).map(yes_no),
        }
    )
    path = tmp_path_factory.mktemp("seed") / "leads_export.csv"
    out.to_csv(path, index=False)
    return path


def test_seed_prompt_export_gives_all_three_reports(seed_prompt_csv: Path, tmp_path: Path) -> None:
    html, js, md = tmp_path / "r.html", tmp_path / "a.json", tmp_path / "r.md"
    result = runner.invoke(
        build_app(),
        [
            "analyze",
            str(seed_prompt_csv),
            "--out",
            str(html),
            "--json",
            str(js),
            "--markdown",
            str(md),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Verdict" in result.output
    assert "Conversion by rep" in result.output
    doc = json.loads(js.read_text())
    # numbers straight from the raw CSV with pandas, independent of the intake
    raw = pd.read_csv(seed_prompt_csv)
    raw["y"] = raw["Converted_to_Opp"].eq("Yes")
    by_rep = raw.groupby("Assigned_Rep")["y"].agg(["size", "sum"])
    got = {r["rep"]: r for r in doc["conversion_by_rep"]}
    for rep, row in by_rep.iterrows():
        assert got[rep]["leads"] == row["size"]
        assert got[rep]["converted"] == row["sum"]
        ci = binomtest(int(row["sum"]), int(row["size"])).proportion_ci(method="wilson")
        assert got[rep]["ci_low"] == pytest.approx(ci.low, abs=1e-12)
    bins = doc["time_to_contact"]["bins"]
    hours = raw["Time_to_Contact_Hours"]
    assert bins[0]["leads"] == int((hours < 5 / 60).sum())
    assert bins[-1]["leads"] == int((hours >= 24).sum())
    assert sum(b["leads"] for b in bins) == len(raw)
    assert doc["verdict"]["supports_predictive_routing"] is True
    text = html.read_text()
    assert "<svg" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    assert md.read_text().startswith("# Routing audit")


@pytest.mark.shared_data(MAVEN.name)
def test_maven_null_data_set_does_not_support_predictive_routing(tmp_path: Path) -> None:
    js = tmp_path / "maven.json"
    result = runner.invoke(
        build_app(),
        ["analyze", str(MAVEN), "--out", str(tmp_path / "m.html"), "--json", str(js), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    assert doc["verdict"]["supports_predictive_routing"] is False
    assert doc["recommendations"]["rules"] == []
    # the README's figures: 8,800 opportunities, 6,711 closed, 4,238 won, 30 agents
    assert doc["data_quality"]["rows"] == 8800
    assert doc["overall"] == {"leads": 6711, "converted": 4238, "rate": pytest.approx(4238 / 6711)}
    assert len(doc["conversion_by_rep"]) == 30
    rates = [r["rate"] for r in doc["conversion_by_rep"]]
    assert min(rates) == pytest.approx(0.550, abs=1e-3)
    assert max(rates) == pytest.approx(0.704, abs=1e-3)
    assert doc["time_to_contact"]["available"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "revenue"], "unknown --target"),
        (["--llm-url", "http://127.0.0.1:9/v1"], "--llm-url and --llm-model go together"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    seed_prompt_csv: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        build_app(), ["analyze", str(seed_prompt_csv), "--out", str(tmp_path / "x.html"), *args]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["analyze", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_demo_hook_writes_the_report(tmp_path: Path, world: Any) -> None:
    console = Console(record=True, width=100)
    path = run_analysis(console, world.make(n=2000, seed=5), None, tmp_path / "out")
    assert path == tmp_path / "out" / "analysis.html"
    assert path.read_text().count("<svg") >= 3
    doc = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert isinstance(doc["verdict"]["supports_predictive_routing"], bool)
    assert str(path) in console.export_text().replace("\n", "")
    assert np.isfinite(doc["verdict"]["projected_lift"]["value"])


def test_roster_capacities_from_a_written_world(tmp_path: Path) -> None:
    from leadpilot.synth import generate_world, write_world

    world = generate_world(n_leads=3000, n_reps=8, n_new_leads=50, seed=4)
    write_world(world, tmp_path / "w")
    js = tmp_path / "a.json"
    result = runner.invoke(
        build_app(),
        [
            "analyze",
            str(tmp_path / "w" / "history.csv"),
            "--reps",
            str(tmp_path / "w" / "reps.csv"),
            "--out",
            str(tmp_path / "r.html"),
            "--json",
            str(js),
            "--min-leads",
            "15",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    assert doc["recommendations"]["capacity_source"].startswith("roster")
    assert doc["methods"]["min_leads"] == 15
    assert doc["data_quality"]["has_dates"] is True
    planned = {p["rep"]: p for p in doc["recommendations"]["plan"]}
    assert all(p["assigned"] <= p["capacity"] + 1e-6 for p in planned.values())


def test_demo_section_audits_the_written_world(tmp_path: Path) -> None:
    from leadpilot.cli.analyze import demo_section
    from leadpilot.synth import generate_world, write_world

    write_world(generate_world(n_leads=2500, n_reps=6, n_new_leads=20, seed=2), tmp_path)
    console = Console(record=True, width=120)
    path = demo_section(console, tmp_path)
    assert path == tmp_path / "analysis.html"
    assert path.exists()
    text = console.export_text()
    assert "Verdict" in text
    assert "Routing audit report" in text


def test_help_has_an_example() -> None:
    result = runner.invoke(build_app(), ["analyze", "--help"])
    assert result.exit_code == 0
    assert "leadpilot analyze history.csv" in result.output


XEDU = MAVEN.parent / "x-education-lead-scoring" / "Leads.csv"


@pytest.mark.shared_data("x-education-lead-scoring/Leads.csv")
def test_lead_scoring_export_without_reps(tmp_path: Path) -> None:
    js = tmp_path / "x.json"
    result = runner.invoke(
        build_app(), ["analyze", str(XEDU), "--out", str(tmp_path / "x.html"), "--json", str(js)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    raw = pd.read_csv(XEDU)
    assert doc["overall"]["leads"] == len(raw)
    assert doc["overall"]["converted"] == int(raw["Converted"].sum())
    assert doc["conversion_by_rep"] == []
    assert doc["verdict"]["supports_predictive_routing"] is False


def test_json_to_stdout(seed_prompt_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(),
        ["analyze", str(seed_prompt_csv), "--out", str(tmp_path / "r.html"), "--json", "-"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["verdict"]["supports_predictive_routing"] is True
