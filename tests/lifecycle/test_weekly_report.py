"""The weekly review: figures checked against a week built by hand through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.schema import Rep
from leadpilot.service.app import create_app
from leadpilot.service.weekly import weekly_report
from leadpilot.service.weekly_pages import render_weekly_html, render_weekly_markdown
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tables import decisions
from leadpilot.store.tokens import create_token

MONDAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
UNTIL = MONDAY + timedelta(days=7)


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def week(tmp_path: Path) -> str:
    """This week: 6 leads, touched after 10, 10, 10 and 300 minutes and two never (SLA
    240 min: 3 of 6 kept); meetings on L0 and L4. Last week: 2 leads, both touched in 5
    minutes. Model probabilities written into the decisions by hand."""
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    engine = make_engine(url)
    upgrade(engine)
    reps = [Rep(rep_id=f"r{i}", pool="sdr", timezone="UTC") for i in range(2)]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        token, _ = create_token(conn, role="writer", name="t")
    clock = Clock()
    app = create_app(Settings(environment="development", worker_enabled=False),
                     engine=engine, clock=clock, seed=1)  # fmt: skip
    h = {"Authorization": f"Bearer {token}"}
    plan = [  # lead, day offset, minutes to touch, meeting, p_convert
        ("P0", -6, 5, False, None), ("P1", -5, 5, False, None),
        ("L0", 0, 10, True, 0.05), ("L1", 1, 10, False, 0.90), ("L2", 1, 10, False, 0.50),
        ("L3", 2, 300, False, 0.20), ("L4", 3, None, True, 0.30), ("L5", 4, None, False, 0.10),
    ]  # fmt: skip
    with TestClient(app) as client:
        for i, (lead, day, touch, meeting, _) in enumerate(plan):
            clock.now = MONDAY + timedelta(days=day, minutes=i)
            body = {"lead_id": lead, "email": f"{lead.lower()}@x{i}.com",
                    "company": f"Zyxcorp {lead} GmbH"}  # fmt: skip
            r = client.post("/v1/leads", json=body, headers=h)
            assert r.status_code == 201, r.text
            start = clock.now
            if touch is not None:
                clock.now = start + timedelta(minutes=touch)
                client.post("/v1/events", json={"event_id": f"t{lead}", "type": "first_touch",
                                                "lead_id": lead}, headers=h)  # fmt: skip
            clock.now = start + timedelta(hours=6)
            kind = "meeting_booked" if meeting else "closed_lost"
            client.post("/v1/events", json={"event_id": f"o{lead}", "type": kind,
                                            "lead_id": lead}, headers=h)  # fmt: skip
    with write_transaction(engine) as conn:
        for lead, _, _, _, p in plan:
            conn.execute(decisions.update().where(decisions.c.lead_id == lead)
                         .values(p_convert=p))  # fmt: skip
    engine.dispose()
    return url


def test_weekly_figures_match_the_hand_count(week: str) -> None:
    engine = make_engine(week)
    with engine.connect() as conn:
        doc = weekly_report(conn, until=UNTIL)
    kpis = {k["kpi"]: k for k in doc["kpis"]}
    assert kpis["leads routed"]["this_week"]["value"] == 6
    assert kpis["leads routed"]["last_week"]["value"] == 2
    sla = kpis["SLA attainment"]
    assert (sla["this_week"]["k"], sla["this_week"]["n"]) == (3, 6)
    assert sla["target_met"] is False
    assert (sla["last_week"]["k"], sla["last_week"]["n"]) == (2, 2)
    # Wilson 95% interval of 3/6, computed by hand: centre and half-width
    z = 1.959963984540054
    centre = (0.5 + z * z / 12) / (1 + z * z / 6)
    half = z * (0.25 / 6 + z * z / 144) ** 0.5 / (1 + z * z / 6)
    assert sla["this_week"]["low"] == pytest.approx(centre - half)
    assert kpis["speed to first touch (median minutes)"]["this_week"]["value"] == pytest.approx(10)
    # Most misrouted: lost with the highest predictions, won with the lowest
    mis = doc["misrouted"]
    assert [x["lead_id"] for x in mis["high_predicted_lost"]] == ["L1", "L2", "L3", "L5"]
    assert [x["lead_id"] for x in mis["low_predicted_won"]] == ["L0", "L4"]
    # Calibration this week: mean prediction (0.05+.9+.5+.2+.3+.1)/6 against 2 meetings of 6
    cal = doc["model"]["calibration_this_week"]
    assert cal["mean_predicted"] == pytest.approx(2.05 / 6)
    assert (cal["observed"]["k"], cal["observed"]["n"]) == (2, 6)
    # The SLA recommendation carries the computed number.
    first = doc["recommendations"][0]
    assert first["area"] == "timeouts"
    assert "SLA attainment 50%" in first["evidence"]
    assert len(doc["recommendations"]) <= 5
    assert doc["notes"]  # fewer than three changes warranted: said, not padded
    assert doc["fit_feedback"] == "No fit feedback from reps in this window."
    engine.dispose()


def test_weekly_report_cli_writes_three_formats(week: str, tmp_path: Path) -> None:
    out, md = tmp_path / "weekly.html", tmp_path / "weekly.md"
    result = CliRunner().invoke(build_app(), [
        "report", "weekly", "--db", week, "--until", UNTIL.date().isoformat(),
        "--out", str(out), "--markdown", str(md), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<h1>Weekly review, 2026-03-02 to 2026-03-09</h1>" in out.read_text()
    assert "| SLA attainment | 50.0%" in md.read_text()
    engine = make_engine(week)
    with engine.connect() as conn:
        doc = weekly_report(conn, until=UNTIL)
    assert render_weekly_markdown(doc) == md.read_text()
    assert render_weekly_html(doc) == out.read_text()
    engine.dispose()


def test_a_week_with_nothing_routed_says_no_data_not_on_target(tmp_path: Path) -> None:
    """Reps with no leads have no fairness index: the report must not count them as
    "0 outside the band, on target", nor say "Only 0 changes"."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with write_transaction(engine) as conn:  # reps on the roster, no lead routed
        upsert_reps(conn, [Rep(rep_id=f"r{i}", pool="sdr", timezone="UTC") for i in range(2)])
    with engine.connect() as conn:
        doc = weekly_report(conn, until=UNTIL)
    engine.dispose()
    fairness = next(k for k in doc["kpis"] if k["kpi"] == "reps outside the fairness band")
    assert fairness["this_week"]["value"] is None
    assert fairness["target_met"] is None
    assert doc["recommendations"] == []
    assert doc["notes"][0].startswith("No change is warranted this week")


