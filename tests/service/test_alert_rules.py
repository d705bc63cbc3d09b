"""Each alert rule: data that triggers it (one alert, with hand-checked figures), then the
condition clears and the alert resolves. On SQLite, and on PostgreSQL when
LEADPILOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from leadpilot.schema import Rep
from leadpilot.service.alerting import check_alerts
from leadpilot.store.engine import write_transaction
from leadpilot.store.tables import leads as leads_table
from leadpilot.store.tables import reps as reps_table
from leadpilot.store.tables import webhook_deliveries

from .alert_data import add_delivery, add_duplicate, add_lead, add_leads, set_lead
from .conftest import T0, Api, build_api, make_reps, migrated_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_any(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    eng = migrated_engine(url)
    yield eng
    eng.dispose()


def _api(engine: sa.Engine, reps: list[Rep] | None = None) -> Iterator[Api]:
    api = build_api(engine, reps or make_reps())
    with api.client:
        yield api


@pytest.fixture
def api(engine_any: sa.Engine) -> Iterator[Api]:
    yield from _api(engine_any)


def _use_policy(api: Api, alerts_yaml: str, notify_url: str | None = None) -> None:
    text = "pools:\n  - name: all\n    strategy: round_robin\n" + alerts_yaml
    if notify_url:
        text += f'notify_url: "{notify_url}"\n'
    resp = api.post("/v1/policy", {"policy": text}, role="admin")
    assert resp.status_code == 201, resp.text


def _only(keys: list[str], kind: str) -> list[str]:
    """The condition keys of one rule (other rules may fire on the same data)."""
    return [k for k in keys if k.split(":")[0] == kind]


def _open(api: Api) -> dict[str, dict]:
    return {a["condition_key"]: a for a in api.get("/v1/alerts", status="open").json()}


def _of(api: Api, kind: str) -> dict[str, dict]:
    return {k: a for k, a in _open(api).items() if a["kind"] == kind}


def _breach(api: Api) -> None:
    """Hot lead S1: deadline 25 min ago, untouched; S2: 10 minutes left."""
    add_lead(api.engine, "S1", T0 - timedelta(minutes=40), lane="hot",
             sla_deadline=T0 - timedelta(minutes=25))  # fmt: skip
    add_lead(api.engine, "S2", T0 - timedelta(minutes=5), lane="hot",
             sla_deadline=T0 + timedelta(minutes=10))  # fmt: skip


def test_sla_breach_triggers(api: Api) -> None:
    _breach(api)
    assert _only(check_alerts(api.service, T0).opened, "sla_breach") == ["sla_breach:hot"]
    (alert,) = _of(api, "sla_breach").values()
    assert alert["details"]["leads"] == 1
    assert alert["details"]["oldest_minutes_over"] == 25.0
    assert alert["severity"] == "critical"
    # found again: the same alert, refreshed, not a second one
    assert check_alerts(api.service, T0 + timedelta(minutes=1)).refreshed == ["sla_breach:hot"]
    assert (
        len([a for a in api.get("/v1/alerts", status="all").json() if a["kind"] == "sla_breach"])
        == 1
    )


def test_sla_breach_clears(api: Api) -> None:
    _breach(api)
    check_alerts(api.service, T0)
    # S1 touched at T0 + 2 min; S2's deadline (T0 + 10 min) is still ahead at T0 + 3 min
    set_lead(api.engine, "S1", first_touch_at=T0 + timedelta(minutes=2))
    assert check_alerts(api.service, T0 + timedelta(minutes=3)).resolved == ["sla_breach:hot"]
    (resolved,) = [
        a for a in api.get("/v1/alerts", status="resolved").json() if a["kind"] == "sla_breach"
    ]
    assert resolved["resolved_at"] is not None
    assert _of(api, "sla_breach") == {}
    # S2 untouched past its deadline at T0 + 11 min: the lane breaches again, a new alert
    again = check_alerts(api.service, T0 + timedelta(minutes=11)).opened
    assert _only(again, "sla_breach") == ["sla_breach:hot"]
    assert _of(api, "sla_breach")["sla_breach:hot"]["details"]["oldest_minutes_over"] == 1.0


def _fisher_less_by_hand(k_r: int, n_r: int, k_b: int, n_b: int) -> float:
    """P(K <= k_r) for K hypergeometric: the one-sided Fisher p, summed term by term."""
    total, converted = n_r + n_b, k_r + k_b
    denom = math.comb(total, converted)
    return sum(math.comb(n_r, k) * math.comb(n_b, converted - k) for k in range(0, k_r + 1)) / denom


def _drop(api: Api) -> None:
    # default windows: recent = [now-10d, now-3d), baseline = the 28 days before
    for i in range(200):  # baseline 50/200 = 25%
        add_lead(api.engine, f"B{i}", T0 - timedelta(days=20, minutes=i), meeting=i < 50)
    for i in range(60):  # recent 3/60 = 5%
        add_lead(api.engine, f"R{i}", T0 - timedelta(days=5, minutes=i), meeting=i < 3)


def test_conversion_drop_triggers(api: Api) -> None:
    _drop(api)
    check_alerts(api.service, T0)
    found = _of(api, "conversion_drop")
    assert set(found) == {"conversion_drop:all"}  # one pool: "all" pool and total coincide
    details = found["conversion_drop:all"]["details"]
    assert details["recent"] == {"leads": 60, "converted": 3}
    assert details["baseline"] == {"leads": 200, "converted": 50}
    assert details["p_value"] == pytest.approx(_fisher_less_by_hand(3, 60, 50, 200), rel=1e-9)
    assert details["p_value"] < 0.001


def test_conversion_drop_clears(api: Api) -> None:
    _drop(api)
    check_alerts(api.service, T0)
    # 12 more recent meetings: 15/60 = 25%, the baseline's rate
    for i in range(3, 15):
        set_lead(api.engine, f"R{i}", meeting_at=T0 - timedelta(days=4))
    assert _fisher_less_by_hand(15, 60, 50, 200) > 0.4  # far above alpha = 0.01
    assert _only(check_alerts(api.service, T0).resolved, "conversion_drop") == [
        "conversion_drop:all"
    ]
    # the border by hand: 6/60 is still significant, 7/60 no longer (one-sided, alpha 0.01)
    assert _fisher_less_by_hand(6, 60, 50, 200) < 0.01 < _fisher_less_by_hand(7, 60, 50, 200)


def test_conversion_drop_needs_a_minimum_sample(api: Api) -> None:
    for i in range(200):
        add_lead(api.engine, f"B{i}", T0 - timedelta(days=20, minutes=i), meeting=i < 50)
    for i in range(10):  # 0/10 recent: a big drop in percent, but below min_leads=50
        add_lead(api.engine, f"R{i}", T0 - timedelta(days=5, minutes=i))
    assert _only(check_alerts(api.service, T0).opened, "conversion_drop") == []


def _binom_two_sided_by_hand(k: int, n: int, p: float) -> float:
    """Sum of the probabilities no larger than P(k) (the exact test's definition)."""
    probs = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return sum(q for q in probs if q <= probs[k] * (1 + 1e-7))


def _unfair(api: Api) -> int:
    # 4 reps in pool "all"; rep-01 gets 40 leads, the others 10 each: 70 leads, share 17.5
    counts = {"rep-01": 40, "rep-02": 10, "rep-03": 10, "rep-04": 10}
    n = 0
    for rep, k in counts.items():
        for _ in range(k):
            add_lead(api.engine, f"F{n}", T0 - timedelta(hours=1 + n), rep_id=rep)
            n += 1
    return n


def test_fairness_triggers(api: Api) -> None:
    _unfair(api)
    check_alerts(api.service, T0)
    found = _of(api, "fairness")
    # rep-01: index 40/17.5 = 2.29, p ~ 1e-8; the others: index 0.57 each, exact p = 0.0517
    # > 0.01/4, so out of band but not significantly: no alert
    assert set(found) == {"fairness:all:rep-01"}
    d = found["fairness:all:rep-01"]["details"]
    assert d["fairness_index"] == pytest.approx(40 / 17.5)
    assert d["p_value"] == pytest.approx(_binom_two_sided_by_hand(40, 70, 0.25), rel=1e-6)
    assert _binom_two_sided_by_hand(10, 70, 0.25) > 0.01 / 4


def test_fairness_clears(api: Api) -> None:
    n = _unfair(api)
    check_alerts(api.service, T0)
    # the others catch up: 40 each -> index 1.0 for all
    for rep in ("rep-02", "rep-03", "rep-04"):
        for _ in range(30):
            add_lead(api.engine, f"F{n}", T0 - timedelta(minutes=n), rep_id=rep)
            n += 1
    assert _only(check_alerts(api.service, T0).resolved, "fairness") == ["fairness:all:rep-01"]
    rows = api.get("/v1/kpis").json()["fairness"]
    indexes = {r["rep_id"]: r["fairness_index"] for r in rows if r["pool"] == "all"}
    assert indexes == {f"rep-0{i}": pytest.approx(1.0) for i in range(1, 5)}  # 40 / (160 / 4)


def _reassigned(api: Api) -> None:
    for i in range(100):  # 20/100 reassigned: Wilson 95% low = 0.1334 > 5%
        add_lead(api.engine, f"L{i}", T0 - timedelta(hours=i + 1), reassignments=int(i < 20))


def _wilson_low_by_hand(k: int, n: int, z: float = 1.959963984540054) -> float:
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n)


