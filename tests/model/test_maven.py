"""The real Maven CRM pipeline (won vs lost, closed deals): a null data set for routing.

Its README shows no detectable agent, sector or agent x sector effect, so the honest result
is "no lift": the model must not lose to the per-agent baseline in log loss (strong ridge
penalty chosen out of time, calibration kept only when it helps out of time).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadpilot.ingest import read_history, read_reps
from leadpilot.model import ConversionModel
from leadpilot.model.evaluation import evaluate

MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"
pytestmark = [pytest.mark.slow, pytest.mark.shared_data(MAVEN.name)]


def test_maven_closed_deals_not_worse_than_per_agent() -> None:
    frame = read_history(MAVEN, format="maven-crm").frame
    reps = read_reps(MAVEN, format="maven-crm")
    report = evaluate(ConversionModel(target="closed_won"), frame, reps)
    win = report.training_window
    assert win["time_column"] == "closed_at"
    assert win["labelled_rows"] == 6_711  # 4,238 won + 2,473 lost
    assert win["test"]["rows"] == round(0.2 * 6_711)
    assert win["test"]["last"].startswith("2017-12-31")
    res = report.metrics
    assert res["model"]["log_loss"] <= res["per-rep rate"]["log_loss"]
    assert 0.4 < res["model"]["auc"] < 0.6  # nothing to find, and nothing claimed
