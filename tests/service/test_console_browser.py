"""The console in Debian's chromium (Playwright, no browser download) against a live server
on 127.0.0.1 with data created through the API: every page loads with no console error and
no request leaving 127.0.0.1; filters change the numbers; a decision page shows the right
reasons; an admin marks a rep out of office and the next lead skips them; a reader cannot;
CSRF and the cookie's flags. ``LEADPILOT_CONSOLE_SCREENSHOTS=<dir>`` also saves the overview
and a decision page there (the README's pictures: ``docs/``)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import write_transaction
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token
from tests.browser_tools import chromium_path, playwright_api

from . import console_world as world
from .conftest import Clock, migrated_engine

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("LEADPILOT_CONSOLE_SCREENSHOTS")


@dataclass
class Live:
    """A running server, its tokens, an API client and the scenario's facts."""

    base: str
    tokens: dict[str, str]
    http: httpx.Client
    facts: world.Facts
    clock: Clock

    def api(self, role: str = "reader") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class Watch:
    """Console errors, page errors and requests to anywhere but the server."""

    base: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    requests: int = 0

    def attach(self, context: Any) -> None:
        def route(r: Any, request: Any) -> None:
            self.requests += 1
            if not request.url.startswith(self.base + "/"):
                self.outside.append(request.url)
                r.abort()
                return
            r.continue_()

        context.route("**/*", route)

    def page(self, context: Any) -> Any:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import uvicorn

    chromium_path()
    path = tmp_path_factory.mktemp("console") / "lp.db"
    engine = migrated_engine(f"sqlite:///{path}")
    tokens = {}
    with write_transaction(engine) as conn:
        upsert_reps(conn, world.reps())
        for role in ("admin", "writer", "reader"):
            tokens[role], _ = create_token(conn, role=role, name=f"browser-{role}")
    clock = Clock()
    app = create_app(Settings(worker_enabled=False), engine=engine, clock=clock, seed=3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as http:
        facts = world.build(http, clock, tokens)
        yield Live(base=base, tokens=tokens, http=http, facts=facts, clock=clock)
    server.should_exit = True
    thread.join(15)
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = playwright_api()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"], headless=True
        )
        try:
            yield b
        finally:
            b.close()