def test_reassignment_rate_triggers(api: Api) -> None:
    _reassigned(api)
    check_alerts(api.service, T0)
    d = _of(api, "reassignment_rate")["reassignment_rate:all"]["details"]
    assert (d["numerator"], d["denominator"]) == (20, 100)
    assert d["low"] == pytest.approx(0.13337, abs=1e-4)  # by hand, z = 1.96
    assert d["low"] == pytest.approx(_wilson_low_by_hand(20, 100), rel=1e-9)


def test_reassignment_rate_clears(api: Api) -> None:
    _reassigned(api)
    check_alerts(api.service, T0)
    for i in range(4, 20):  # 4/100: low 0.0157 <= 5%
        set_lead(api.engine, f"L{i}", reassignments=0)
    assert _only(check_alerts(api.service, T0).resolved, "reassignment_rate") == [
        "reassignment_rate:all"
    ]
    rate = api.get("/v1/kpis").json()["reassignment_rate"]
    assert (rate["numerator"], rate["denominator"]) == (4, 100)
    assert rate["low"] == pytest.approx(_wilson_low_by_hand(4, 100), rel=1e-9)  # 0.0157
    assert rate["low"] == pytest.approx(0.0157, abs=1e-4)


def _duplicated(api: Api) -> None:
    for i in range(100):
        add_lead(api.engine, f"L{i}", T0 - timedelta(hours=i + 1))
    for i in range(25):  # 25 / (100 + 25) = 20%: Wilson low 0.1394 > 3%
        add_duplicate(api.engine, f"L{i}", T0 - timedelta(hours=i + 1))


