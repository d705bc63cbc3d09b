"""``/docs`` works with no internet: Swagger UI's assets are served by the app itself
(issue 13, item 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_tools import chromium_path, playwright_api

from .conftest import Api

ORIGIN = "http://leadpilot.test"


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"""url\s*:\s*["']([^"']+)["']""", html
    )


def test_docs_pages_load_every_asset_from_the_app(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        resp = api.client.get(page)
        assert resp.status_code == 200
        assets = _assets(resp.text)
        assert any(a.endswith(".js") for a in assets), assets
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from another host"
            fetched = api.client.get(asset)
            assert fetched.status_code == 200, asset
            if asset.endswith(".js"):
                assert len(fetched.content) > 100_000  # the real bundle, not an error page


@pytest.mark.browser
def test_docs_render_in_chromium_with_the_network_cut_off(api: Api, tmp_path: Path) -> None:
    chromium = chromium_path()
    sync_api = playwright_api()
    blocked: list[str] = []

    def serve(route, request) -> None:  # type: ignore[no-untyped-def]
        # Every request is answered by the app in-process; anything else is "offline".
        if not request.url.startswith(ORIGIN):
            blocked.append(request.url)
            route.abort()
            return
        resp = api.client.get(request.url.removeprefix(ORIGIN))
        route.fulfill(status=resp.status_code, headers=dict(resp.headers), body=resp.content)

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", serve)
            page.goto(f"{ORIGIN}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            operations = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
    spec = api.client.get("/openapi.json").json()
    expected = sum(len(methods) for methods in spec["paths"].values())
    assert operations == expected
    assert title.startswith("leadpilot")
    assert blocked == []
