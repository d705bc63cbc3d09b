"""The deal-value model saved beside the conversion model: exact round trip, stable bytes
(the registry's checksums), refusal of changed files, and no stale model left behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadpilot.errors import ModelError
from leadpilot.model.checksums import artifact_checksums, verify_checksums
from leadpilot.model.value import fit_value_model
from leadpilot.model.value_artifacts import VALUE_FILES, fit_and_save_value, load_value
from leadpilot.schema import HISTORY_COLUMNS, Lead


def history(deals: dict[str, float], n: int = 60) -> pd.DataFrame:
    """``n`` converted leads per rep, every deal of a rep the same size, a quarter won."""
    rows = [
        {"lead_id": f"{rep}{i}", "rep_id": rep, "converted": True, "company_size": 50.0,
         "industry": "Retail" if i % 2 else "Software", "deal_value": value,
         "closed_won": i % 4 == 0}
        for rep, value in deals.items() for i in range(n)
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    for col in HISTORY_COLUMNS:
        if col not in frame:
            frame[col] = None
    frame["converted"] = frame["converted"].astype("boolean")
    frame["closed_won"] = frame["closed_won"].astype("boolean")
    return frame


DEALS = {"ann": 1000.0, "bob": 4000.0}


def test_saved_and_loaded_values_are_identical(tmp_path: Path) -> None:
    fitted, note = fit_and_save_value(history(DEALS), tmp_path)
    assert fitted is not None
    assert "120 deals" in note
    loaded = load_value(tmp_path)
    assert loaded is not None
    assert loaded.version == fitted.version
    lead = Lead("x", company_size=50.0, industry="Retail")
    for objective in ("pipeline_value", "won_revenue"):
        a = fitted.values(lead, ["ann", "bob", "new"], objective)
        b = loaded.values(lead, ["ann", "bob", "new"], objective)
        for x, y in ((a.mean, b.mean), (a.low, b.low), (a.high, b.high)):
            np.testing.assert_array_equal(x, y)
        assert loaded.typical_value(objective) == fitted.typical_value(objective)
    # the hand check: every deal of ann's is 1,000 and of bob's 4,000
    assert loaded.values(lead, ["ann", "bob"], "pipeline_value").mean == pytest.approx(
        [1000.0, 4000.0], rel=0.02
    )


def test_the_files_are_a_function_of_the_model(tmp_path: Path) -> None:
    # the registry checksums the files: saving the same model twice gives the same bytes
    fit_and_save_value(history(DEALS), tmp_path / "a")
    fit_and_save_value(history(DEALS), tmp_path / "b")
    for name in VALUE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_model_folder_checksums_its_value_model(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps({"boosters": []}))
    without = artifact_checksums(tmp_path)
    fit_and_save_value(history(DEALS), tmp_path)
    recorded = artifact_checksums(tmp_path)
    assert set(recorded) == {*without, *VALUE_FILES}
    verify_checksums(tmp_path, recorded, version="cm-test")
    # a value model swapped in after registration is refused, naming the file
    fit_and_save_value(history({"ann": 1000.0, "bob": 9000.0}), tmp_path)
    with pytest.raises(ModelError, match=r"value\.(json|npz) .* was changed after"):
        verify_checksums(tmp_path, recorded, version="cm-test")
    # and one added to a folder registered without it
    with pytest.raises(ModelError, match="lists model files the registry does not know"):
        verify_checksums(tmp_path, without, version="cm-test")


def test_changed_arrays_do_not_load(tmp_path: Path) -> None:
    fitted = fit_value_model(history(DEALS))
    other = fit_value_model(history({"ann": 2000.0, "bob": 4000.0}))
    fit_and_save_value(history(DEALS), tmp_path)
    (tmp_path / "elsewhere").mkdir()
    fit_and_save_value(history({"ann": 2000.0, "bob": 4000.0}), tmp_path / "elsewhere")
    (tmp_path / "value.npz").write_bytes((tmp_path / "elsewhere" / "value.npz").read_bytes())
    assert fitted.version != other.version
    with pytest.raises(ModelError, match="files were changed after it was saved"):
        load_value(tmp_path)
    (tmp_path / "value.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot be read"):
        load_value(tmp_path)


def test_a_history_without_deal_values_leaves_no_value_model(tmp_path: Path) -> None:
    fit_and_save_value(history(DEALS), tmp_path)
    bare = history(DEALS).assign(deal_value=None)
    fitted, note = fit_and_save_value(bare, tmp_path)
    assert fitted is None
    assert "No deal-value model" in note
    assert "NO" not in note or "conversions" in note
    assert not any((tmp_path / name).exists() for name in VALUE_FILES)
    assert load_value(tmp_path) is None
