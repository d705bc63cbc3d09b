"""Inline SVG charts of the console, drawn on the server (nothing to fetch, no script):
fairness index per rep against its band, and rates with their 95% intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from leadpilot.service.console.status import fairness_status

__all__ = ["fairness_svg", "interval_svg", "share_bars_svg", "wilson_interval"]

_INK, _MUTED, _GRID = "#1f2937", "#6b7280", "#e5e7eb"
_GREEN, _AMBER, _RED = "#15803d", "#b45309", "#b91c1c"
_STATUS_COLOR = {"green": _GREEN, "amber": _AMBER, "red": _RED}


def _text(x: float, y: float, s: str, *, anchor: str = "start", color: str = _INK) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='12' fill='{color}' "
        f"text-anchor='{anchor}'>{escape(s)}</text>"
    )


def fairness_svg(
    rows: Sequence[tuple[str, float | None]],
    *,
    band: tuple[float, float] = (0.9, 1.1),
    width: int = 560,
) -> str:
    """One bar per rep (leads / pool average) on a 0-2 scale with the policy's band shaded
    (each bar coloured as the KPI table colours it, by ``fairness_status``)."""
    low, high = band
    label_w, row_h, top = 150, 20, 24
    plot_w = width - label_w - 50
    height = top + row_h * len(rows) + 24

    def x(v: float) -> float:
        return label_w + plot_w * min(max(v, 0.0), 2.0) / 2.0

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='fairness index per rep' font-family='system-ui, sans-serif'>",
        f"<rect x='{x(low):.1f}' y='{top - 6}' width='{x(high) - x(low):.1f}' "
        f"height='{row_h * len(rows) + 6}' fill='#dcfce7'/>",
        _text(x((low + high) / 2), 14, f"target {low:g}-{high:g}", anchor="middle", color=_MUTED),
    ]
    for i, (rep, value) in enumerate(rows):
        y = top + i * row_h
        parts.append(_text(label_w - 6, y + 13, rep[:22], anchor="end"))
        if value is None:
            parts.append(_text(label_w + 4, y + 13, "no leads in pool", color=_MUTED))
            continue
        color = _STATUS_COLOR[fairness_status(value, band)]
        parts.append(
            f"<rect x='{label_w}' y='{y + 3}' width='{x(value) - label_w:.1f}' "
            f"height='{row_h - 6}' fill='{color}'/>"
        )
        parts.append(_text(x(value) + 4, y + 13, f"{value:.2f}"))
    axis_y = top + row_h * len(rows) + 14
    for tick in (0.0, 0.5, 1.0, 1.5, 2.0):
        parts.append(_text(x(tick), axis_y, f"{tick:.1f}", anchor="middle", color=_MUTED))
    parts.append("</svg>")
    return "".join(parts)


def interval_svg(
    rows: Sequence[tuple[str, float | None, float | None, float | None, int]], *, width: int = 560
) -> str:
    """One row per group: the rate as a dot with its 95% interval as a line (0-100%), and
    ``k/n`` beside it. ``rows``: (label, rate, low, high, n)."""
    label_w, row_h, top = 110, 22, 10
    plot_w = width - label_w - 90
    height = top + row_h * len(rows) + 22
    hi = max([h for *_, h, _n in rows if h is not None] or [1.0])
    scale = min(1.0, max(0.1, hi * 1.1))

    def x(v: float) -> float:
        return label_w + plot_w * min(v, scale) / scale

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='rates with 95% intervals' font-family='system-ui, sans-serif'>"
    ]
    for i, (label, rate, low, high, n) in enumerate(rows):
        y = top + i * row_h + 11
        parts.append(_text(label_w - 6, y + 4, label, anchor="end"))
        parts.append(
            f"<line x1='{label_w}' x2='{label_w + plot_w}' y1='{y}' y2='{y}' stroke='{_GRID}'/>"
        )
        if rate is None or low is None or high is None:
            parts.append(_text(label_w + 4, y + 4, "no leads", color=_MUTED))
            continue
        parts.append(
            f"<line x1='{x(low):.1f}' x2='{x(high):.1f}' y1='{y}' y2='{y}' "
            f"stroke='{_INK}' stroke-width='2'/>"
            f"<circle cx='{x(rate):.1f}' cy='{y}' r='4' fill='#2563eb'/>"
        )
        parts.append(_text(label_w + plot_w + 6, y + 4, f"{rate:.1%} (n={n})", color=_MUTED))
    axis_y = top + row_h * len(rows) + 16
    for j in range(5):
        tick = scale * j / 4
        parts.append(_text(x(tick), axis_y, f"{tick:.0%}", anchor="middle", color=_MUTED))
    parts.append("</svg>")
    return "".join(parts)


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson 95% interval of ``k`` of ``n`` (``n`` > 0)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_bars_svg(rows: Sequence[tuple[str, float]], *, width: int = 560) -> str:
    """Vertical bars: each band's share (0-1) with its label under it."""
    top, plot_h, bottom = 16, 140, 34
    n = max(len(rows), 1)
    step = (width - 20) / n
    peak = max([v for _, v in rows] or [1.0]) or 1.0
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{top + plot_h + bottom}'"
        " role='img' aria-label='share per band' font-family='system-ui, sans-serif'>"
    ]
    for i, (label, value) in enumerate(rows):
        h = plot_h * value / peak
        x = 10 + i * step
        parts.append(
            f"<rect x='{x + 3:.1f}' y='{top + plot_h - h:.1f}' width='{step - 6:.1f}' "
            f"height='{h:.1f}' fill='#2563eb'/>"
        )
        parts.append(_text(x + step / 2, top + plot_h - h - 3, f"{value:.0%}", anchor="middle"))
        parts.append(_text(x + step / 2, top + plot_h + 16, label, anchor="middle", color=_MUTED))
    parts.append("</svg>")
    return "".join(parts)