def test_duplicate_rate_triggers(api: Api) -> None:
    _duplicated(api)
    check_alerts(api.service, T0)
    d = _of(api, "duplicate_rate")["duplicate_rate:all"]["details"]
    assert (d["numerator"], d["denominator"]) == (25, 125)
    assert d["rate"] == pytest.approx(0.2)
    assert d["low"] == pytest.approx(_wilson_low_by_hand(25, 125), rel=1e-9)  # 0.1394


def test_duplicate_rate_clears(api: Api) -> None:
    _duplicated(api)
    check_alerts(api.service, T0)
    # a week later the duplicates are out of the 7-day window; 100 fresh leads, no repeats
    later = T0 + timedelta(days=8)
    for i in range(100):
        add_lead(api.engine, f"M{i}", later - timedelta(hours=i + 1))
    assert _only(check_alerts(api.service, later).resolved, "duplicate_rate") == [
        "duplicate_rate:all"
    ]
    api.clock.now = later
    rate = api.get("/v1/kpis").json()["duplicate_rate"]
    assert (rate["numerator"], rate["denominator"]) == (0, 100)


def _poisson_tail_by_hand(k: int, mean: float) -> float:
    return 1 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k))


def _unusual(api: Api) -> None:
    # equal capacities (100/day each): capacity share 25%; in 24 h rep-01 got 12 of 15
    got = {"rep-01": 12, "rep-02": 1, "rep-03": 1, "rep-04": 1}
    n = 0
    for rep, k in got.items():
        for _ in range(k):
            add_lead(api.engine, f"U{n}", T0 - timedelta(minutes=30 + n), rep_id=rep)
            n += 1


