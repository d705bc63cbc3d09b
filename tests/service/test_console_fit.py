"""Rating a lead's fit from the console's decision page: admins only, CSRF-checked, the
same fit_feedback event as the API (counted by GET /v1/feedback), once per decision."""

from __future__ import annotations

import re

from .conftest import Api
from .test_console import CSRF, login


def _decision(api: Api, lead_id: str) -> dict[str, object]:
    resp = api.post("/v1/leads", {"lead_id": lead_id, "email": f"{lead_id}@example.com"})
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["decision"])


def test_an_admin_rates_the_fit_from_the_decision_page(api: Api) -> None:
    d = _decision(api, "L1")
    rep, page_url = d["rep_id"], f"/decisions/{d['id']}"
    login(api, "admin")
    page = api.client.get(page_url).text
    assert f'action="{page_url}/fit"' in page
    assert f"Fit for {rep}" in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    # without the session's CSRF token: refused, nothing recorded
    forged = api.client.post(f"{page_url}/fit", data={"fit": "poor"}, follow_redirects=False)
    assert forged.status_code == 403
    assert api.get("/v1/feedback").json()["ratings"] == 0
    bad = api.client.post(f"{page_url}/fit", data={"csrf": token, "fit": "meh"})
    assert bad.status_code == 422
    done = api.client.post(
        f"{page_url}/fit",
        data={"csrf": token, "fit": "poor", "reason": "too small for us"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{page_url}?rated=poor"
    assert "Recorded: a poor fit." in api.client.get(done.headers["location"]).text
    report = api.get("/v1/feedback").json()
    assert report["ratings"] == 1
    assert [(g["key"], g["poor"]["numerator"], g["poor"]["denominator"])
            for g in report["by_rep"]] == [(rep, 1, 1)]  # fmt: skip
    assert report["reasons"][0]["reason"] == "too small for us"
    # once per decision: a second rating is refused and not counted
    again = api.client.post(f"{page_url}/fit", data={"csrf": token, "fit": "good"})
    assert again.status_code == 409
    assert "Already rated" in again.text
    assert api.get("/v1/feedback").json()["ratings"] == 1


def test_a_reader_sees_no_fit_form_and_cannot_rate(api: Api) -> None:
    d = _decision(api, "L2")
    login(api, "reader")
    page = api.client.get(f"/decisions/{d['id']}").text
    assert not re.search(r'action="/decisions/\d+/fit"', page)
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    resp = api.client.post(f"/decisions/{d['id']}/fit", data={"csrf": token, "fit": "good"})
    assert resp.status_code == 403
    assert "Admin only" in resp.text
    assert api.get("/v1/feedback").json()["ratings"] == 0
