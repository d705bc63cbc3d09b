"""The price LP plans inside the fairness band by a margin (hand-computed values)."""

from __future__ import annotations

import pytest

from leadpilot.policy.fairness import PLANNING_MARGIN, planning_band


def test_planning_band_narrows_each_side_but_never_past_one() -> None:
    assert PLANNING_MARGIN == 0.03
    assert planning_band((0.9, 1.1)) == pytest.approx((0.93, 1.07))
    assert planning_band((0.8, 1.2)) == pytest.approx((0.83, 1.17))
    assert planning_band((0.99, 1.01)) == (1.0, 1.0)
    assert planning_band((1.0, 1.0)) == (1.0, 1.0)
    assert planning_band((0.0, 5.0)) == pytest.approx((0.03, 4.97))
