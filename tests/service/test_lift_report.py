"""The lift report on decisions and outcome events made through the HTTP service, on SQLite
and PostgreSQL, checked against a hand computation (per-lead holdout and switchback)."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from scipy import stats
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.evaluate.lift import lift_report, policies_by_version
from leadpilot.evaluate.report_pages import render_lift_html
from leadpilot.store.measurement import measured_leads, policy_texts

from .conftest import Api, build_api, make_reps, migrated_engine

PER_LEAD = """
pools:
  - name: sdr
    strategy: round_robin
predictive:
  holdout: 0.4
"""

SWITCHBACK = """
pools:
  - name: sdr
    strategy: round_robin
predictive:
  holdout: 0.5
  holdout_design: switchback
  switchback: {block_minutes: 60, washout_minutes: 15, seed: 3}
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lp.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def _api(url: str, policy: str) -> tuple[Api, sa.Engine]:
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(4, cap=1000))
    r = api.post("/v1/policy", {"policy": policy, "activate": True}, role="admin")
    assert r.status_code == 201, r.text
    return api, engine


def _event(api: Api, kind: str, lead_id: str, **extra: object) -> None:
    body = {"event_id": f"{kind}-{lead_id}", "type": kind, "lead_id": lead_id, **extra}
    r = api.post("/v1/events", body)
    assert r.status_code == 201, r.text


def _outcomes(i: int) -> tuple[bool, bool, float | None]:
    """A fixed pattern of (won, meeting, pipeline amount) for the i-th lead."""
    won = i % 3 == 0 or i % 7 == 0
    meeting = won or i % 4 == 1
    amount = float(1000 + 100 * (i % 5)) if meeting else None
    return won, meeting, amount


def _route(api: Api, n: int, step_minutes: float) -> list[dict]:
    decisions = []
    for i in range(n):
        r = api.post("/v1/leads", {"lead_id": f"L{i:03d}", "email": f"l{i}@x.example"})
        assert r.status_code == 201, r.text
        decision = r.json()["decision"]
        won, meeting, amount = _outcomes(i)
        if meeting:
            _event(api, "meeting_booked", decision["lead_id"])
            _event(api, "opportunity_created", decision["lead_id"], amount=amount)
        if i % 11 != 5:  # a few leads stay open (not converted yet)
            _event(api, "closed_won" if won else "closed_lost", decision["lead_id"])
        decisions.append({**decision, "i": i})
        api.clock.advance(minutes=step_minutes)
    return decisions


def _welch(treated: list[float], control: list[float]) -> tuple[float, float, float]:
    """Hand computation: difference, its standard error (s^2/n per arm) and t p-value."""
    diff = statistics.mean(treated) - statistics.mean(control)
    se = math.sqrt(
        statistics.variance(treated) / len(treated) + statistics.variance(control) / len(control)
    )
    df = len(treated) + len(control) - 2
    return diff, se, 2 * stats.t.sf(abs(diff) / se, df)