def test_unusual_assignment_triggers(api: Api) -> None:
    _unusual(api)
    check_alerts(api.service, T0)
    found = _of(api, "unusual_assignment")
    assert set(found) == {"unusual_assignment:all:rep-01"}
    d = found["unusual_assignment:all:rep-01"]["details"]
    assert d["forecast"] == pytest.approx(15 * 0.25)
    assert d["basis"] == "capacity"
    assert d["p_value"] == pytest.approx(_poisson_tail_by_hand(12, 3.75), rel=1e-9)


def test_unusual_assignment_clears(api: Api) -> None:
    _unusual(api)
    check_alerts(api.service, T0)
    # a day later those leads left the 24-hour window: nothing assigned, nothing unusual
    later = T0 + timedelta(hours=25)
    assert check_alerts(api.service, later).resolved == ["unusual_assignment:all:rep-01"]
    api.clock.now = later
    assert api.get("/v1/kpis", days=1).json()["speed_to_first_touch"]["routed"] == 0
    # and 3 of 12 to rep-01 (its capacity share, 25%) does not open it again
    for i in range(12):
        add_lead(api.engine, f"V{i}", later - timedelta(minutes=5 + i),
                 rep_id=f"rep-0{1 + i % 4}")  # fmt: skip
    assert _poisson_tail_by_hand(3, 12 * 0.25) > 0.3
    assert _only(check_alerts(api.service, later).opened, "unusual_assignment") == []


_HALF_AND_HALF = (0.5 - 0.5) * math.log(0.5 / 0.5) * 2  # 0: the mixes agree


def _drifted(api: Api) -> None:
    _use_policy(api, "alerts:\n  model_drift: {features: [grade]}\n")
    start = T0 - timedelta(days=30)
    for i in range(200):  # baseline (first 14 days of model m1): A 100, B 100
        add_lead(api.engine, f"D{i}", start + timedelta(hours=i), model_version="m1",
                 grade="A" if i % 2 else "B")  # fmt: skip
    for i in range(200):  # recent 7 days: A 180, B 20
        add_lead(api.engine, f"E{i}", T0 - timedelta(hours=1, minutes=i), model_version="m1",
                 grade="A" if i < 180 else "B")  # fmt: skip


def test_model_drift_triggers(api: Api) -> None:
    _drifted(api)
    check_alerts(api.service, T0)
    d = _of(api, "model_drift")["model_drift:grade"]["details"]
    by_hand = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)  # 0.8789
    assert d["psi"] == pytest.approx(by_hand, rel=1e-9)
    assert (d["baseline_n"], d["recent_n"]) == (200, 200)


def test_model_drift_clears(api: Api) -> None:
    from leadpilot.policy.alert_settings import ModelDriftSettings
    from leadpilot.service.alerting.drift import feature_drift

    _drifted(api)
    check_alerts(api.service, T0)
    # the mix returns to 50/50 in the last week (the drifted leads age out)
    later = T0 + timedelta(days=8)
    for i in range(200):
        add_lead(api.engine, f"G{i}", later - timedelta(hours=1, minutes=i), model_version="m1",
                 grade="A" if i % 2 else "B")  # fmt: skip
    assert _only(check_alerts(api.service, later).resolved, "model_drift") == ["model_drift:grade"]
    with api.engine.connect() as conn:
        settings = ModelDriftSettings(features=["grade"])
        week = {"recent_since": later - timedelta(days=7), "recent_until": later}
        report = feature_drift(conn, settings, **week)
    (grade,) = report.features
    assert (grade.baseline_n, grade.recent_n) == (200, 200)
    assert grade.psi == pytest.approx(_HALF_AND_HALF, abs=1e-12)


