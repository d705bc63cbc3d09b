"""The running-estimate chart of the lift report: an inline SVG (no script, no fetch)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["running_chart"]

_W, _H, _PAD = 640, 220, 48


def running_chart(points: Sequence[dict[str, Any]], *, label: str = "difference") -> str:
    """A line of ``difference`` by ``date`` with its 95% band and the zero line; an empty
    string when no point has an interval."""
    pts = [p for p in points if p.get("ci_low") is not None and p.get("difference") is not None]
    if not pts:
        return ""
    lows = [p["ci_low"] for p in pts]
    highs = [p["ci_high"] for p in pts]
    ymin, ymax = min(min(lows), 0.0), max(max(highs), 0.0)
    if ymax - ymin < 1e-9:
        ymin, ymax = ymin - 0.01, ymax + 0.01
    n = len(pts)

    def x(i: int) -> float:
        return _PAD + (i * (_W - 2 * _PAD) / (n - 1) if n > 1 else (_W - 2 * _PAD) / 2)

    def y(v: float) -> float:
        return _H - _PAD / 2 - (v - ymin) / (ymax - ymin) * (_H - _PAD)

    band = [f"{x(i):.1f},{y(p['ci_high']):.1f}" for i, p in enumerate(pts)]
    band += [f"{x(i):.1f},{y(p['ci_low']):.1f}" for i, p in reversed(list(enumerate(pts)))]
    line = " ".join(f"{x(i):.1f},{y(p['difference']):.1f}" for i, p in enumerate(pts))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(p["difference"]):.1f}" r="3" fill="#1f5fa8">'
        f"<title>{escape(p['date'])}: {100 * p['difference']:+.1f} pts "
        f"({100 * p['ci_low']:+.1f} to {100 * p['ci_high']:+.1f}), {p['leads']} leads</title>"
        "</circle>"
        for i, p in enumerate(pts)
    )
    ticks = "".join(
        f'<text x="{_PAD - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">'
        f"{100 * v:+.0f}</text>"
        for v in (ymin, 0.0, ymax)
    )
    dates = (
        f'<text x="{x(0):.1f}" y="{_H - 4}" font-size="11">{escape(pts[0]["date"])}</text>'
        f'<text x="{x(n - 1):.1f}" y="{_H - 4}" font-size="11" text-anchor="end">'
        f"{escape(pts[-1]['date'])}</text>"
    )
    if n == 1:
        # One day: its date once, centred, and its interval as a bar (a band needs two days).
        dates = (
            f'<text x="{x(0):.1f}" y="{_H - 4}" font-size="11" text-anchor="middle">'
            f"{escape(pts[0]['date'])}</text>"
            f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{y(pts[0]["ci_low"]):.1f}" '
            f'y2="{y(pts[0]["ci_high"]):.1f}" stroke="#1f5fa8" stroke-width="2" '
            'stroke-opacity="0.4"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{escape(label)} over time">'
        f'<polygon points="{" ".join(band)}" fill="#1f5fa8" fill-opacity="0.15"/>'
        f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" '
        'stroke="#888" stroke-dasharray="4 3"/>'
        f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="2"/>'
        f"{dots}{ticks}{dates}"
        f'<text x="8" y="14" font-size="11">{escape(label)} (percentage points)</text></svg>'
    )
