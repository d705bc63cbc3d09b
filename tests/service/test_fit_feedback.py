"""Reps' feedback on fit: the event, storage, and the summary by strategy, rep and segment."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from .conftest import Api

POLICY = """
pools:
  - name: all
    strategy: round_robin
    eligibility: {territory: false}
"""


def _rate(k: int, n: int) -> tuple[float, float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return k / n, ci.low, ci.high


def test_owners_rate_fit_and_the_summary_counts_it(api: Api) -> None:
    assert api.post("/v1/policy", {"policy": POLICY}, role="admin").status_code == 201
    owners = {}
    for i in range(6):
        size = 50 if i < 3 else 5000  # three SMB leads, three Enterprise
        resp = api.post("/v1/leads", {"lead_id": f"L{i}", "company_size": size})
        assert resp.status_code == 201, resp.text
        owners[f"L{i}"] = resp.json()["decision"]["rep_id"]
    ratings = {"L0": "poor", "L1": "good", "L2": "good", "L3": "poor", "L4": "poor", "L5": "good"}
    for lead, fit in ratings.items():
        body = {"event_id": f"fb-{lead}", "type": "fit_feedback", "lead_id": lead, "fit": fit,
                "reason": "Too small for us" if fit == "poor" else None}  # fmt: skip
        resp = api.post("/v1/events", body)
        assert resp.status_code in (200, 201), resp.text
        assert resp.json()["outcome"] == {"fit": fit, "rep_id": owners[lead],
                                          "strategy": "round_robin"}  # fmt: skip
    report = api.get("/v1/feedback").json()
    assert report["ratings"] == 6
    rate, low, high = _rate(3, 6)
    assert (report["poor"]["rate"], report["poor"]["low"], report["poor"]["high"]) == (
        pytest.approx(rate), pytest.approx(low), pytest.approx(high))  # fmt: skip
    segments = {g["key"]: g["poor"] for g in report["by_segment"]}
    assert (segments["SMB"]["numerator"], segments["SMB"]["denominator"]) == (1, 3)
    assert (segments["Enterprise"]["numerator"], segments["Enterprise"]["denominator"]) == (2, 3)
    by_rep = {g["key"]: g["poor"]["numerator"] for g in report["by_rep"]}
    expected: dict[str, int] = {}
    for lead, fit in ratings.items():
        expected[owners[lead]] = expected.get(owners[lead], 0) + (fit == "poor")
    assert by_rep == expected
    assert report["reasons"] == [{"reason": "too small for us", "count": 3}]
    assert report["statement"].startswith("Reps flagged 50% of round-robin assignments")


def test_only_the_owner_rates_and_fit_is_required(api: Api) -> None:
    owner = api.post("/v1/leads", {"lead_id": "L1"}).json()["decision"]["rep_id"]
    other = next(r for r in ("rep-01", "rep-02") if r != owner)
    bad = api.post("/v1/events", {"event_id": "e1", "type": "fit_feedback", "lead_id": "L1",
                                  "rep_id": other, "fit": "poor"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "rep_id"
    missing = api.post("/v1/events", {"event_id": "e2", "type": "fit_feedback", "lead_id": "L1"})
    assert missing.status_code == 422
    wrong = api.post("/v1/events", {"event_id": "e3", "type": "fit_feedback", "lead_id": "L1",
                                    "fit": "meh"})  # fmt: skip
    assert wrong.status_code == 422
    assert api.get("/v1/feedback").json()["ratings"] == 0


SHADOW = """
mode: shadow
pools:
  - name: all
    strategy: predictive
    fallback: round_robin
    eligibility: {territory: false}
predictive:
  shadow_prices: false
"""


def test_the_shadow_report_compares_poor_fits_by_agreement(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from leadpilot.cli.main import build_app
    from leadpilot.policy.table_scorer import TableScorer

    from .conftest import build_api, make_reps, migrated_engine

    url = f"sqlite:///{tmp_path / 'lp.db'}"
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(3))
    # rep-01 is the model's choice for every lead; round-robin agrees a third of the time
    api.service.inputs.scorer = TableScorer({"rep-01": {}}, default=0.1, version="t")
    api.service.inputs.scorer.rates["rep-01"] = {"Retail": 0.5}
    assert api.post("/v1/policy", {"policy": SHADOW}, role="admin").status_code == 201
    agreed = {}
    with api.client:
        for i in range(9):
            d = api.post("/v1/leads", {"lead_id": f"L{i}", "industry": "Retail"}).json()
            decision = d["decision"]
            agreed[f"L{i}"] = decision["rep_id"] == decision["shadow_rep_id"]
            # reps rate the leads the model did not pick for them as poor, but one
            fit = "good" if agreed[f"L{i}"] or i == 8 else "poor"
            body = {"event_id": f"fb{i}", "type": "fit_feedback", "lead_id": f"L{i}", "fit": fit}
            assert api.post("/v1/events", body).status_code in (200, 201)
    out = tmp_path / "shadow.json"
    res = CliRunner().invoke(build_app(), ["report", "shadow", "--db", url, "--json", str(out)])
    assert res.exit_code == 0, res.output
    fb = json.loads(out.read_text())["fit_feedback"]
    n_agreed = sum(agreed.values())
    assert fb["rated"] == 9
    assert (fb["poor_agreed"]["poor"], fb["poor_agreed"]["leads"]) == (0, n_agreed)
    poor_other = sum(1 for i in range(9) if not agreed[f"L{i}"] and i != 8)
    assert (fb["poor_disagreed"]["poor"], fb["poor_disagreed"]["leads"]) == (
        poor_other, 9 - n_agreed)  # fmt: skip
    from leadpilot.evaluate.report_pages import render_shadow_markdown

    markdown = render_shadow_markdown(json.loads(out.read_text()))
    assert "| rated poor fit by the rep, agreed | 0.0%" in markdown
    engine.dispose()


def test_the_console_reps_page_shows_fit_ratings_and_new_reps(api: Api) -> None:
    import re

    policy = (
        POLICY
        + "development:\n  - name: ramp\n    reps: [rep-04]\n    schedule: [{min_share: 0.5}]\n"
    )
    assert api.post("/v1/policy", {"policy": policy}, role="admin").status_code == 201
    owners = [api.post("/v1/leads", {"lead_id": f"L{i}"}).json()["decision"]["rep_id"]
              for i in range(4)]  # fmt: skip
    for i, fit in enumerate(("poor", "good", "poor", "good")):
        body = {"event_id": f"f{i}", "type": "fit_feedback", "lead_id": f"L{i}", "fit": fit}
        assert api.post("/v1/events", body).status_code in (200, 201)
    form = api.client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    api.client.post("/login", data={"csrf": nonce, "token": api.tokens["reader"], "next": "/reps"})
    page = api.client.get("/reps").text
    poor: dict[str, list[int]] = {}
    for owner, fit in zip(owners, ("poor", "good", "poor", "good"), strict=True):
        counts = poor.setdefault(owner, [0, 0])
        counts[0] += fit == "poor"
        counts[1] += 1
    for rep, (k, n) in poor.items():
        assert f"rated {k} of {n} leads a poor fit" in page, rep
    assert "new rep: 50% of pool leads (min 50%)" in page