STRICT = """
pools:
  - name: sdr
    strategy: round_robin
targets:
  sla_attainment: 0.45
  speed_to_first_touch_minutes: 5
"""


def _activate(url: str, text: str) -> str:
    from leadpilot.service.inputs import policy_from_text
    from leadpilot.store.engine import routing_transaction
    from leadpilot.store.policies import activate_policy, save_policy

    version = policy_from_text(text).policy_hash
    engine = make_engine(url)
    with write_transaction(engine) as conn:
        save_policy(conn, version=version, text=text, author_token_id=None, author="test")
    with routing_transaction(engine) as conn:
        activate_policy(conn, version, action="upload", author_token_id=None, author="test")
    engine.dispose()
    return version


def test_targets_from_the_policy_change_the_verdict(week: str, tmp_path: Path) -> None:
    """The same week (SLA kept on 3 of 6 leads, median first touch 10 minutes over 4
    touched leads) judged by the default targets (90%, 60 min) and by a policy's (45%,
    5 min): the SLA verdict and the speed verdict swap, and so do the recommendations."""
    engine = make_engine(week)
    with engine.connect() as conn:
        before = weekly_report(conn, until=UNTIL)
    engine.dispose()
    kpis = {k["kpi"]: k for k in before["kpis"]}
    sla, speed = kpis["SLA attainment"], kpis["speed to first touch (median minutes)"]
    assert (sla["target"], sla["target_met"], sla["target_from"]) == (0.90, False, "default")
    assert (speed["target"], speed["target_met"]) == (60.0, True)
    assert before["policy_version"] is None
    assert [r["area"] for r in before["recommendations"]] == ["timeouts"]

    version = _activate(week, STRICT)
    engine = make_engine(week)
    with engine.connect() as conn:
        after = weekly_report(conn, until=UNTIL)
    engine.dispose()
    kpis = {k["kpi"]: k for k in after["kpis"]}
    sla, speed = kpis["SLA attainment"], kpis["speed to first touch (median minutes)"]
    assert after["policy_version"] == version
    assert (sla["target"], sla["target_met"]) == (0.45, True)  # 3/6 = 50% >= 45%
    assert (speed["target"], speed["target_met"]) == (5.0, False)  # 10 min > 5
    assert sla["target_from"] == speed["target_from"] == f"policy v{version}"
    assert sla["target_key"] == "targets.sla_attainment"
    # The policy does not set the reassignment target: its default (the alert rule's).
    reassign = kpis["reassignment rate"]
    assert (reassign["target_key"], reassign["target_from"]) == (
        "alerts.reassignment_rate.target", "default")  # fmt: skip
    [rec] = after["recommendations"]
    assert rec["area"] == "pools"
    assert rec["evidence"] == ("median speed to first touch 10 min over 4 touched leads (target 5)")
    assert rec["severity"] == pytest.approx(10 / 5 - 1)
    html, md = render_weekly_html(after), render_weekly_markdown(after)
    assert f"&gt;= 45.0% (from policy v{version})" in html
    assert f"| <= 5 min (from policy v{version}) | MISSED |" in md
    assert "| <= 5.0% (default) |" in md  # reassignment: the alert rule's default target
    assert f"Targets come from the active policy v{version}" in md