def _report(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        outcomes = measured_leads(conn, mode="live")
        policies = policies_by_version(policy_texts(conn))
    return lift_report(outcomes, policies).as_dict()


def test_per_lead_lift_matches_hand_computation(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api, engine = _api(db_url, PER_LEAD)
    with api.client:
        decisions = _route(api, 60, 7)
    arms: dict[bool, list[int]] = defaultdict(list)
    for d in decisions:
        arms["HOLDOUT" not in d["reasons"]].append(d["i"])
    assert len(arms[True]) >= 10
    assert len(arms[False]) >= 10

    def closed_won(i: int) -> float:
        return float(_outcomes(i)[0] and i % 11 != 5)

    doc = _report(engine)
    assert doc["live_leads"] == 60
    assert doc["not_randomized"] == 0
    (design,) = doc["designs"]
    assert design["design"] == "per_lead"
    won1 = [closed_won(i) for i in arms[True]]
    won0 = [closed_won(i) for i in arms[False]]
    diff, se, p = _welch(won1, won0)
    conv = design["conversion"]
    assert design["predictive"]["leads"] == len(won1)
    assert design["predictive"]["won"] == sum(won1)
    assert conv["difference"] == pytest.approx(diff)
    half = stats.t.ppf(0.975, 58) * se
    assert conv["ci_low"] == pytest.approx(diff - half)
    assert conv["ci_high"] == pytest.approx(diff + half)
    assert conv["p_value"] == pytest.approx(p)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert conv["units_needed"] == math.ceil(60 * (z * se / abs(diff)) ** 2)
    met1 = [float(_outcomes(i)[1]) for i in arms[True]]
    met0 = [float(_outcomes(i)[1]) for i in arms[False]]
    assert design["meetings"]["difference"] == pytest.approx(_welch(met1, met0)[0])
    value1 = [_outcomes(i)[2] or 0.0 for i in arms[True]]
    value0 = [_outcomes(i)[2] or 0.0 for i in arms[False]]
    assert design["pipeline_per_lead"]["difference"] == pytest.approx(_welch(value1, value0)[0])
    assert design["predictive"]["pipeline_total"] == pytest.approx(sum(value1))
    assert design["predictive"]["still_open"] == sum(1 for i in arms[True] if i % 11 == 5)
    # The running estimate ends at the full-sample estimate.
    assert design["running"][-1]["leads"] == 60
    assert design["running"][-1]["difference"] == pytest.approx(diff)
    assert "interference" in design["caveats"][0]

    # The CLI reads the same database and writes the same figures.
    out, js = tmp_path / "lift.html", tmp_path / "lift.json"
    res = CliRunner().invoke(
        build_app(), ["report", "lift", "--db", db_url, "--out", str(out), "--json", str(js)]
    )
    assert res.exit_code == 0, res.output
    cli_doc = json.loads(js.read_text())
    assert cli_doc["designs"][0]["conversion"]["difference"] == pytest.approx(diff)
    assert "<script" not in out.read_text()
    assert "http" not in out.read_text().split("<svg")[0]
    engine.dispose()


def _off(seed: int, block: int, holdout: float) -> bool:
    """A second implementation of the block draw (the policy's documented hash)."""
    digest = hashlib.sha256(f"{seed}:{block}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < holdout


def test_switchback_lift_counts_blocks_and_drops_washouts(db_url: str) -> None:
    api, engine = _api(db_url, SWITCHBACK)
    api.clock.now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    with api.client:
        decisions = _route(api, 96, 10)  # 16 hours, six leads per one-hour block
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    units: dict[tuple[bool, int], list[float]] = defaultdict(list)
    washouts = 0
    for d in decisions:
        at = datetime.fromisoformat(d["decided_at"])
        block = int((at - epoch) // timedelta(hours=1))
        off = _off(3, block, 0.5)
        assert f"SWITCHBACK_{'OFF' if off else 'ON'}:{block}" in d["reasons"]
        assert ("HOLDOUT" in d["reasons"]) == off
        switched = _off(3, block - 1, 0.5) != off
        in_washout = switched and at.minute < 15
        assert ("WASHOUT" in d["reasons"]) == in_washout
        if in_washout:
            washouts += 1
            continue
        i = d["i"]
        units[(not off, block)].append(float(_outcomes(i)[0] and i % 11 != 5))
    assert washouts > 0
    on = [v for (treated, _), v in units.items() if treated]
    off_ = [v for (treated, _), v in units.items() if not treated]
    assert len(on) >= 3
    assert len(off_) >= 3

    def arm(blocks: list[list[float]]) -> tuple[float, float]:
        """Ratio estimate and its cluster-robust variance, by hand."""
        y = [sum(b) for b in blocks]
        n = [len(b) for b in blocks]
        r = sum(y) / sum(n)
        m = len(blocks)
        squares = sum((yi - r * ni) ** 2 for yi, ni in zip(y, n, strict=True))
        return r, m / (m - 1) * squares / sum(n) ** 2

    (r1, v1), (r0, v0) = arm(on), arm(off_)
    se = math.sqrt(v1 + v0)
    df = len(on) + len(off_) - 2
    doc = _report(engine)
    (design,) = doc["designs"]
    assert design["design"] == "switchback"
    assert design["unit"] == "block"
    assert design["excluded_washout"] == washouts
    conv = design["conversion"]
    assert conv["units"] == len(on) + len(off_)
    assert conv["difference"] == pytest.approx(r1 - r0)
    assert conv["ci_high"] - conv["difference"] == pytest.approx(stats.t.ppf(0.975, df) * se)
    assert conv["p_value"] == pytest.approx(2 * stats.t.sf(abs(r1 - r0) / se, df))
    assert design["predictive"]["units"] == len(on)
    html = render_lift_html(doc)
    assert "switchback" in html
    assert "<svg" in html
    engine.dispose()


def test_a_changed_holdout_share_is_a_caveat(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api, engine = _api(f"sqlite:///{tmp_path / 'lp.db'}", PER_LEAD)
    with api.client:
        _route(api, 20, 7)
        r = api.post(
            "/v1/policy", {"policy": PER_LEAD.replace("0.4", "0.2"), "activate": True}, "admin"
        )
        assert r.status_code == 201, r.text
        for i in range(20, 40):
            assert api.post("/v1/leads", {"lead_id": f"M{i}"}).status_code == 201
    (design,) = _report(engine)["designs"]
    assert design["predictive"]["leads"] + design["holdout"]["leads"] == 40
    assert any("40%" in c and "20%" in c for c in design["caveats"])
    engine.dispose()
