"""What a manager reads around the numbers (issue 14): size bands in size order, no causation
box without contact times, where the report comes from, trends by month and speed by source.
Expected values are computed here independently (pandas group-bys, hashlib, scipy)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot import __version__
from leadpilot.analyze import analyze, render_html, render_markdown
from leadpilot.analyze.core import prepare
from leadpilot.analyze.provenance import provenance
from leadpilot.analyze.rates import wilson_interval
from leadpilot.analyze.trend import median_interval, monthly_trend, speed_by_source
from leadpilot.ingest import read_history


def _dated(world: Any, n: int = 3000) -> pd.DataFrame:
    frame = world.make(n=n, seed=11)
    frame["created_at"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.arange(n) * 3, unit="h"
    )
    return frame


@pytest.mark.slow  # a full audit: ~3 s alone, 15 s on a loaded machine
def test_size_bands_are_in_size_order(world: Any) -> None:
    frame = world.make(n=3000, seed=3)
    # make the volume order differ from the size order: 1001-5000 the most common band
    frame.loc[frame.index[:1500], "size_band"] = "1001-5000"
    heat = analyze(frame).to_dict()["segment_heatmaps"]["size_band"]
    assert heat["segments"] == ["11-50", "51-200", "1001-5000"]


@pytest.mark.slow  # two full audits
def test_no_causation_box_without_contact_times(world: Any) -> None:
    frame = world.make(n=2000, seed=5)
    frame["time_to_contact_hours"] = np.nan
    analysis = analyze(frame)
    assert "Correlation is not causation" not in render_html(analysis)
    assert "Correlation is not causation" not in render_markdown(analysis)
    with_times = analyze(world.make(n=2000, seed=5))
    assert "Correlation is not causation" in render_html(with_times)


def test_provenance_names_file_rows_checksum_version_and_time(tmp_path: Path, world: Any) -> None:
    path = tmp_path / "export.csv"
    world.make(n=1500, seed=2).drop(columns="source_row").to_csv(path, index=False)
    before = datetime.now(UTC).replace(microsecond=0)
    result = read_history(path)
    prov = provenance(result.frame, result)
    assert prov["leadpilot_version"] == __version__
    generated = datetime.fromisoformat(prov["generated_at"])
    assert before <= generated <= datetime.now(UTC) + timedelta(seconds=1)
    source = prov["source"]
    assert source["name"] == "export.csv"
    assert source["rows_read"] == len(path.read_text().splitlines()) - 1 == 1500
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert source["files"] == [
        {"name": "export.csv", "bytes": path.stat().st_size, "sha256": digest}
    ]


def test_provenance_of_a_frame_without_a_file(world: Any) -> None:
    frame = world.make(n=200, seed=2)
    source = provenance(frame, None)["source"]
    assert source["files"] == []
    assert source["rows_read"] == 200
    expected = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
    assert source["frame_sha256"] == expected


@pytest.mark.slow  # a full audit
def test_every_report_states_where_it_comes_from(tmp_path: Path, world: Any) -> None:
    path = tmp_path / "export.csv"
    world.make(n=1500, seed=2).drop(columns="source_row").to_csv(path, index=False)
    result = read_history(path)
    analysis = analyze(result.frame, ingest=result)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    html, markdown = render_html(analysis), render_markdown(analysis)
    for text in (html, markdown):
        assert f"by leadpilot {__version__} from export.csv (1,500 rows read" in text
        assert digest[:12] in text
        assert "Generated 20" in text
    assert digest in html  # in full in the Methods block
    assert analysis.to_dict()["provenance"]["source"]["files"][0]["sha256"] == digest


def test_trend_by_month_matches_a_group_by(world: Any) -> None:
    frame = _dated(world)
    # a few open leads in the first month: counted as open, left out of the rate
    frame.loc[frame.index[:7], "converted"] = pd.NA
    data, _, _ = prepare(frame, "converted")
    trend = monthly_trend(data, frame["created_at"])
    assert trend["available"] is True
    known = frame[frame["converted"].notna()]
    month = known["created_at"].dt.tz_convert(None).dt.to_period("M").astype(str)
    y = known["converted"].astype(bool)
    expected = y.groupby(month).agg(["size", "sum"])
    rows = {r["month"]: r for r in trend["months"]}
    assert list(rows) == list(expected.index)
    for m, (n, k) in expected.iterrows():
        lo, hi = wilson_interval(k, n)
        assert rows[m]["leads"] == n
        assert rows[m]["converted"] == k
        assert rows[m]["rate"] == pytest.approx(k / n)
        assert rows[m]["ci_low"] == pytest.approx(lo[0])
        assert rows[m]["ci_high"] == pytest.approx(hi[0])
        hours = known.loc[month == m, "time_to_contact_hours"]
        assert rows[m]["median_hours"] == pytest.approx(hours.median())
    assert rows[expected.index[0]]["open"] == 7
    assert sum(r["open"] for r in rows.values()) == 7


def test_no_dates_no_trend_and_it_says_why(world: Any) -> None:
    frame = world.make(n=1500, seed=1)
    trend = monthly_trend(prepare(frame, "converted")[0], frame["created_at"])
    assert trend["available"] is False
    assert "no creation dates" in trend["reason"]


def test_speed_by_source_matches_a_group_by(world: Any) -> None:
    frame = world.make(n=3000, seed=6)
    rows = speed_by_source(prepare(frame, "converted")[0])
    g = frame.groupby("source")["time_to_contact_hours"]
    assert {r["source"] for r in rows} == set(g.groups)
    for r in rows:
        h = g.get_group(r["source"])
        assert r["leads"] == len(h)
        assert r["median_hours"] == pytest.approx(h.median())
        assert r["within_1h"] == pytest.approx((h < 1).mean())
        assert r["median_hours_low"] <= r["median_hours"] <= r["median_hours_high"]
    medians = [r["median_hours"] for r in rows]
    assert medians == sorted(medians, reverse=True)  # slowest first


def test_median_interval_covers_the_true_median() -> None:
    # exponential(1) has median ln 2; the order-statistic interval promises >= 95% coverage
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        lo, hi = median_interval(rng.exponential(size=25))
        hits += lo <= np.log(2) <= hi
    assert hits / 2000 >= 0.94


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=80))
def test_median_interval_holds_the_sample_median(values: list[float]) -> None:
    lo, hi = median_interval(np.array(values))
    assert lo <= float(np.median(values)) <= hi
