"""The verdict panel on olist, where no lift can be projected (every lead with a seller
converted): an earlier version printed "(projected not computable)" in the 15%+ answer and a
"From the conversion model ... and a capacity-respecting plan" basis under "not computable"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpilot.cli.main import build_app

OLIST = Path(os.environ["LEADPILOT_DATA_DIR"]) / "olist-marketing-funnel"


@pytest.mark.shared_data(OLIST.name)
def test_olist_verdict_says_nothing_was_projected(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["analyze", str(OLIST), "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "Projected lift vs round-robin: not computable" in text
    assert "projected not computable" not in text
    assert "capacity-respecting plan. 15%+?" not in text  # no basis for a number not computed
    assert "15%+? No: no lift could be projected from this history" in text
