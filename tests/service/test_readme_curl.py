"""The README's curl example works as written, and a body sent without a JSON content type
gets an error that says so (issue 13, item 13)."""

from __future__ import annotations

import itertools
import json
import re
import shlex
from pathlib import Path

import pytest

from .conftest import Api

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_curl() -> tuple[str, dict[str, str], str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^curl -X POST (?:[^\n]*\\\n)*[^\n]*", text, re.M)
    assert match, "the README has no curl example"
    args = shlex.split(match.group(0).replace("\\\n", " "))
    url = next(a for a in args if "/v1/" in a)
    headers: dict[str, str] = {}
    body = ""
    for flag, value in itertools.pairwise(args):
        if flag == "-H":
            name, _, val = value.partition(":")
            headers[name.strip()] = val.strip()
        elif flag in ("-d", "--data"):
            body = value
    return url.split("8000", 1)[1], headers, body


def test_the_readme_curl_example_routes_a_lead(api: Api) -> None:
    path, headers, body = _readme_curl()
    headers["Authorization"] = f"Bearer {api.tokens['writer']}"
    # curl sends application/x-www-form-urlencoded with -d unless a Content-Type is given.
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    resp = api.client.post(path, content=body.encode(), headers=headers)
    assert resp.status_code == 201, resp.text
    sent = json.loads(body)
    lead = api.get(f"/v1/leads/{sent['lead_id']}").json()
    assert lead["status"] == "routed"
    assert lead["fields"]["size_band"] == sent["company_size"]


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_body_that_is_not_declared_json_gets_415_saying_why(
    api: Api, content_type: str | None
) -> None:
    headers = api.headers("writer")
    if content_type:
        headers["Content-Type"] = content_type
    resp = api.client.post("/v1/leads", content=b'{"lead_id": "F-1"}', headers=headers)
    assert resp.status_code == 415
    error = resp.json()["error"]
    assert error["field"] == "Content-Type"
    assert "application/json" in error["hint"]
    assert (content_type or "no Content-Type") in error["message"]
    ok = api.client.post(
        "/v1/leads",
        content=b'{"lead_id": "F-1"}',
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201
