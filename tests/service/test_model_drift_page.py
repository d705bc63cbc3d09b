"""Drift per feature on the console's model page: the population stability index of the
page's window against the model's reference window, checked by hand; the sampling-noise
level checked by simulation; the page and the model-drift alert agree."""

from __future__ import annotations

import html
import math
import random
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from leadpilot.service.alerting import check_alerts
from leadpilot.service.alerting.stats import psi, psi_noise
from leadpilot.store.engine import write_transaction

from .alert_data import add_lead, insert_lead
from .conftest import T0, Api, build_api, make_reps, migrated_engine

CHI2_95_1DF = 3.841458820694124  # chi-square(1) 95th percentile, from tables


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = migrated_engine(url)
    api = build_api(engine, make_reps())
    with api.client:
        yield api
    engine.dispose()


def _policy(api: Api) -> None:
    text = (
        "pools:\n  - name: all\n    strategy: round_robin\n"
        "alerts:\n  model_drift: {features: [grade]}\n"
    )
    assert api.post("/v1/policy", {"policy": text}, role="admin").status_code == 201


def _drift_rows(page: str) -> dict[str, list[str]]:
    table = re.search(r'<table class="log" id="drift">(.*?)</table>', page, re.S)
    assert table is not None, "no drift table"
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", table.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row.split("<td")]
        cells = [re.sub(r"^[^>]*>", "", c) for c in cells]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_model_page_shows_each_features_psi_checked_by_hand(api: Api) -> None:
    _policy(api)
    start = T0 - timedelta(days=30)
    with write_transaction(api.engine) as conn:
        for i in range(200):  # reference (the model's first 14 days): grades A 100, B 100
            insert_lead(conn, f"D{i}", start + timedelta(hours=i), model_version="m1",
                        grade="A" if i % 2 else "B", p_convert=0.1)  # fmt: skip
        for i in range(200):  # the last 7 days: A 180, B 20
            insert_lead(conn, f"E{i}", T0 - timedelta(hours=1, minutes=i), model_version="m1",
                        grade="A" if i < 180 else "B", p_convert=0.1)  # fmt: skip
    page = api.client.get("/model?days=7", headers=api.headers("reader")).text
    rows = _drift_rows(page)
    by_hand = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)  # 0.8789
    noise = CHI2_95_1DF * (1 / 200 + 1 / 200)  # two bins: 1 degree of freedom -> 0.0384
    assert rows["grade"] == [f"{by_hand:.3f}", f"{noise:.3f}", "200", "200", "significant shift"]
    # one score value on both sides: nothing moved (a single bin, PSI 0)
    assert rows["p_convert"][0] == "0.000"
    assert rows["p_convert"][4] == "stable (within sampling noise)"
    # no confidence stored: too few values to tell
    assert rows["confidence"] == ["–", "–", "0", "0", "cannot tell: too few decisions"]
    assert "No model-drift alert is open." in page
    # the alert rule reads the same PSI: after a pass the page links its alert
    check_alerts(api.service, T0)
    alert = next(a for a in api.get("/v1/alerts").json() if a["kind"] == "model_drift")
    assert alert["details"]["psi"] == pytest.approx(by_hand, rel=1e-9)
    page = api.client.get("/model?days=7", headers=api.headers("reader")).text
    assert f'<a href="/alerts">#{alert["id"]}</a> grade drifted: PSI 0.88 > 0.2' in html.unescape(
        page
    )
    # a window before the drift (days 8-14 before T0 hold no decision): cannot tell
    earlier = api.client.get(f"/model?days=7&until={(T0 - timedelta(days=8)).date()}",
                             headers=api.headers("reader")).text  # fmt: skip
    assert _drift_rows(earlier)["grade"][-1] == "cannot tell: too few decisions"


def test_the_model_page_says_when_there_is_no_reference(api: Api) -> None:
    page = api.client.get("/model", headers=api.headers("reader")).text
    assert "No reference yet" in page
    assert "0.1 to 0.2 is a moderate shift" in page


def test_psi_noise_is_exceeded_by_chance_about_5_percent_of_the_time() -> None:
    """With no drift (both windows from one distribution), the share of PSIs above
    ``psi_noise`` is near 5% (seeded simulation, 400 pairs of windows)."""
    rng = random.Random(18)
    over = 0
    runs = 400
    for _ in range(runs):
        base = [rng.gauss(0, 1) for _ in range(500)]
        recent = [rng.gauss(0, 1) for _ in range(300)]
        bins = 10
        over += psi(base, recent, bins=bins) > psi_noise(bins, len(base), len(recent))
    assert 0.02 <= over / runs <= 0.09
    # and a real shift (half a standard deviation) is far above it
    base = [rng.gauss(0, 1) for _ in range(500)]
    shifted = [rng.gauss(0.5, 1) for _ in range(300)]
    assert psi(base, shifted) > 3 * psi_noise(10, 500, 300)


def test_model_drift_reads_decisions_only_of_the_pool_asked(api: Api) -> None:
    from leadpilot.policy.alert_settings import ModelDriftSettings
    from leadpilot.service.alerting.drift import feature_drift

    start = T0 - timedelta(days=30)
    for i in range(40):
        add_lead(api.engine, f"P{i}", start + timedelta(hours=i), model_version="m1",
                 grade="A", pool="all" if i % 4 else "other")  # fmt: skip
        add_lead(api.engine, f"Q{i}", T0 - timedelta(hours=1 + i), model_version="m1",
                 grade="B", pool="all" if i % 4 else "other")  # fmt: skip
    settings = ModelDriftSettings(features=["grade"], min_decisions=10)
    with api.engine.connect() as conn:
        both = feature_drift(conn, settings, recent_since=T0 - timedelta(days=7), recent_until=T0)
        one = feature_drift(conn, settings, recent_since=T0 - timedelta(days=7), recent_until=T0,
                            pool="other")  # fmt: skip
    assert (both.features[0].baseline_n, both.features[0].recent_n) == (40, 40)
    assert (one.features[0].baseline_n, one.features[0].recent_n) == (10, 10)
    # A -> B entirely: both bins at the 1e-4 floor on one side
    floor = 1e-4
    by_hand = 2 * (1 - floor) * math.log(1 / floor)
    assert one.features[0].psi == pytest.approx(by_hand, rel=1e-9)
