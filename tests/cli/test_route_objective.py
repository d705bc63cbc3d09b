"""``route-batch`` under a value objective: deal values learnt from --history, logged per
decision; a value objective without --history is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.model.value import fit_value_model
from leadpilot.synth import generate_world, write_world

POLICY = "objective: pipeline_value\npools:\n  - name: all\n    eligibility: {territory: false}\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    world = generate_world(n_leads=3_000, n_reps=5, n_new_leads=60, seed=5,
                           deal_values="rep_segment")  # fmt: skip
    write_world(world, out)
    (out / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return out


@pytest.mark.slow
def test_route_batch_logs_the_learnt_expected_value(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "decisions.csv"
    args = ["route-batch", str(folder / "new_leads.csv"), "--reps", str(folder / "reps.csv"),
            "--policy", str(folder / "policy.yaml"), "--history", str(folder / "history.csv"),
            "--truth", str(folder / "truth.json"), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    predictive = frame[frame["reasons"].str.contains("OBJECTIVE:pipeline_value")]
    assert len(predictive) > len(frame) / 2
    # the logged value is the value model's E(deal) for the chosen rep (a second path:
    # the model fitted here on the history file as the CLI read it)
    from leadpilot.ingest import leads_from_frame, read_history

    model = fit_value_model(read_history(folder / "history.csv").frame)
    leads = {
        lead.lead_id: lead
        for lead in leads_from_frame(read_history(folder / "new_leads.csv").frame)
    }
    row = predictive.iloc[0]
    expected = model.values(leads[row["lead_id"]], [row["rep_id"]], "pipeline_value").mean[0]
    assert row["expected_value"] == pytest.approx(expected, rel=1e-6)
    assert np.isnan(frame.loc[~frame.index.isin(predictive.index), "expected_value"]).all()


def test_a_value_objective_without_history_says_what_to_pass(folder: Path, tmp_path: Path) -> None:
    args = ["route-batch", str(folder / "new_leads.csv"), "--reps", str(folder / "reps.csv"),
            "--policy", str(folder / "policy.yaml"), "--truth", str(folder / "truth.json"),
            "--out", str(tmp_path / "d.csv")]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2
    assert "--history" in result.output
    assert not (tmp_path / "d.csv").exists()
