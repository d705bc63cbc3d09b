"""The shadow and lift pages, built from decision logs made through the HTTP service, open
in headless Chromium with no console error and no request beyond the page itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadpilot.evaluate.lift import lift_report, policies_by_version
from leadpilot.evaluate.report_pages import render_lift_html, render_shadow_html
from leadpilot.evaluate.shadow import shadow_report
from leadpilot.store.measurement import measured_leads, policy_texts
from tests.browser_tools import chromium_path, playwright_api

from .test_lift_report import SWITCHBACK, _api, _route
from .test_shadow_report import _shadow_log


def _pages(tmp_path: Path) -> list[Path]:
    api, engine = _api(f"sqlite:///{tmp_path / 'lift.db'}", SWITCHBACK)
    with api.client:
        _route(api, 96, 30)  # two days, so the running estimate has two points
    with engine.connect() as conn:
        lift = lift_report(
            measured_leads(conn, mode="live"), policies_by_version(policy_texts(conn))
        )
    engine.dispose()
    engine, _, _ = _shadow_log(f"sqlite:///{tmp_path / 'shadow.db'}")
    with engine.connect() as conn:
        shadow = shadow_report(measured_leads(conn, mode="shadow"))
    engine.dispose()
    lift_page, shadow_page = tmp_path / "lift.html", tmp_path / "shadow.html"
    lift_page.write_text(render_lift_html(lift.as_dict()), encoding="utf-8")
    shadow_page.write_text(render_shadow_html(shadow.as_dict()), encoding="utf-8")
    return [lift_page, shadow_page]


@pytest.mark.browser
def test_report_pages_render_in_chromium(tmp_path: Path) -> None:
    path = chromium_path()
    sync_api = playwright_api()
    pages = _pages(tmp_path)
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            for html in pages:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(html.as_uri())
                page.wait_for_load_state("load")
                assert page.title().startswith("leadpilot")
                assert page.locator("table").count() >= 2
                page.screenshot(path=str(html.with_suffix(".png")), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [p.as_uri() for p in pages]
    assert "<polyline" in pages[0].read_text()  # the running-estimate chart
