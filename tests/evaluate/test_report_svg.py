"""The running-estimate chart: dates and the interval stay readable with a single day."""

from __future__ import annotations

from leadpilot.evaluate.report_svg import running_chart


def _point(day: str, diff: float) -> dict[str, object]:
    return {"date": day, "difference": diff, "ci_low": diff - 0.1, "ci_high": diff + 0.1,
            "leads": 10}  # fmt: skip


def test_one_day_shows_its_date_once_and_its_interval_as_a_bar() -> None:
    svg = running_chart([_point("2026-03-03", 0.02)])
    assert svg.count("2026-03-03</text>") == 1
    assert 'text-anchor="middle">2026-03-03' in svg
    assert svg.count("<line") == 2  # the zero line and the interval bar


def test_several_days_show_the_first_and_last_dates() -> None:
    svg = running_chart([_point("2026-03-03", 0.02), _point("2026-03-04", 0.01)])
    assert "2026-03-03</text>" in svg
    assert "2026-03-04</text>" in svg
    assert svg.count("<line") == 1  # the zero line; the interval is the band
