"""Written files: canonical CSV conventions, and the truth read back from disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.synth import World, load_truth, write_world


@pytest.fixture(scope="module")
def written(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(world, out)
    return out


def test_csv_conventions(written: Path) -> None:
    lines = (written / "history.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(","), strict=True))
    assert first["created_at"].endswith("Z")
    assert "T" in first["created_at"]
    assert first["converted"] in {"true", "false"}
    assert "." not in first["company_size"]
    reps = pd.read_csv(written / "reps.csv", dtype=str, keep_default_na=False)
    assert set(reps["active"]) == {"true", "false"}
    assert reps["start_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert reps["regions"].str.fullmatch(r"[A-Z]+(;[A-Z]+)*").all()


def test_history_csv_round_trips_to_the_same_values(world: World, written: Path) -> None:
    raw = pd.read_csv(written / "history.csv", dtype=str, keep_default_na=False)
    assert len(raw) == len(world.history)
    created = pd.to_datetime(raw["created_at"], utc=True)
    assert (created == world.history["created_at"]).all()
    converted = raw["converted"].map({"true": True, "false": False, "": None})
    assert converted.isna().sum() == world.history["converted"].isna().sum()
    hours = raw["time_to_contact_hours"].astype(float)
    assert np.array_equal(hours, world.history["time_to_contact_hours"])


def test_truth_from_disk_gives_the_same_probabilities(world: World, written: Path) -> None:
    truth = load_truth(written / "truth.json")
    leads = pd.read_csv(written / "new_leads.csv", keep_default_na=False, na_values=[""])
    reps = world.active_rep_ids
    expected = world.truth.true_probability(world.new_leads, reps)
    assert np.allclose(truth.true_probability(leads, reps), expected, rtol=0, atol=1e-12)
    assert truth.duplicates == world.truth.duplicates


def test_load_truth_errors(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="not found"):
        load_truth(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataValidationError, match="is not JSON"):
        load_truth(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}), encoding="utf-8")
    with pytest.raises(DataValidationError, match="not a leadpilot ground-truth file"):
        load_truth(other)


def test_files_read_back_through_the_intake_unchanged(world: World, written: Path) -> None:
    from leadpilot.ingest import read_history
    from leadpilot.ingest.roster import read_accounts, read_reps

    for name, frame in (("history.csv", world.history), ("new_leads.csv", world.new_leads)):
        result = read_history(written / name)
        assert result.format == "canonical"
        got = result.frame
        for col in got.columns:
            same = (got[col] == frame[col]) | (got[col].isna() & frame[col].isna())
            assert bool(same.all()), (name, col)
    reps = read_reps(written / "reps.csv")
    pd.testing.assert_frame_equal(reps, world.reps, check_dtype=False)
    accounts = read_accounts(written / "accounts.csv")
    pd.testing.assert_frame_equal(accounts, world.accounts, check_dtype=False)
    leads = read_history(written / "new_leads.csv").frame
    reps_ids = world.active_rep_ids
    assert np.array_equal(
        world.truth.true_probability(leads, reps_ids),
        world.truth.true_probability(world.new_leads, reps_ids),
    )
