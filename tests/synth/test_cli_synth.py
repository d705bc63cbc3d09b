"""`leadpilot synth`: files written, figures printed, bad options refused."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.cli.synth import print_world_summary
from leadpilot.synth import load_truth

runner = CliRunner()


def test_synth_writes_files_and_prints_lift(tmp_path: Path) -> None:
    out = tmp_path / "w"
    args = ["synth", "--out", str(out), "--leads", "1500", "--reps", "8", "--new-leads", "300"]
    result = runner.invoke(build_app(), [*args, "--seed", "4"])
    assert result.exit_code == 0, result.output
    for name in ("history.csv", "reps.csv", "accounts.csv", "new_leads.csv", "truth.json"):
        assert (out / name).exists()
        assert name in result.output
    assert "Best capacity-feasible (LP)" in result.output
    assert "Round-robin" in result.output
    assert load_truth(out / "truth.json").seed == 4
    assert len((out / "history.csv").read_text().splitlines()) == 1501


def test_synth_json_reports_the_same_figures(tmp_path: Path) -> None:
    args = ["synth", "--out", str(tmp_path), "--leads", "1000", "--reps", "6", "--new-leads", "200"]
    result = runner.invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    e = data["expected_conversions"]
    assert data["optimal_lift"] == e["optimal"] / e["round_robin"] - 1
    assert e["round_robin"] <= e["greedy"] <= e["optimal"] + 1e-9
    assert data["history_rows"] == 1000


def test_synth_months_sets_the_history_period(tmp_path: Path) -> None:
    args = ["synth", "--out", str(tmp_path), "--leads", "500", "--reps", "4", "--new-leads", "40"]
    result = runner.invoke(build_app(), [*args, "--months", "6", "--json"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "history.csv").read_text().splitlines()
    created = sorted(line.split(",")[1] for line in lines[1:])
    assert created[0] >= "2025-01-06"
    assert created[-1] < "2025-07-06"


def test_synth_rejects_too_few_leads(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["synth", "--out", str(tmp_path), "--leads", "5"])
    assert result.exit_code == 2
    assert "--leads" in result.output


def test_world_summary_table(tmp_path: Path) -> None:
    from leadpilot.synth import generate_world

    console = Console(record=True, width=120)
    print_world_summary(console, generate_world(n_leads=500, n_reps=4, n_new_leads=40, seed=1))
    text = console.export_text()
    assert "History leads" in text
    assert "500" in text
    assert "4 (3)" in text