_SECRET_URL = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"


def _failed_delivery(api: Api) -> int:
    error = f"ConnectError: cannot reach {_SECRET_URL}"
    return add_delivery(
        api.engine, _SECRET_URL, T0 - timedelta(hours=1), status="failed", attempts=5, error=error
    )


def test_delivery_failures_trigger_without_leaking_the_url(api: Api) -> None:
    _failed_delivery(api)
    check_alerts(api.service, T0)
    found = _of(api, "delivery_failures")
    assert set(found) == {"delivery_failures:https://hooks.slack.com"}
    alert = found["delivery_failures:https://hooks.slack.com"]
    assert alert["details"]["gave_up"] == 1
    assert "SECRET" not in str(api.get("/v1/alerts").json())


def test_delivery_failures_clear(api: Api) -> None:
    delivery = _failed_delivery(api)
    check_alerts(api.service, T0)
    with write_transaction(api.engine) as conn:  # replayed by hand and delivered
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery)
            .values(status="delivered")
        )
    assert _only(check_alerts(api.service, T0).resolved, "delivery_failures") == [
        "delivery_failures:https://hooks.slack.com"
    ]
    with api.engine.connect() as conn:
        statuses = conn.execute(sa.select(webhook_deliveries.c.status)).scalars().all()
    assert "failed" not in statuses
    assert "SECRET" not in str(api.get("/v1/alerts", status="resolved").json())


_QUIET_RATE = 1333 / (14 * 24 * 60)  # leads per working minute over the 14-day baseline


def _quiet(api: Api) -> None:
    # reps always on shift; one lead every 15 min for 14 days, the last 180 min ago
    add_leads(api.engine, [(f"N{j}", T0 - timedelta(minutes=180 + 15 * j)) for j in range(1333)])


def test_no_leads_triggers(api: Api) -> None:
    _quiet(api)
    check_alerts(api.service, T0)
    d = _of(api, "no_leads")["no_leads:all"]["details"]
    assert d["quiet_working_minutes"] == 180
    assert d["leads_per_working_hour"] == pytest.approx(_QUIET_RATE * 60)
    assert d["probability"] == pytest.approx(math.exp(-_QUIET_RATE * 180))  # 6.8e-6


def test_no_leads_clears(api: Api) -> None:
    _quiet(api)
    check_alerts(api.service, T0)
    add_lead(api.engine, "fresh", T0 - timedelta(minutes=10))
    assert _only(check_alerts(api.service, T0).resolved, "no_leads") == ["no_leads:all"]
    # 10 quiet minutes: exp(-rate x 10) = 0.52, and under min_quiet_minutes (60) anyway
    assert math.exp(-_QUIET_RATE * 10) == pytest.approx(0.5162, abs=1e-4)


def test_no_leads_is_quiet_outside_working_hours(engine_any: sa.Engine) -> None:
    reps = [
        Rep(rep_id=f"rep-{i}", pool="sdr", timezone="UTC", working_hours="Mon-Fri 09:00-17:00")
        for i in (1, 2)
    ]
    api = next(_api(engine_any, reps))
    add_leads(api.engine, [(f"N{j}", T0 - timedelta(days=3, minutes=15 * j)) for j in range(300)])
    # Monday 15:00: the last lead was Friday 15:00; 8 working hours quiet since -> alert
    assert _only(check_alerts(api.service, T0).opened, "no_leads") == ["no_leads:all"]
    # Monday 20:00: nobody on shift -> no condition (resolved)
    assert check_alerts(api.service, T0 + timedelta(hours=5)).resolved == ["no_leads:all"]


def _bad_calendar(api: Api) -> None:
    with write_transaction(api.engine) as conn:
        conn.execute(
            reps_table.update()
            .where(reps_table.c.rep_id == "rep-02")
            .values(timezone="Mars/Olympus")
        )


