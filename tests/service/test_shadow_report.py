"""The shadow-mode report on decisions and outcome events made through the HTTP service, on
SQLite and PostgreSQL, checked against a hand computation."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from scipy import stats
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.evaluate.lift import policies_by_version
from leadpilot.evaluate.report_pages import render_shadow_html, render_shadow_markdown
from leadpilot.evaluate.shadow import shadow_report
from leadpilot.ingest.roster import leads_from_frame
from leadpilot.store.measurement import measured_leads, policy_texts
from leadpilot.synth import generate_world
from leadpilot.synth.truth import GroundTruthScorer

from .conftest import build_api, make_reps, migrated_engine

SHADOW = """
mode: shadow
pools:
  - name: sdr
    strategy: predictive
    fallback: round_robin
predictive:
  shadow_prices: false
  explore: 0.2
"""

N_LEADS = 48


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lp.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def _wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% score interval, written out (Wilson 1927)."""
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _shadow_log(url: str) -> tuple[sa.Engine, list[dict], dict[str, bool]]:
    """Route the world's new leads in shadow mode over HTTP and close them with a fixed
    pattern of wins; return the decisions and each lead's outcome."""
    world = generate_world(n_leads=300, n_reps=5, n_new_leads=N_LEADS, seed=11)
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(5, cap=1000))
    api.service.inputs.scorer = GroundTruthScorer(world.truth)
    r = api.post("/v1/policy", {"policy": SHADOW, "activate": True}, role="admin")
    assert r.status_code == 201, r.text
    decisions, won = [], {}
    with api.client:
        for i, lead in enumerate(leads_from_frame(world.new_leads)):
            body = {
                "lead_id": lead.lead_id,
                "industry": lead.industry,
                "company_size": lead.company_size,
                "region": lead.region,
                "country": lead.country,
                "product": lead.product,
                "language": lead.language,
            }
            resp = api.post("/v1/leads", body)
            assert resp.status_code == 201, resp.text
            d = resp.json()["decision"]
            decisions.append(d)
            if i % 9 == 4:
                continue  # still open
            # Wins follow the model where it is confident, with exceptions, so some
            # confident predictions are wrong.
            won[d["lead_id"]] = (d["p_convert"] > 0.3) != (i % 5 == 0)
            kind = "closed_won" if won[d["lead_id"]] else "closed_lost"
            event = {"event_id": f"e{i}", "type": kind, "lead_id": d["lead_id"]}
            assert api.post("/v1/events", event).status_code == 201
            api.clock.advance(minutes=20)
    return engine, decisions, won


def _q(d: dict, rep: str) -> float:
    return next(c["p_convert"] for c in d["candidates"] if c["rep_id"] == rep)