class _ChatServer:
    """A local OpenAI-compatible endpoint that records every request body it receives."""

    def __init__(self, status: int = 200) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                reply = {
                    "choices": [
                        {
                            "message": {
                                "role": "assistant",
                                "content": "SLA <slipped>.\n\nSpeed held.",
                            }
                        }
                    ]
                }
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _sla_alert_naming_a_lead(url: str) -> None:
    from leadpilot.store.alerts import open_alert

    engine = make_engine(url)
    with write_transaction(engine) as conn:
        open_alert(conn, key="sla_breach:standard", kind="sla_breach", severity="critical",
                   message="1 lead(s) in lane standard are past their SLA with no first touch; "
                   "the oldest, L5 (l5@x7.com, Zyxcorp L5 GmbH) with r1, is 90 min over",
                   details={}, lead_id="L5", now=MONDAY + timedelta(days=5))  # fmt: skip
    engine.dispose()


def test_narrative_gets_computed_figures_only_and_is_marked_generated(
    week: str, tmp_path: Path
) -> None:
    import json

    _sla_alert_naming_a_lead(week)
    out, md, js = tmp_path / "w.html", tmp_path / "w.md", tmp_path / "w.json"
    with _ChatServer() as server:
        result = CliRunner().invoke(build_app(), [
            "report", "weekly", "--db", week, "--until", UNTIL.date().isoformat(),
            "--out", str(out), "--markdown", str(md), "--json-out", str(js),
            "--llm-url", server.url, "--llm-model", "local-test"])  # fmt: skip
    assert result.exit_code == 0, result.output
    [body] = server.bodies
    assert body["model"] == "local-test"
    sent = body["messages"][1]["content"]
    payload = json.loads(sent)
    # Computed figures reach the model: the SLA KPI (3 of 6) with its target, the alert count.
    sla = next(k for k in payload["kpis"] if k["kpi"] == "SLA attainment")
    assert (sla["this_week"]["k"], sla["this_week"]["n"], sla["target"]) == (3, 6, 0.9)
    assert payload["alerts"] == {"raised": 1, "by_kind": {"sla_breach": 1},
                                 "by_severity": {"critical": 1}, "still_open": 1}  # fmt: skip
    assert payload["misrouted"] == {"closed_with_a_score": 6, "high_predicted_lost": 4,
                                    "low_predicted_won": 2}  # fmt: skip
    # No lead row data: no lead id, e-mail or company, though the report itself lists the
    # misrouted leads and the alert names one.
    for lead in ("P0", "P1", "L0", "L1", "L2", "L3", "L4", "L5"):
        assert lead not in sent, lead
    assert "@x" not in sent
    assert "Zyxcorp" not in sent
    assert "L5" in md.read_text()  # (the report keeps them: only the request leaves them out)
    doc = json.loads(js.read_text())
    assert doc["narrative"] == {"model": "local-test", "text": "SLA <slipped>.\n\nSpeed held.",
                                "generated": True}  # fmt: skip
    page = out.read_text()
    assert "Generated by a language model (local-test)" in page
    assert "<p>SLA &lt;slipped&gt;.</p><p>Speed held.</p>" in page  # escaped, by paragraph
    assert "## Narrative (generated by local-test; not checked by leadpilot)" in md.read_text()
    assert "SLA &lt;slipped&gt;." in md.read_text()


def test_a_failing_narrative_endpoint_exits_2_and_writes_nothing(week: str, tmp_path: Path) -> None:
    """As the audit: a clear message and exit 2; no half-written report."""
    out = tmp_path / "w.html"
    with _ChatServer(status=500) as server:
        result = CliRunner().invoke(build_app(), [
            "report", "weekly", "--db", week, "--until", UNTIL.date().isoformat(),
            "--out", str(out), "--llm-url", server.url, "--llm-model", "m"])  # fmt: skip
    assert result.exit_code == 2
    assert "answered HTTP 500" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    result = CliRunner().invoke(build_app(), [
        "report", "weekly", "--db", week, "--out", str(out), "--llm-url", "http://127.0.0.1:9/v1",
        "--llm-model", "m"])  # fmt: skip
    assert result.exit_code == 2
    assert "could not reach the narrative endpoint" in result.output
    result = CliRunner().invoke(build_app(), [
        "report", "weekly", "--db", week, "--llm-url", "http://127.0.0.1:9/v1"])  # fmt: skip
    assert result.exit_code == 2
    assert "--llm-url and --llm-model go together" in result.output
    assert not out.exists()
