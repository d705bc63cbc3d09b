"""`leadpilot demo`, the README's main command, runs end to end and shows every step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app

MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"


@pytest.mark.slow
def test_demo_tour_runs_every_step(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["demo", "--dir", str(tmp_path / "tour")])
    assert result.exit_code == 0, result.output
    for title in (
        "A synthetic CRM world with known ground truth",
        "Intake and data quality",
        "Bad input loses nothing",
        "Duplicate leads at intake",
        "The routing audit",
        "Learning who converts what",
        "Routing the new leads",
        "Proving it on history",
        "estimates vs the truth",
        "Keeping the model fresh",
        "Champion vs challenger",
        "Weekly review",
        "Proving it live",
        "Shadow report:",
        "Lift (per_lead)",
        "Lift (switchback)",
        "Conversions or pipeline value?",
        "objective: pipeline_value gives",
        "The live service",
        "Tour finished",
    ):
        assert title in result.output
    for name in (
        "history.csv",
        "reps.csv",
        "truth.json",
        "analysis.html",
        "decisions.csv",
        "model/model_card.md",
        "weekly.html",
        "weekly.md",
        "weekly.json",
        "shadow.html",
        "lift.json",
        "policy-pipeline-value.yaml",
    ):
        assert (tmp_path / "tour" / name).exists(), name


@pytest.mark.slow  # the whole demo on a real export: an acceptance test
@pytest.mark.shared_data(MAVEN.name)
def test_demo_on_the_maven_folder_gives_the_honest_verdict(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["demo", "--dir", str(tmp_path), "--data", str(MAVEN)])
    assert result.exit_code == 0, result.output
    assert "maven-crm" in result.output
    assert "does not support predictive routing" in result.output


@pytest.mark.slow  # the whole demo on real exports: acceptance tests
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.shared_data(name))
        for name in (
            "olist-marketing-funnel",
            "x-education-lead-scoring/Leads.csv",
            "uci-bank-marketing/bank-additional-full.csv",
        )
    ],
)
def test_demo_on_other_public_exports(tmp_path: Path, name: str) -> None:
    data = Path(os.environ["LEADPILOT_DATA_DIR"]) / name
    result = CliRunner().invoke(build_app(), ["demo", "--dir", str(tmp_path), "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "Step 3. The routing audit" in result.output


def test_demo_refuses_an_unknown_kind_before_writing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["demo", "--dir", str(tmp_path / "tour"), "--kind", "wobbly"]
    )
    assert result.exit_code == 2, result.output
    assert "unknown kind of world 'wobbly'" in result.output
    assert not (tmp_path / "tour").exists()


@pytest.mark.slow
def test_demo_world_step_writes_the_kind_asked_for(tmp_path: Path) -> None:
    import json

    from rich.console import Console

    from leadpilot.cli import synth as synth_cli

    world = synth_cli.demo_section(Console(width=200), tmp_path, seed=3, kind="thin")
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["kind"] == "thin" == world.truth.kind
    assert len(world.history) == 12_000  # the thin kind's size, not the default 20,000
    assert len(truth["rep_effects"]) == 3 * len(world.reps)
