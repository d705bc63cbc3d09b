"""Inline SVG charts for the HTML report: rate by rep with intervals, heat map, speed curve.

Hand-written SVG because the report must open offline as one file, matplotlib is not a
dependency, and these three charts are a few dozen shapes each; embedding a JavaScript
plotting library would add ~1 MB to every report for no gain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["heatmap_svg", "rate_by_group_svg", "time_to_contact_svg"]

FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"
INK = "#1f2937"
MUTED = "#6b7280"
ACCENT = "#2563eb"
GRID = "#e5e7eb"
MIN_BIN_LEADS = 20


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%" if x >= 0.1 or x == 0 else f"{x * 100:.1f}%"


def _text(
    x: float,
    y: float,
    s: str,
    *,
    size: int = 12,
    anchor: str = "start",
    color: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' {FONT} font-size='{size}' fill='{color}' "
        f"text-anchor='{anchor}' font-weight='{weight}'>{escape(s)}</text>"
    )


def rate_by_group_svg(
    rows: Sequence[Mapping[str, Any]],
    key: str,
    overall: float,
    *,
    title: str,
    max_rows: int = 40,
    min_leads: int = 1,
) -> str:
    """Horizontal bars of each group's rate with its 95% interval and the team rate line.

    Groups with fewer than ``min_leads`` leads are left out (a 1-of-1 "100%" would top the
    chart); the report's table still lists them."""
    big = [r for r in rows if r["leads"] >= min_leads] or rows
    rows = sorted(big, key=lambda r: -r["rate"])[:max_rows]
    label_w, bar_w, row_h, top = 170, 460, 24, 44
    width = label_w + bar_w + 150
    height = top + row_h * len(rows) + 34
    hi = max([r["ci_high"] for r in rows] + [overall, 0.05])
    scale = bar_w / (math.ceil(hi * 10) / 10)
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>",
        _text(0, 18, title, size=15, weight="600"),
    ]
    ticks = math.ceil(hi * 10)
    for t in range(ticks + 1):
        x = label_w + t * 0.1 * scale
        out.append(
            f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' "
            f"y2='{top + row_h * len(rows)}' stroke='{GRID}'/>"
        )
        out.append(_text(x, height - 12, _pct(t / 10), size=11, anchor="middle", color=MUTED))
    for i, r in enumerate(rows):
        y = top + i * row_h
        name = str(r[key])
        out.append(_text(label_w - 8, y + 15, name[:24], anchor="end"))
        w = r["rate"] * scale
        out.append(
            f"<rect x='{label_w}' y='{y + 5}' width='{w:.1f}' height='{row_h - 10}' "
            f"fill='{ACCENT}' fill-opacity='0.75' rx='2'><title>{escape(name)}: "
            f"{_pct(r['rate'])} of {r['leads']} leads (95% CI {_pct(r['ci_low'])}-"
            f"{_pct(r['ci_high'])})</title></rect>"
        )
        lo, hi_x = label_w + r["ci_low"] * scale, label_w + r["ci_high"] * scale
        cy = y + row_h / 2
        out.append(
            f"<line x1='{lo:.1f}' y1='{cy:.1f}' x2='{hi_x:.1f}' y2='{cy:.1f}' "
            f"stroke='{INK}' stroke-width='1.5'/>"
        )
        for xx in (lo, hi_x):
            out.append(
                f"<line x1='{xx:.1f}' y1='{cy - 5:.1f}' x2='{xx:.1f}' y2='{cy + 5:.1f}' "
                f"stroke='{INK}' stroke-width='1.5'/>"
            )
        out.append(
            _text(
                label_w + bar_w + 10,
                y + 15,
                f"{_pct(r['rate'])}  (n={r['leads']:,})",
                size=11,
                color=MUTED,
            )
        )
    xo = label_w + overall * scale
    out.append(
        f"<line x1='{xo:.1f}' y1='{top - 10}' x2='{xo:.1f}' "
        f"y2='{top + row_h * len(rows)}' stroke='#dc2626' stroke-dasharray='4 3'/>"
    )
    out.append(_text(xo + 4, top - 12, f"team {_pct(overall)}", size=11, color="#dc2626"))
    out.append("</svg>")
    return "".join(out)


def _lift_colour(lift: float | None) -> str:
    """Diverging scale: blue above the segment average, orange below, white at it."""
    if lift is None:
        return "#f3f4f6"
    t = max(-1.0, min(1.0, lift / 0.5))
    if t >= 0:
        r, g, b = (int(255 - t * (255 - c)) for c in (37, 99, 235))
    else:
        r, g, b = (int(255 + t * (255 - c)) for c in (234, 88, 12))
    return f"rgb({r},{g},{b})"


