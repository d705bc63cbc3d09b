"""Bad-data guards: each refuses with a message that says what to fix (exit 2 via the CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import FAST
from worlds import toy_world

from leadpilot.errors import ModelError
from leadpilot.model import ConversionModel, LeakageWarning
from leadpilot.model.evaluation import fit_and_evaluate


def test_too_few_outcomes() -> None:
    w = toy_world(400, seed=2)
    with pytest.raises(ModelError, match=r"only 400 leads have a known 'converted' outcome") as e:
        ConversionModel().fit(w.history)
    assert e.value.hint
    assert "longer history" in e.value.hint


def test_single_class() -> None:
    w = toy_world(1_000, seed=2)
    h = w.history.assign(converted=pd.array([False] * 1_000, dtype="boolean"))
    with pytest.raises(ModelError, match="did not convert; a model needs both outcomes"):
        ConversionModel().fit(h)


def test_fewer_than_two_reps() -> None:
    w = toy_world(1_000, seed=2)
    with pytest.raises(ModelError, match="only 1 rep has leads with known outcomes"):
        ConversionModel().fit(w.history.assign(rep_id="rep-00"))


def test_open_outcomes_do_not_count() -> None:
    w = toy_world(1_000, seed=2)
    h = w.history.copy()
    h.loc[h.index[:600], "converted"] = pd.NA
    with pytest.raises(ModelError, match="only 400 leads"):
        ConversionModel().fit(h)


@pytest.mark.parametrize("how", ["missingness", "value"])
def test_leaky_columns_are_dropped_with_a_warning(how: str) -> None:
    w = toy_world(3_000, seed=4)
    h = w.history.copy()
    y = h["converted"].to_numpy(dtype=bool)
    if how == "missingness":  # filled only for converted rows, like a conversion date
        h["converted_date"] = np.where(y, "2024-05-01", None)
        h["engagement_score"] = np.where(y, h["engagement_score"], np.nan)
        leaky = {"converted_date", "engagement_score"}
    else:  # the stage name
        h["stage"] = np.where(y, "Closed Won", "Closed Lost")
        leaky = {"stage"}
    model = ConversionModel(**FAST)
    with pytest.warns(LeakageWarning, match="outcome in disguise") as rec:
        report = fit_and_evaluate(model, h, w.reps)
    assert {c["column"] for c in model.fitted_.dropped_columns} == leaky
    assert len(rec) == len(leaky)
    names = set(model.fitted_.feature_names)
    assert not {"x_stage", "x_converted_date"} & names
    assert report.metrics["model"]["auc"] < 0.9  # no perfect score from the leak


def test_baseline_guard_blocks_only_a_material_or_across_the_board_loss() -> None:
    from leadpilot.model.evaluation import baseline_guard

    def comp(d: float, lo: float, hi: float) -> dict[str, float]:
        return {"auc_diff": d, "auc_diff_low": lo, "auc_diff_high": hi}

    res = {"model": {"auc": 0.70}, "global rate": {"auc": 0.5}, "logistic": {"auc": 0.705}}
    # 0.005 behind the logistic baseline, even if "significant": still far better than rules
    ok = baseline_guard(
        res, {"global rate": comp(0.2, 0.18, 0.22), "logistic": comp(-0.005, -0.008, -0.002)}
    )
    assert ok["blocks_routing"] is False
    # 0.03 behind with the interval below zero: blocked, the baseline named with its edge
    res["logistic"]["auc"] = 0.73
    bad = baseline_guard(
        res, {"global rate": comp(0.2, 0.18, 0.22), "logistic": comp(-0.03, -0.05, -0.01)}
    )
    assert bad["blocks_routing"] is True
    assert "worse than a baseline: AUC 0.700 against logistic 0.730 (edge -0.030" in bad["detail"]
    # below every baseline (so below chance), none of it significant: blocked too
    res = {"model": {"auc": 0.49}, "global rate": {"auc": 0.5}, "logistic": {"auc": 0.495}}
    low = baseline_guard(
        res, {"global rate": comp(-0.01, -0.03, 0.01), "logistic": comp(-0.005, -0.02, 0.01)}
    )
    assert low["blocks_routing"] is True
    assert "worse than every baseline" in low["detail"]
