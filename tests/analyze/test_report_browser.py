"""The HTML report renders in headless Chromium (Debian's package) without console errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadpilot.analyze import analyze
from leadpilot.analyze.report_html import write_html
from tests import browser_tools
from tests.browser_tools import chromium_path, playwright_api

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.mark.browser
def test_report_renders_without_console_errors(tmp_path: Path, world: Any) -> None:
    chromium = chromium_path()
    sync_api = playwright_api()
    report = write_html(analyze(world.make(n=4000, seed=8)), tmp_path / "report.html")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            # --headless comes from headless=True; Playwright gives the browser its own
            # temporary --user-data-dir (passing one to launch() is refused).
            args=ARGS[1:],
            headless=True,
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "Routing audit"
            assert page.locator("svg").count() >= 4  # rep, source, 2 heat maps, speed curve
            assert page.locator("#verdict").inner_text().startswith("Predictive routing")
            for box in page.locator("svg").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width)"
            ):
                assert box > 200  # laid out, not collapsed
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith("file://") for u in requests), requests  # nothing fetched online
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_missing_playwright_fails_when_chromium_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under LEADPILOT_REQUIRE_CHROMIUM=1 a missing Playwright is a failure, never a skip."""
    import sys

    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import raises ImportError
    monkeypatch.setattr(browser_tools, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="playwright is required"):
        playwright_api()
    monkeypatch.setattr(browser_tools, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception):
        playwright_api()


# Measured by the browser, every label of every chart must lie inside its chart: nothing cut
# ("Professional Servi", "Organic Searc") and no long rep name clipped on the left (issue 14).
_OUTSIDE = """els => els.flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return Array.from(svg.querySelectorAll('text')).map(t => {
    const r = t.getBoundingClientRect();
    return (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
            || r.bottom > box.bottom + 0.5) ? t.textContent : null;
  }).filter(x => x !== null);
})"""


@pytest.mark.browser
@pytest.mark.slow  # the audit and a browser: about 10 s
def test_no_chart_label_is_cut(tmp_path: Path, world: Any) -> None:
    chromium = chromium_path()
    sync_api = playwright_api()
    frame = world.make(n=3000, seed=4)
    long_industry = {
        "Software": "Professional Services and Consulting",
        "Retail": "Organic Search Marketplaces",
    }
    frame["industry"] = frame["industry"].replace(long_industry)
    names = {
        "rep-01": "Maximiliana Wolfeschlegelstein (rep-01)",
        # beyond 300 px a name is shortened with an ellipsis (in full in the tooltip)
        "rep-02": "Hubert Blaine Wolfeschlegelsteinhausenbergerdorff Senior (rep-02)",
    }
    frame["rep_id"] = frame["rep_id"].replace(names)
    frame["source"] = frame["source"].replace({"Webinar": "Organic Search (Google, Bing, DDG)"})
    frame["created_at"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.arange(len(frame)) * 4, unit="h"
    )
    report = write_html(analyze(frame), tmp_path / "report.html")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS[1:], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri())
            outside = page.locator("svg").evaluate_all(_OUTSIDE)
            texts = " ".join(page.locator("svg text").all_text_contents())
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert outside == []
    # the long names are written out in full (they fit the widened margins)
    assert "Professional Services and Consulting" in texts
    assert "Maximiliana Wolfeschlegelstein (rep-01)" in texts
    assert "Hubert Blaine Wolfeschlegelsteinhausen…" in texts
    assert "Organic Search (Google, Bing, DDG)" in texts
    # the trend charts exist (dates were given)
    assert "by month of creation" in texts
