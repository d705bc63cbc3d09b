"""The model card's reliability plot has labelled ticks on both axes (issue 14: it had none),
and its points sit where the bins say, on the tick scale."""

from __future__ import annotations

import xml.dom.minidom

import pytest

from leadpilot.model.card import reliability_svg

ROWS = [
    {"n": 100, "predicted": 0.05, "observed": 0.04, "observed_low": 0.02, "observed_high": 0.09},
    {"n": 80, "predicted": 0.15, "observed": 0.18, "observed_low": 0.11, "observed_high": 0.27},
]


def _texts(svg: str) -> list[tuple[float, float, str]]:
    doc = xml.dom.minidom.parseString(svg)
    return [
        (float(t.getAttribute("x")), float(t.getAttribute("y")), t.firstChild.data)  # type: ignore[union-attr]
        for t in doc.getElementsByTagName("text")
        if t.firstChild is not None
    ]


def test_axis_ticks_are_labelled_in_steps_of_5_points_up_to_30_percent() -> None:
    svg = reliability_svg(ROWS, title="Reliability")
    labels = [s for _, _, s in _texts(svg)]
    ticks = ["0%", "5%", "10%", "15%", "20%", "25%", "30%"]
    for tick in ticks:
        assert labels.count(tick) == 2, tick  # once on each axis
    assert "mean predicted conversion" in labels


def test_points_sit_on_the_tick_scale() -> None:
    svg = reliability_svg(ROWS)
    texts = _texts(svg)
    x_tick = {s: x for x, y, s in texts if s.endswith("%") and y > 300}  # the bottom axis
    y_tick = {s: y for x, y, s in texts if s.endswith("%") and x < 52}  # the left axis
    doc = xml.dom.minidom.parseString(svg)
    circles = doc.getElementsByTagName("circle")
    cx = float(circles[0].getAttribute("cx"))
    cy = float(circles[0].getAttribute("cy"))
    # predicted 5% lies on the 5% tick; observed 4% four fifths of the way from 0% to 5%
    assert cx == pytest.approx(x_tick["5%"], abs=0.1)
    y0, y5 = y_tick["0%"] - 4, y_tick["5%"] - 4  # labels sit 4 px below their tick
    assert cy == pytest.approx(y0 + 0.8 * (y5 - y0), abs=0.1)