def heatmap_svg(
    grid: Mapping[str, Any], *, title: str, max_reps: int = 40, max_segments: int = 16
) -> str:
    """Rep x segment shrunk rates, coloured by lift over the segment average."""
    reps = grid["reps"][:max_reps]
    segs = grid["segments"][:max_segments]
    cell_w, cell_h, left, top = 64, 24, 150, 92
    width = left + cell_w * len(segs) + 90  # room for the last rotated label
    height = top + cell_h * len(reps) + 10
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>",
        _text(0, 18, title, size=15, weight="600"),
    ]
    for j, s in enumerate(segs):
        x = left + j * cell_w + cell_w / 2
        out.append(
            f"<text transform='translate({x:.1f},{top - 8}) rotate(-35)' {FONT} font-size='11' "
            f"fill='{INK}'>{escape(str(s)[:18])}</text>"
        )
    for i, rep in enumerate(reps):
        y = top + i * cell_h
        out.append(_text(left - 8, y + 16, str(rep)[:20], anchor="end", size=11))
        for j, _s in enumerate(segs):
            cell = grid["cells"][grid["reps"].index(rep)][grid["segments"].index(_s)]
            x = left + j * cell_w
            if cell is None:
                out.append(
                    f"<rect x='{x}' y='{y}' width='{cell_w - 2}' height='{cell_h - 2}' "
                    "fill='#f9fafb'/>"
                )
                continue
            colour = _lift_colour(cell["lift"])
            stroke = f" stroke='{INK}' stroke-width='2'" if cell["significant"] else ""
            opacity = "0.45" if cell["thin"] else "1"
            lift = cell["lift"]
            lift_txt = "n/a" if lift is None else f"{lift:+.0%}"
            out.append(
                f"<rect x='{x}' y='{y}' width='{cell_w - 2}' height='{cell_h - 2}' "
                f"fill='{colour}' fill-opacity='{opacity}'{stroke}><title>{escape(str(rep))} x "
                f"{escape(str(_s))}: shrunk {_pct(cell['shrunk'])}, raw {_pct(cell['rate'])} "
                f"of {cell['leads']} leads, lift {lift_txt}</title></rect>"
            )
            dark = cell["lift"] is not None and abs(cell["lift"]) > 0.3 and not cell["thin"]
            out.append(
                _text(
                    x + (cell_w - 2) / 2,
                    y + 16,
                    _pct(cell["shrunk"]),
                    size=11,
                    anchor="middle",
                    weight="600" if cell["significant"] else "normal",
                    color="#ffffff" if dark else INK,
                )
            )
    out.append("</svg>")
    return "".join(out)


def time_to_contact_svg(section: Mapping[str, Any], *, title: str) -> str:
    """Binned rates with intervals on a log-hours axis, with the fitted logistic curve."""
    mids = {
        "<5 min": 2.5 / 60,
        "5-15 min": 10 / 60,
        "15-60 min": 0.5,
        "1-4 h": 2.0,
        "4-24 h": 10.0,
        ">24 h": 48.0,
    }
    width, height, left, right, top, bottom = 720, 320, 60, 20, 40, 50
    x0, x1 = math.log(1 / 60), math.log(72)
    # Bins with very few leads would stretch the axis with a 0-100% interval; the table
    # still lists them.
    bins = [b for b in section["bins"] if b["leads"] >= MIN_BIN_LEADS]
    curve = (section.get("fit") or {}).get("curve", [])
    hi = max([b["ci_high"] for b in bins] + [c["rate"] for c in curve] + [0.05])
    hi = math.ceil(hi * 10) / 10

    def px(h: float) -> float:
        return left + (math.log(h) - x0) / (x1 - x0) * (width - left - right)

    def py(r: float) -> float:
        return top + (1 - r / hi) * (height - top - bottom)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>",
        _text(0, 18, title, size=15, weight="600"),
    ]
    for t in range(round(hi * 10) + 1):
        y = py(t / 10)
        out.append(
            f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' stroke='{GRID}'/>"
        )
        out.append(_text(left - 6, y + 4, _pct(t / 10), size=11, anchor="end", color=MUTED))
    for h, lab in (
        (1 / 60, "1 min"),
        (5 / 60, "5 min"),
        (0.25, "15 min"),
        (1, "1 h"),
        (4, "4 h"),
        (24, "24 h"),
        (72, "3 d"),
    ):
        out.append(_text(px(h), height - bottom + 18, lab, size=11, anchor="middle", color=MUTED))
    out.append(
        _text(
            (left + width) / 2,
            height - 8,
            "time to first contact (log scale)",
            size=11,
            anchor="middle",
            color=MUTED,
        )
    )
    if curve:
        pts = " ".join(f"{px(c['hours']):.1f},{py(c['rate']):.1f}" for c in curve)
        out.append(
            f"<polyline points='{pts}' fill='none' stroke='#dc2626' stroke-width='2' "
            "stroke-dasharray='6 3'/>"
        )
    for b in bins:
        x = px(mids[b["range"]])
        out.append(
            f"<line x1='{x:.1f}' y1='{py(b['ci_low']):.1f}' x2='{x:.1f}' "
            f"y2='{py(b['ci_high']):.1f}' stroke='{INK}' stroke-width='1.5'/>"
        )
        out.append(
            f"<circle cx='{x:.1f}' cy='{py(b['rate']):.1f}' r='6' fill='{ACCENT}'>"
            f"<title>{escape(b['range'])}: {_pct(b['rate'])} of {b['leads']} leads"
            "</title></circle>"
        )
        out.append(
            _text(
                x,
                py(b["ci_high"]) - 8,
                f"{b['range']}  {_pct(b['rate'])}",
                size=11,
                anchor="middle",
            )
        )
    out.append("</svg>")
    return "".join(out)
