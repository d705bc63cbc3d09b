"""The data-quality report and its verdict."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadpilot.ingest import quality_report, read_history
from leadpilot.ingest.quality import wilson_interval

MAVEN = Path(os.environ["LEADPILOT_DATA_DIR"]) / "maven-crm-sales-opportunities"


def _hand_wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(4238, 6711), (0, 10), (10, 10), (3, 7)])
def test_wilson_matches_hand_formula(k: int, n: int) -> None:
    estimate = wilson_interval(k, n)
    assert estimate is not None
    low, high = _hand_wilson(k, n)
    assert estimate.low == pytest.approx(low, abs=1e-9)
    assert estimate.high == pytest.approx(high, abs=1e-9)
    assert wilson_interval(0, 0) is None


def _history(
    tmp_path: Path, *, n: int, months: float, reps: int = 3, unknown: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01", tz="UTC")
    offsets = np.sort(rng.uniform(0, months * 30.4375, n))
    offsets[0], offsets[-1] = 0.0, months * 30.4375
    converted = np.where(rng.random(n) < 0.3, "yes", "no").astype(object)
    converted[rng.random(n) < unknown] = ""
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "created_at": [(start + pd.Timedelta(days=d)).isoformat() for d in offsets],
            "rep_id": [f"r{i % reps}" for i in range(n)],
            "converted": converted,
        }
    )
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return read_history(path).frame


def test_ready_history(tmp_path: Path) -> None:
    frame = _history(tmp_path, n=900, months=14)
    report = quality_report(frame)
    assert report.verdict == "ready"
    assert report.months_of_history == pytest.approx(14, abs=0.01)
    assert report.outcome is not None
    assert report.outcome.trials == 900
    assert report.outcome.successes == int(frame["converted"].sum())
    assert [r.leads for r in report.reps] == [300, 300, 300]
    assert sum(r.conversions for r in report.reps) == report.outcome.successes


def test_short_history_is_usable_with_a_reason(tmp_path: Path) -> None:
    report = quality_report(_history(tmp_path, n=900, months=8))
    assert report.verdict == "usable"
    assert any("8.0 months of history: enough to start" in r for r in report.reasons)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"n": 300, "months": 14}, "only 300 leads with a known outcome (< 500)"),
        ({"n": 900, "months": 4}, "4.0 months of history (< 6): too short"),
        ({"n": 900, "months": 14, "reps": 1}, "fewer than 2 reps with known outcomes"),
        ({"n": 2000, "months": 14, "unknown": 0.6}, "outcome tracking is too incomplete"),
    ],
)
def test_not_enough(tmp_path: Path, kwargs: dict[str, float], reason: str) -> None:
    report = quality_report(_history(tmp_path, **kwargs))  # type: ignore[arg-type]
    assert report.verdict == "not enough"
    assert any(reason in r for r in report.reasons), report.reasons


def test_missing_and_duplicates_and_json(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "lead_id,rep_id,converted,industry\nA,r1,yes,SaaS\nB,,no,\nA,r2,no,Retail\n",
        encoding="utf-8",
    )
    result = read_history(path)
    report = quality_report(result.frame, ingest=result)
    assert report.rows == 2
    assert report.n_read == 3
    assert report.n_rejected == 1
    assert report.duplicate_lead_ids == 1
    assert report.missing["industry"] == 1
    assert report.missing["rep_id"] == 1
    assert report.missing["email"] == 2
    assert report.date_from is None
    assert any("no creation dates" in r for r in report.reasons)
    json.dumps(report.to_dict())


@pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")
def test_maven_report_against_pandas() -> None:
    result = read_history(MAVEN)
    report = quality_report(result.frame, ingest=result)
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    closed = pipeline[pipeline["deal_stage"].isin(["Won", "Lost"])]
    assert report.outcome is not None
    assert (report.outcome.successes, report.outcome.trials) == (4238, 6711)
    per_rep = closed.groupby("sales_agent")["deal_stage"].apply(lambda s: (s == "Won").mean())
    for rep in report.reps:
        assert rep.rate is not None
        assert rep.rate.rate == pytest.approx(per_rep[rep.rep_id])
    leads = pipeline["sales_agent"].value_counts()
    assert {r.rep_id: r.leads for r in report.reps} == leads.to_dict()
    engaged = pd.to_datetime(pipeline["engage_date"])
    months = (engaged.max() - engaged.min()).days / 30.4375
    assert report.months_of_history == pytest.approx(months)
    assert report.verdict == "usable"  # open deals make outcome tracking look incomplete
