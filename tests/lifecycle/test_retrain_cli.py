"""``leadpilot retrain`` from the command line: the first run makes the first champion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app

from .conftest import load_world


@pytest.mark.slow
def test_first_retrain_makes_the_first_champion(tmp_path: Path, small_world) -> None:
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    load_world(url, small_world).dispose()
    runner = CliRunner()
    args = ["retrain", "--db", url, "--store", str(tmp_path / "models"), "--window", "3y"]
    result = runner.invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["action"] == "first_champion"
    assert doc["champion_before"] is None
    labelled = int(small_world.history["converted"].notna().sum())
    assert doc["training"]["labelled_rows"] == labelled  # every settled history lead
    listed = json.loads(runner.invoke(build_app(), ["model", "list", "--db", url, "--json"]).stdout)
    assert [(m["version"], m["status"]) for m in listed] == [(doc["challenger"], "champion")]
    # The version's folder holds what the registry's checksums describe.
    assert (tmp_path / "models" / doc["challenger"] / "model.json").is_file()
    # Nothing else changes: the second run on the same data trains the same model.
    again = json.loads(runner.invoke(build_app(), [*args, "--json"]).stdout)
    assert again["action"] == "unchanged"
    assert again["challenger"] == doc["challenger"]
    # A bad window is a clear error, exit 2.
    bad = runner.invoke(build_app(), ["retrain", "--db", url, "--window", "lots"])
    assert bad.exit_code == 2
    assert "not a duration" in bad.output