def test_shadow_report_matches_hand_computation(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, decisions, won = _shadow_log(db_url)
    assert all(d["mode"] == "shadow" and d["shadow_rep_id"] for d in decisions)
    with engine.connect() as conn:
        doc = shadow_report(
            measured_leads(conn, mode="shadow"), policies_by_version(policy_texts(conn))
        ).as_dict()

    y = {d["lead_id"]: float(won.get(d["lead_id"], False)) for d in decisions}
    agree = [d for d in decisions if d["rep_id"] == d["shadow_rep_id"]]
    disagree = [d for d in decisions if d["rep_id"] != d["shadow_rep_id"]]
    assert 0 < len(agree) < N_LEADS  # the fixture gives both kinds
    assert doc["leads"] == N_LEADS
    assert doc["agreement"]["rate"] == pytest.approx(len(agree) / N_LEADS)
    assert (doc["agreement"]["ci_low"], doc["agreement"]["ci_high"]) == pytest.approx(
        _wilson(len(agree), N_LEADS)
    )
    k = int(sum(y[d["lead_id"]] for d in disagree))
    assert doc["converted_disagreed"]["won"] == k
    assert (doc["converted_disagreed"]["ci_low"], doc["converted_disagreed"]["ci_high"]) == (
        pytest.approx(_wilson(k, len(disagree)))
    )

    # Doubly robust by hand: q(recommended) + 1[agree] / propensity * (y - q(assigned)).
    terms = []
    for d in decisions:
        q_rec, q_act = _q(d, d["shadow_rep_id"]), _q(d, d["rep_id"])
        weight = (d["rep_id"] == d["shadow_rep_id"]) / d["propensity"]
        terms.append(q_rec + weight * (y[d["lead_id"]] - q_act) - y[d["lead_id"]])
    lift = statistics.mean(terms)
    se = statistics.stdev(terms) / math.sqrt(len(terms))
    f = doc["following"]
    assert doc["scored_leads"] == N_LEADS
    assert f["logged_rate"] == pytest.approx(statistics.mean(y.values()))
    assert f["dr_rate"]["rate"] == pytest.approx(lift + statistics.mean(y.values()))
    assert f["lift"]["mean"] == pytest.approx(lift)
    half = stats.t.ppf(0.975, N_LEADS - 1) * se
    assert (f["lift"]["ci_low"], f["lift"]["ci_high"]) == pytest.approx((lift - half, lift + half))
    assert f["dr_rate"]["ci_low"] <= f["dr_rate"]["rate"] <= f["dr_rate"]["ci_high"]
    # Go / no-go follows the interval; "wait" says how many leads would tell.
    if lift - half > 0:
        assert doc["decision"] == "go"
    elif lift + half < 0:
        assert doc["decision"] == "no-go"
    else:
        z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
        assert doc["decision"] == "wait"
        assert doc["leads_needed"] == math.ceil(N_LEADS * (z * se / abs(lift)) ** 2)
    # Deterministic fallback (propensity 1): every disagreement is unsupported.
    assert doc["overlap"]["unsupported_share"] == pytest.approx(len(disagree) / N_LEADS)

    # Breakdown by rep adds up; the worst cases are closed, wrong by > 0.5, ranked.
    assert sum(g["leads"] for g in doc["by_rep"]) == N_LEADS
    assert sum(g["leads"] for g in doc["by_segment"]) == N_LEADS
    by_rep = {g["group"]: g for g in doc["by_rep"]}
    for rep, g in by_rep.items():
        mine = [d for d in decisions if d["rep_id"] == rep]
        assert g["agreement"] == pytest.approx(
            sum(d["rep_id"] == d["shadow_rep_id"] for d in mine) / len(mine)
        )
    wrong = sorted(
        (
            -abs(y[d["lead_id"]] - d["p_convert"]) * d["confidence"],
            d["lead_id"],
        )
        for d in decisions
        if d["lead_id"] in won and abs(y[d["lead_id"]] - d["p_convert"]) > 0.5
    )[:10]
    assert [c["lead_id"] for c in doc["confident_and_wrong"]] == [lead for _, lead in wrong]
    assert doc["confident_and_wrong"], "the fixture makes some confident predictions wrong"

    html = render_shadow_html(doc)
    assert "<script" not in html
    assert doc["decision"].upper() in html
    assert "Shadow mode report" in render_shadow_markdown(doc)
    js = tmp_path / "shadow.json"
    res = CliRunner().invoke(build_app(), ["report", "shadow", "--db", db_url, "--json", str(js)])
    assert res.exit_code == 0, res.output
    assert json.loads(js.read_text())["following"]["lift"]["mean"] == pytest.approx(lift)
    engine.dispose()


def test_report_rejects_a_bad_date_and_an_empty_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    migrated_engine(url).dispose()
    res = CliRunner().invoke(build_app(), ["report", "lift", "--db", url, "--since", "March"])
    assert res.exit_code == 2
    assert "not a date" in res.output
    res = CliRunner().invoke(build_app(), ["report", "shadow", "--db", url])
    assert res.exit_code == 0
    assert "no shadow-mode decisions" in res.output
    res = CliRunner().invoke(build_app(), ["report", "lift", "--db", url])
    assert res.exit_code == 0
    assert "No live decision" in res.output
    missing = f"sqlite:///{tmp_path / 'none' / 'x.db'}"
    res = CliRunner().invoke(build_app(), ["report", "lift", "--db", missing])
    assert res.exit_code == 2, res.output
