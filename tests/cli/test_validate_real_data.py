"""`validate` never prints a rate the file does not contain (issue 14), and a win rate is
won / opportunities.

x-education and bank-marketing have no deal-outcome column; an earlier version printed
"Won rate (closed_won) 0.0% (n=5,679)" for x-education (every lost lead made "not won").
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app
from leadpilot.ingest import quality_report, read_history

DATA = Path(os.environ["LEADPILOT_DATA_DIR"])


@pytest.mark.parametrize(
    ("name", "relative"),
    [
        pytest.param(n, r, marks=pytest.mark.shared_data(n))
        for n, r in (
            ("x-education-lead-scoring", "Leads.csv"),
            ("uci-bank-marketing", "bank-additional-full.csv"),
        )
    ],
)
def test_no_won_rate_without_a_won_column(name: str, relative: str) -> None:
    path = DATA / name / relative
    result = read_history(path)
    frame = result.frame
    # never invented from "converted = no" (x-education); bank-marketing's one outcome (y)
    # is copied, so there is no separate won rate to show
    won, conv = frame["closed_won"], frame["converted"]
    assert won.isna().all() or (won.fillna(False) == conv.fillna(False)).all()
    report = quality_report(frame, ingest=result)
    assert report.win_rate is None
    assert report.won is None or report.won == report.outcome
    out = CliRunner().invoke(build_app(), ["validate", str(path)]).output
    assert "Won" not in out
    assert "Win rate" not in out
    assert "Outcome rate (converted)" in out


def test_win_rate_is_won_per_opportunity(tmp_path: Path) -> None:
    # 10 leads: 4 converted (opportunities), of which 3 have a deal outcome: 1 won, 2 lost;
    # 6 did not convert. Won / leads = 1 / 10; win rate = won / opportunities known = 1 / 3.
    rows = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(10)],
            "rep_id": ["a", "b"] * 5,
            "converted": ["yes"] * 4 + ["no"] * 6,
            "closed_won": ["yes", "no", "no", ""] + [""] * 6,
        }
    )
    path = tmp_path / "h.csv"
    rows.to_csv(path, index=False)
    result = read_history(path)
    report = quality_report(result.frame, ingest=result)
    assert report.win_rate is not None
    assert report.won is not None
    assert (report.win_rate.successes, report.win_rate.trials) == (1, 3)
    # the lost leads' deals are known lost: 1 won of the 9 leads with a known deal outcome
    assert (report.won.successes, report.won.trials) == (1, 9)
    out = CliRunner().invoke(build_app(), ["validate", str(path)]).output
    assert "Win rate (won / opportunities)" in out
    assert "33.3%" in out
    assert "Won / leads (closed_won)" in out
