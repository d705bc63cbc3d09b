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


def test_demo_can_keep_serving_the_dashboard_with_its_token(tmp_path: Path) -> None:
    import httpx

    from leadpilot.cli._serve_demo import demo_service as run

    world = generate_world(n_leads=200, n_reps=6, n_new_leads=60, seed=4)
    write_world(world, tmp_path / "w")
    console = Console(record=True, width=200)
    seen: dict[str, int] = {}

    def visit(url: str, token: str) -> None:  # stands in for the wait until Ctrl-C
        page = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        seen["overview"] = page.status_code
        seen["kpi_rows"] = page.text.count("data-kpi=")
        seen["login"] = httpx.get(url, follow_redirects=False).status_code

    run(console, tmp_path / "w", None, limit=40, keep_serving=True, wait=visit)
    text = console.export_text()
    assert re.search(r"The dashboard is at http://127\.0\.0\.1:\d+/", text)
    assert "Serving until Ctrl-C" in text
    assert seen["overview"] == 200
    assert seen["kpi_rows"] >= 10
    assert seen["login"] == 303
