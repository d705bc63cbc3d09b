"""The demo's decision log: built through the HTTP service, read back by both reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from leadpilot.cli import report_demo
from leadpilot.store.engine import make_engine
from leadpilot.store.measurement import measured_leads


@pytest.mark.slow  # ~90 leads through the in-process service
def test_demo_section_writes_both_reports_from_the_service_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_demo, "DEMO_LEADS_PER_PHASE", 30)
    out = Console(record=True, width=160)
    result = report_demo.demo_section(out, tmp_path)
    text = out.export_text()
    shadow, lift = result["shadow"], result["lift"]
    # 30 shadow leads; 60 live leads: every one in an arm, a washout, or not randomized
    # (an ownership hold or nobody free), split 30 / 30 between the designs' phases.
    engine = make_engine(f"sqlite:///{tmp_path / 'measured.db'}")
    with engine.connect() as conn:
        logged = measured_leads(conn, mode="shadow", since=None)
    engine.dispose()
    assert len(logged) == 30
    # the report reads the leads with both a recommendation and an assigned rep (holds have none)
    assert shadow["leads"] == sum(
        o.decision.shadow_rep_id is not None and o.decision.rep_id is not None for o in logged
    )
    assert shadow["leads"] >= 25
    assert lift["live_leads"] == 60
    designs = {d["design"]: d for d in lift["designs"]}
    assert set(designs) == {"per_lead", "switchback"}
    in_arms = sum(
        d["predictive"]["leads"] + d["holdout"]["leads"] + d["excluded_washout"]
        for d in designs.values()
    )
    assert in_arms + lift["not_randomized"] == 60
    assert designs["per_lead"]["conversion"]["units"] == (
        designs["per_lead"]["predictive"]["leads"] + designs["per_lead"]["holdout"]["leads"]
    )
    assert json.loads((tmp_path / "lift.json").read_text())["designs"] == lift["designs"]
    assert "<svg" in (tmp_path / "lift.html").read_text()
    assert (tmp_path / "shadow.html").exists()
    assert "Shadow report:" in text
    assert "Lift (switchback)" in text