def test_rep_skipped_triggers(api: Api) -> None:
    _bad_calendar(api)
    assert _only(check_alerts(api.service, T0).opened, "rep_skipped") == ["rep_skipped:rep-02"]
    assert (
        "unknown timezone 'Mars/Olympus'"
        in _of(api, "rep_skipped")["rep_skipped:rep-02"]["message"]
    )


def test_rep_skipped_clears(api: Api) -> None:
    _bad_calendar(api)
    check_alerts(api.service, T0)
    fixed = api.client.put("/v1/reps/rep-02", json={"timezone": "Europe/Paris"},
                           headers=api.headers())  # fmt: skip
    assert fixed.status_code == 200
    assert _only(check_alerts(api.service, T0).resolved, "rep_skipped") == ["rep_skipped:rep-02"]
    assert api.get("/v1/reps/rep-02").json()["timezone"] == "Europe/Paris"


def test_alerts_are_notified_acknowledged_and_listed_by_status(api: Api) -> None:
    hook = "https://hooks.example.com/services/T1/B1/TOKEN123"
    _use_policy(api, "", notify_url=hook)
    add_lead(api.engine, "S1", T0 - timedelta(minutes=40), lane="hot",
             sla_deadline=T0 - timedelta(minutes=25))  # fmt: skip
    check_alerts(api.service, T0)
    check_alerts(api.service, T0)  # held: no second notice
    with api.engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(sa.select(webhook_deliveries)).all()]
    opened = [p for p in payloads if p["condition_key"] == "sla_breach:hot"]
    assert [p["event"] for p in opened] == ["alert_opened"]
    assert opened[0]["text"].startswith(":rotating_light: leadpilot alert #")
    assert "[critical] sla_breach: 1 lead(s) in lane hot" in opened[0]["text"]
    alert = _of(api, "sla_breach")["sla_breach:hot"]
    # a reader cannot acknowledge; an admin can, and a rule alert stays open until it clears
    path = f"/v1/alerts/{alert['id']}/acknowledge"
    assert api.client.post(path, headers=api.headers("reader")).status_code == 403
    acked = api.client.post(path, headers=api.headers("admin"))
    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == "test-admin"
    assert acked.json()["status"] == "open"
    missing = api.client.post("/v1/alerts/999999/acknowledge", headers=api.headers("admin"))
    assert missing.status_code == 404
    assert "GET /v1/alerts" in missing.json()["error"]["hint"]
    set_lead(api.engine, "S1", first_touch_at=T0)
    check_alerts(api.service, T0)
    with api.engine.connect() as conn:
        events = [
            r.payload["event"]
            for r in conn.execute(sa.select(webhook_deliveries)).all()
            if r.payload.get("condition_key") == "sla_breach:hot"
        ]
    assert events == ["alert_opened", "alert_resolved"]
    assert [a["condition_key"] for a in api.get("/v1/alerts", status="resolved").json()] == [
        "sla_breach:hot"
    ]
    assert api.get("/v1/alerts", status="bogus").status_code == 422


def test_the_database_allows_one_open_alert_per_condition(engine_any: sa.Engine) -> None:
    from leadpilot.store.alerts import open_alert, resolve_alert

    with write_transaction(engine_any) as conn:
        first = open_alert(conn, key="fairness:sdr:rep-01", kind="fairness", severity="warning",
                           message="m", details={}, lead_id=None, now=T0)  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), write_transaction(engine_any) as conn:
        open_alert(conn, key="fairness:sdr:rep-01", kind="fairness", severity="warning",
                   message="m", details={}, lead_id=None, now=T0)  # fmt: skip
    with write_transaction(engine_any) as conn:  # once resolved, the condition may open again
        resolve_alert(conn, first, T0)
        open_alert(conn, key="fairness:sdr:rep-01", kind="fairness", severity="warning",
                   message="m", details={}, lead_id=None, now=T0)  # fmt: skip


