"""The simulate page: self-contained, renders in headless Chromium, refuses poor-overlap numbers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from leadpilot.evaluate.simulation_html import render_simulation_html
from tests.browser_tools import chromium_path, playwright_api


def _interval(rate: float) -> dict[str, float]:
    return {"rate": rate, "ci_low": rate - 0.01, "ci_high": rate + 0.01}


def _policy(name: str, verdict: str) -> dict[str, Any]:
    reliable = verdict != "poor"
    return {
        "name": name,
        "n_leads": 100,
        "estimates": {k: _interval(0.123) for k in ("dm", "ips", "snips", "dr", "switch_dr")},
        "precision": {"dr": {"relative_half_width": 0.25, "resolves_10pct": False,
                             "leads_for_10pct": 625}},
        "lift_vs_logged": {"dr": _interval(0.05)},
        "lift_vs_round_robin": {"dr": _interval(0.10)},
        "overlap": {"ess": 512.0 if reliable else 12.0, "verdict": verdict, "reliable": reliable,
                    "reasons": [] if reliable else ["effective sample size 12 < 100"]},
        "unassigned": 0,
        "leads_per_rep": {"rep-01": 60, "rep-02": 40},
        "fairness_index_range": [0.8, 1.2],
        "peak_daily_load": {"rep-01": 7, "rep-02": 5},
        "share_by_lane": {"standard": 1.0},
        "share_by_strategy": {"predictive": 0.9, "hold": 0.1},
        "sla_attainment": {"attainment": 0.875, "decisions_with_sla": 100, "by_lane": {}},
        "moved_vs_first": None,
    }  # fmt: skip


def _document() -> dict[str, Any]:
    return {
        "replay": {"settled_leads": 100, "routed_leads": 110, "from": "2026-01-01",
                   "to": "2026-01-31", "blocks": 2, "logged_rate": 0.1,
                   "propensity_source": "estimated", "propensity_clip": 0.01},
        "warnings": ["the model was trained on leads up to 2026-01-15 <b>"],
        "policies": [_policy("good_one", "good"), _policy("poor_one", "poor")],
    }  # fmt: skip


def test_poor_overlap_hides_the_weighting_estimates_and_text_is_escaped() -> None:
    page = render_simulation_html(_document())
    good, poor = page.split("<td>good_one</td>")[1], page.split("<td>poor_one</td>")[1]
    assert "12.3%" in good.split("</tr>")[0]
    poor_row = poor.split("</tr>")[0]
    assert poor_row.count("cannot tell") == 6  # IPS, SNIPS, DR, SWITCH-DR and both lifts
    assert "12.3%" in poor_row  # DM (the model alone) stays
    assert "&lt;b&gt;" in page  # a warning's text is escaped
    assert "88%" in page  # SLA attainment
    assert "<th>SWITCH-DR</th>" in page
    # DR's interval is +-25%: the page says +-10% needs (25/10)^2 x 100 = 625 leads
    assert "&plusmn;25% of its estimate" in page
    assert "about 625" in " ".join(page.split())
    assert page.count("of its estimate") == 1  # not for poor_one, whose DR is not shown


@pytest.mark.browser
def test_page_renders_in_chromium_without_errors_or_requests(tmp_path: Path) -> None:
    path = chromium_path()
    sync_api = playwright_api()
    html = tmp_path / "sim.html"
    html.write_text(render_simulation_html(_document()), encoding="utf-8")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            assert page.title().startswith("leadpilot simulate")
            assert page.locator("table").count() == 3
            shot = os.environ.get("LEADPILOT_SCREENSHOT_DIR")
            page.screenshot(
                path=str(Path(shot) / "simulate.png" if shot else tmp_path / "sim.png"),
                full_page=True,
            )
        finally:
            browser.close()
    assert errors == []
    assert requests == [html.as_uri()]  # nothing fetched beyond the page itself
