"""The model card's groups of a numeric attribute: one per quintile range, labelled so that
distinct ranges read differently whatever the attribute's scale."""

from __future__ import annotations

import numpy as np

from leadpilot.model.rep_trees import _groups


def test_quintile_groups_of_a_unit_scale_attribute_keep_distinct_labels() -> None:
    x = np.arange(1001) / 1000.0  # 0.000 ... 1.000: quintile edges 0, 0.2, ..., 0.8, 1
    groups = _groups(x, "fit_score", {})
    assert list(groups) == [
        "0 to 0.2", "0.2 to 0.4", "0.4 to 0.6", "0.6 to 0.8", "0.8 to 1"
    ]  # fmt: skip
    assert [int(m.sum()) for m in groups.values()] == [200, 200, 200, 200, 201]


def test_quintile_groups_of_large_values_read_as_whole_numbers() -> None:
    x = np.arange(1000, dtype=float) * 10.0  # 0 ... 9,990
    groups = _groups(x, "employees", {})
    labels = list(groups)
    assert (labels[0], labels[-1]) == ("0 to 1,998", "7,992 to 9,990")


def test_quintile_groups_of_a_0_100_score_read_as_whole_numbers() -> None:
    x = np.linspace(0.0, 99.0, 1000)  # quintile edges 0, 19.8, 39.6, 59.4, 79.2, 99
    assert list(_groups(x, "engagement_score", {})) == [
        "0 to 20", "20 to 40", "40 to 59", "59 to 79", "79 to 99"
    ]  # fmt: skip