def _login(live: Live, browser: Any, role: str) -> tuple[Any, Any, Watch]:
    watch = Watch(live.base)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch.attach(context)
    page = watch.page(context)
    page.goto(live.base + "/")
    assert page.url == live.base + "/login"
    page.fill("input[name=token]", live.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(live.base + "/")
    return context, page, watch


def test_every_page_loads_clean_and_offline(live: Live, browser: Any) -> None:
    context, page, watch = _login(live, browser, "reader")
    cookie = next(c for c in context.cookies() if c["name"] == "leadpilot_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert time.time() < cookie["expires"] <= time.time() + 8 * 3600 + 60
    decision_id = live.http.get("/v1/decisions", headers=live.api()).json()[0]["id"]
    pages = ["/", "/?days=1&pool=sdr", "/decisions", "/decisions?q=acme"]
    pages += [f"/decisions/{decision_id}", "/reps", "/test-lead", "/model", "/policy", "/alerts"]
    for path in pages:
        resp = page.goto(live.base + path)
        assert resp.status == 200, path
        assert page.locator("h1").count() == 1, path
        # The stylesheet applied (served by leadpilot itself).
        assert page.eval_on_selector("header.top", "e => getComputedStyle(e).display") == "flex"
    page.goto(live.base + "/test-lead")
    page.click("form.preview-form button[type=submit]")
    assert "Would " in page.locator("#outcome").inner_text()
    page.click("button.link")  # log out
    page.wait_for_url(live.base + "/login")
    assert not [c for c in context.cookies() if c["name"] == "leadpilot_session"]
    assert page.goto(live.base + "/reps").url.startswith(live.base + "/login")
    assert watch.errors == []
    assert watch.outside == []
    assert watch.requests > 10
    context.close()


def test_filters_change_the_numbers_and_equal_the_api(live: Live, browser: Any) -> None:
    context, page, watch = _login(live, browser, "reader")
    page.fill("input[name=days]", "1")
    page.click(".filters button[type=submit]")
    every = page.locator("tr[data-kpi=reassignment] td.value").inner_text()
    page.select_option("select[name=pool]", "sdr")
    page.click(".filters button[type=submit]")
    assert "pool=sdr" in page.url
    sdr = page.locator("tr[data-kpi=reassignment] td.value").inner_text()
    api = live.http.get("/v1/kpis", params={"days": 1, "pool": "sdr"}, headers=live.api()).json()
    assert sdr == f"{100 * api['reassignment_rate']['rate']:.1f}%"
    assert sdr != every
    assert page.locator("tr[data-kpi=sla] td.value").inner_text() == (
        f"{100 * api['sla_attainment']['rate']:.1f}%"
    )
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-overview.png"), full_page=True)
    # the Alerts page carries the same filters, kept by the navigation
    page.click("nav a:has-text('Alerts')")
    assert "pool=sdr" in page.url
    assert page.locator("select[name=pool]").input_value() == "sdr"
    assert page.locator("input[name=days]").input_value() == "1"
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-alerts.png"), full_page=True)
    assert watch.errors == []
    assert watch.outside == []
    context.close()


def test_a_decision_page_shows_the_right_reasons(live: Live, browser: Any) -> None:
    context, page, watch = _login(live, browser, "reader")
    page.goto(live.base + "/decisions")
    page.fill("input[name=q]", "e5")
    page.click("form.search button[type=submit]")
    rows = page.locator("#decision-log tbody tr")
    assert rows.count() == 2  # the intake decision and the reassignment after the decline
    rows.first.locator("a").first.click()
    history = live.http.get("/v1/decisions", params={"lead_id": "e5"}, headers=live.api()).json()
    latest = history[-1]
    assert page.url.split("?")[0].endswith(f"/decisions/{latest['id']}")
    explanation = page.locator("#explanation").inner_text()
    for code in latest["reasons"]:
        assert code in explanation
    assert f"Assigned to {latest['rep_id']}" in page.locator("#outcome").inner_text()
    for rep_id, code in latest["exclusions"].items():
        row = page.locator(f"#candidates tr[data-rep='{rep_id}']")
        assert code in row.inner_text()
    assert page.locator("#history tbody tr").count() == 2
    assert page.locator("#events").inner_text().count("declined") == 1
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-decision.png"), full_page=True)
    assert watch.errors == []
    assert watch.outside == []
    context.close()


def test_a_reader_cannot_change_reps_and_forms_need_the_csrf_token(
    live: Live, browser: Any
) -> None:
    context, page, watch = _login(live, browser, "reader")
    page.goto(live.base + "/reps")
    assert page.locator("form.rep-form").count() == 0
    assert "admin token" in page.locator("main").inner_text()
    # The reader's own session cookie with a valid CSRF token is still refused (role)...
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    resp = page.request.post(
        live.base + "/reps/rep-02", form={"csrf": token, "ooo_hours": "8", "action": "save"}
    )
    assert resp.status == 403
    context.close()
    # ...and an admin's session without the form's token is refused (CSRF).
    context, page, watch = _login(live, browser, "admin")
    resp = page.request.post(live.base + "/reps/rep-02", form={"ooo_hours": "8"})
    assert resp.status == 403
    resp = page.request.post(live.base + "/reps/rep-02", form={"ooo_hours": "8", "csrf": "x"})
    assert resp.status == 403
    rep = live.http.get("/v1/reps/rep-02", headers=live.api()).json()
    assert rep["out_of_office"] == []
    assert watch.errors == []
    context.close()


def test_an_admin_marks_a_rep_out_of_office_and_the_next_lead_skips_them(
    live: Live, browser: Any
) -> None:
    context, page, watch = _login(live, browser, "admin")
    page.goto(live.base + "/reps")
    row = page.locator("tr[data-rep='rep-01']")
    row.locator("input[name=ooo_hours]").fill("4")
    row.locator("button[value=save]").click()
    page.wait_for_url("**/reps?saved=rep-01")
    assert "out of office" in page.locator("tr[data-rep='rep-01'] td.state").inner_text()
    writer = live.api("writer")
    for i in range(3):  # round robin over three SDRs reaches rep-01 within three leads
        body = world.lead_body(f"ooo-{i}", "EMEA", False)
        decision = live.http.post("/v1/leads", json=body, headers=writer).json()["decision"]
        assert decision["rep_id"] not in (None, "rep-01")
        assert decision["exclusions"]["rep-01"] == "OUT_OF_OFFICE"
    page.locator("tr[data-rep='rep-01'] button[value=back]").click()
    page.wait_for_url("**/reps?saved=rep-01")
    assert "out of office" not in page.locator("tr[data-rep='rep-01'] td.state").inner_text()
    assert watch.errors == []
    assert watch.outside == []
    context.close()
