"""The HTML report renders in headless Chromium (Debian's package) without console errors."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from leadpilot.analyze import analyze
from leadpilot.analyze.report_html import write_html

CHROMIUM = os.environ.get("LEADPILOT_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("LEADPILOT_REQUIRE_CHROMIUM") == "1"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        if REQUIRED:
            pytest.fail(
                f"chromium is required (LEADPILOT_REQUIRE_CHROMIUM=1) but {CHROMIUM} is missing"
            )
        pytest.skip("Debian's chromium is not installed")
    return path


def _playwright() -> Any:
    """Playwright's sync API; a missing install fails (not skips) when chromium is required."""
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        if REQUIRED:
            pytest.fail(
                "playwright is required (LEADPILOT_REQUIRE_CHROMIUM=1) but not installed: "
                "pip install -e '.[dev]'"
            )
        pytest.skip("playwright is not installed")


@pytest.mark.browser
def test_report_renders_without_console_errors(tmp_path: Path, world: Any) -> None:
    chromium = _chromium()
    sync_api = _playwright()
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
    monkeypatch.setattr(sys.modules[__name__], "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="playwright is required"):
        _playwright()
    monkeypatch.setattr(sys.modules[__name__], "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception):
        _playwright()