def _miscalibrated(api: Api) -> None:
    # defaults: leads received in the 28 days up to 30 days ago; 200 leads at p = 0.2
    for i in range(200):  # expected 40 won, variance 200 x 0.2 x 0.8 = 32; observed 20
        add_lead(api.engine, f"C{i}", T0 - timedelta(days=40, minutes=i), p_convert=0.2,
                 won=i < 20)  # fmt: skip


def test_calibration_drift_triggers(api: Api) -> None:
    _miscalibrated(api)
    check_alerts(api.service, T0)
    d = _of(api, "calibration_drift")["calibration_drift:all"]["details"]
    assert (d["observed"], d["expected"]) == (20, pytest.approx(40.0))
    assert d["z"] == pytest.approx(-20 / math.sqrt(32))  # -3.54
    assert d["p_value"] == pytest.approx(math.erfc(20 / math.sqrt(32) / math.sqrt(2)))


def test_calibration_drift_clears(api: Api) -> None:
    _miscalibrated(api)
    check_alerts(api.service, T0)
    for i in range(20, 40):  # 40 won: as predicted, z = (40 - 40) / sqrt(32) = 0
        set_lead(api.engine, f"C{i}", closed_won=True)
    assert _only(check_alerts(api.service, T0).resolved, "calibration_drift") == [
        "calibration_drift:all"
    ]
    with api.engine.connect() as conn:
        won = conn.execute(sa.select(sa.func.count()).where(leads_table.c.closed_won)).scalar()
    assert won == 40  # observed = expected = 200 x 0.2: z = 0


def _crm_failing(api: Api) -> None:
    from leadpilot.store.crm_tables import crm_outbox

    with write_transaction(api.engine) as conn:
        conn.execute(
            crm_outbox.insert(),
            [
                {"crm": "hubspot", "record_id": f"r{i}", "lead_id": f"L{i}", "decision_id": i,
                 "rep_id": "rep-01", "status": status, "attempts": attempts,
                 "next_attempt_at": T0, "created_at": T0 - timedelta(hours=2),
                 "last_error": "HTTP 429 rate limited"}
                for i, (status, attempts) in enumerate(
                    [("dead", 8), ("pending", 3), ("pending", 1)]
                )
            ],
        )  # fmt: skip


def test_crm_failures_trigger(api: Api) -> None:
    _crm_failing(api)
    check_alerts(api.service, T0)
    d = _of(api, "crm_failures")["crm_failures:hubspot"]["details"]
    assert (d["gave_up"], d["retrying"]) == (1, 1)  # the write after 1 attempt is not yet


def test_crm_failures_clear(api: Api) -> None:
    from leadpilot.store.crm_tables import crm_outbox

    _crm_failing(api)
    check_alerts(api.service, T0)
    with write_transaction(api.engine) as conn:  # the retry went through; the dead one ages
        conn.execute(crm_outbox.update().where(crm_outbox.c.status == "pending")
                     .values(status="sent"))  # fmt: skip
    # the dead write (created 2 h before T0) stays in the 24-hour window until T0 + 22 h
    held = check_alerts(api.service, T0 + timedelta(hours=21))
    assert _only(held.refreshed, "crm_failures") == ["crm_failures:hubspot"]
    assert _of(api, "crm_failures")["crm_failures:hubspot"]["details"]["retrying"] == 0
    assert _only(check_alerts(api.service, T0 + timedelta(hours=23)).resolved, "crm_failures") == [
        "crm_failures:hubspot"
    ]


def test_the_worker_schedule_runs_a_pass_then_waits_every_seconds(api: Api) -> None:
    from leadpilot.service.alerting import AlertSchedule

    schedule = AlertSchedule()
    add_lead(api.engine, "S1", T0 - timedelta(minutes=40), lane="hot",
             sla_deadline=T0 - timedelta(minutes=25))  # fmt: skip
    first = schedule.maybe_run(api.service)
    assert first is not None
    assert "sla_breach:hot" in first.opened
    assert schedule.maybe_run(api.service) is None  # the next pass is 60 s away
    huge = api.client.post(f"/v1/alerts/{2**40}/acknowledge", headers=api.headers("admin"))
    assert huge.status_code == 422  # not a 5xx from the database's integer range
