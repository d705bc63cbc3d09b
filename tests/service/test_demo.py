"""The service step of ``leadpilot demo`` runs end to end on a small synthetic world."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from leadpilot.cli.serve import demo_service
from leadpilot.synth import generate_world, write_world


@pytest.mark.slow
def test_demo_service_posts_leads_and_shows_reassignments(tmp_path: Path) -> None:
    world = generate_world(n_leads=400, n_reps=8, n_new_leads=400, seed=2)
    write_world(world, tmp_path / "w")
    console = Console(record=True, width=120)
    demo_service(console, tmp_path / "w", None)
    text = console.export_text()
    posted = re.search(r"Posted (\d+) new leads over HTTP", text)
    assert posted is not None
    assert int(posted.group(1)) > 0
    assert "SLA breaches reassigned by the background worker" in text
    untouched = int(re.search(r"(\d+) hot leads are still", text).group(1))  # type: ignore[union-attr]
    rows = text.count("SLA_BREACH_REASSIGN")
    stuck = re.search(r"(\d+) breached leads stayed", text)
    assert rows + (int(stuck.group(1)) if stuck else 0) == untouched
    assert untouched > 0
    assert rows > 0
    assert "KPIs: median speed to first touch 5.0 min" in text
