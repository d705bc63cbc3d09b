"""The retrain's resampled copies are recognised as one lead's rows, and the champion /
challenger comparison resamples leads, not rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.copies import LeadBootstrap, lead_groups
from leadpilot.lifecycle.compare import _paired_logloss
from leadpilot.lifecycle.trainset import _resample


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.05, 20.0), min_size=1, max_size=40))
def test_resampled_copies_are_grouped_with_their_lead(weights: list[float]) -> None:
    frame = pd.DataFrame({"lead_id": [f"L{i:03d}#x" for i in range(len(weights))]})
    out = _resample(frame, np.array(weights))
    base = out["lead_id"].str.replace(r"#\d+$", "", regex=True)  # the resampler's copy mark
    expected = pd.factorize(base)[0]
    np.testing.assert_array_equal(lead_groups(out["lead_id"]), expected)


def test_paired_log_loss_of_copies_equals_the_leads_once() -> None:
    """Every lead kept four times: the same point and interval as the leads once, drawn
    with the same generator (drawing rows would narrow the interval about twofold)."""
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(float)
    a = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.05, 300), 0.01, 0.99)
    b = np.full(300, 0.2)
    once = _paired_logloss(y, a, b, np.random.default_rng(1), LeadBootstrap(np.arange(300)))
    g = np.repeat(np.arange(300), 4)
    copies = _paired_logloss(y[g], a[g], b[g], np.random.default_rng(1), LeadBootstrap(g))
    assert copies == pytest.approx(once, abs=1e-12)
    rows = _paired_logloss(
        y[g], a[g], b[g], np.random.default_rng(1), LeadBootstrap(np.arange(1_200))
    )
    assert rows[2] - rows[1] < 0.7 * (once[2] - once[1])
