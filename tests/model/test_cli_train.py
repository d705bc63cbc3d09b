"""``leadpilot train`` / ``leadpilot evaluate`` end to end on CSV files, and the demo hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from typer.testing import CliRunner
from worlds import ToyWorld, toy_world

from leadpilot.cli.main import build_app
from leadpilot.cli.train import demo_section
from leadpilot.model import ConversionModel

runner = CliRunner(env={"COLUMNS": "200"})


def _write(world: ToyWorld, tmp_path: Path) -> tuple[Path, Path, Path]:
    h = world.history
    order = h["created_at"].argsort().to_numpy()
    cut = int(len(h) * 0.85)
    train, later = h.iloc[order[:cut]], h.iloc[order[cut:]]
    cols = [c for c in h.columns if c != "source_row"]
    a, b = tmp_path / "history.csv", tmp_path / "later.csv"
    train[cols].to_csv(a, index=False)
    later[cols].to_csv(b, index=False)
    reps = tmp_path / "reps.csv"
    world.reps.to_csv(reps, index=False)
    return a, b, reps


def test_train_then_evaluate(tmp_path: Path) -> None:
    world = toy_world(5_000, seed=7)
    history, later, reps = _write(world, tmp_path)
    out = tmp_path / "model"
    app = build_app()
    args = ["train", str(history), "--reps", str(reps), "--out", str(out), "--bags", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "logistic regression" in result.output
    assert "per-rep x industry rate" in result.output
    for name in ("model.json", "trees_0.txt", "model_card.md", "metrics.json"):
        assert (out / name).is_file()
    import xml.dom.minidom

    svg = xml.dom.minidom.parse(str(out / "reliability.svg"))
    assert len(svg.getElementsByTagName("circle")) == len(
        json.loads((out / "metrics.json").read_text())["reliability"]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]) >= {"model", "global rate", "per-rep rate"}
    assert metrics["training_window"]["test"]["rows"] == round(0.2 * 4_250)
    card = (out / "model_card.md").read_text()
    assert "Test metrics (latest slice)" in card
    assert metrics["model_version"] in card
    # the router's confidence on the test slice: its distribution and what min_confidence
    # sends to the fallback (a share that can only grow with the threshold)
    conf = metrics["confidence"]
    assert conf["fallback"] == "round-robin"
    assert conf["n"] == conf["leads"] * conf["reps"]
    shares = list(conf["fallback_share"].values())
    assert shares == sorted(shares)
    assert 0.0 <= shares[0] <= shares[-1] <= 1.0
    qs = list(conf["quantiles"].values())
    assert qs == sorted(qs)
    assert "## Router confidence (test slice)" in card
    assert "| min_confidence | 0.5 | 0.6 | 0.7 | 0.8 | 0.9 | 0.95 |" in card

    result = runner.invoke(app, ["evaluate", str(out), str(later)])
    assert result.exit_code == 0, result.output
    assert "Per rep" in result.output
    assert "Reliability" in result.output
    result = runner.invoke(app, ["evaluate", str(out), str(later), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["metrics"]["model"]["n"] == 750
    # A second, independent computation of the AUC on the held-out file.
    from sklearn.metrics import roc_auc_score

    model = ConversionModel.load(out)
    frame = pd.read_csv(later)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    p = model.predict_proba(frame)
    auc = roc_auc_score(frame["converted"].astype(bool), p)
    assert abs(doc["metrics"]["model"]["auc"] - auc) < 0.01


def test_train_refuses_too_little_data_with_exit_2(tmp_path: Path) -> None:
    world = toy_world(300, seed=1)
    history, _, _ = _write(world, tmp_path)
    result = runner.invoke(build_app(), ["train", str(history), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "leads have a known 'converted' outcome" in result.output
    assert "How to fix" in result.output
    assert not (tmp_path / "m" / "model.json").exists()


def test_bad_target_is_rejected(tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(), ["train", "x.csv", "--target", "revenue", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "converted, closed_won" in result.output


def test_evaluate_refuses_a_folder_without_model(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["evaluate", str(tmp_path), "x.csv"])
    assert result.exit_code == 2
    assert "model.json is missing" in result.output


def test_demo_section_prints_table_and_reasons(tmp_path: Path) -> None:
    from leadpilot.synth import generate_world

    world = generate_world(n_leads=3_000, n_reps=8, n_new_leads=50, seed=3)
    console = Console(record=True, width=140)
    model = demo_section(console, tmp_path, world=world)
    text = console.export_text()
    assert "logistic regression" in text
    assert "best rep" in text
    assert (tmp_path / "model" / "model.json").is_file()
    doc = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert np.isfinite(doc["metrics"]["model"]["auc"])
    assert doc["model_version"] == model.version == ConversionModel.load(tmp_path / "model").version


def test_seed_prompt_export_without_dates(tmp_path: Path) -> None:
    """The seed prompt's export: no dates (file order = time), Yes/No outcomes."""
    world = toy_world(3_000, seed=11)
    h = world.history.sort_values("created_at")
    frame = pd.DataFrame(
        {
            "Lead_ID": h["lead_id"],
            "Lead_Source": h["source"],
            "Industry": h["industry"],
            "Company_Size": h["size_band"],
            "Assigned_Rep": h["rep_id"],
            "Time_to_Contact_Hours": h["time_to_contact_hours"].round(1),
            "Converted_to_Opp": np.where(h["converted"].astype(bool), "Yes", "No"),
            "Closed_Won": "No",
        }
    )
    path = tmp_path / "leads.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "m"
    result = runner.invoke(
        build_app(), ["train", str(path), "--out", str(out), "--json", "--bags", "2"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["training_window"]["time_column"] == "file order"
    assert doc["training_window"]["test"]["last"] == "row 3001"
    res = doc["metrics"]
    # ~2,000 training leads without engagement scores: the model beats the per-rep rate but
    # not (here) the shrunk per-rep x industry rate, which is the world's main signal.
    assert res["model"]["auc"] > res["per-rep rate"]["auc"]
    assert res["model"]["log_loss"] < res["per-rep rate"]["log_loss"]
    # closed_won is all "No" here: a single-class target is refused with exit 2.
    result = runner.invoke(
        build_app(), ["train", str(path), "--target", "closed_won", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "needs both outcomes" in result.output
