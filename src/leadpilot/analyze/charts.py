"""Inline SVG charts for the HTML report: rate by rep with intervals, heat map, speed curve.

Hand-written SVG because the report must open offline as one file, matplotlib is not a
dependency, and these three charts are a few dozen shapes each; embedding a JavaScript
plotting library would add ~1 MB to every report for no gain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = [
    "fit_label",
    "heatmap_svg",
    "monthly_svg",
    "rate_by_group_svg",
    "text_width",
    "time_to_contact_svg",
]

FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"
INK = "#1f2937"
MUTED = "#6b7280"
ACCENT = "#2563eb"
GRID = "#e5e7eb"
BLANK = "#f9fafb"
MIN_BIN_LEADS = 20
# Average glyph width of the sans-serif stack as a share of the font size, rounded up (digits
# and lower case run ~0.55, capitals ~0.65): labels are sized from it so none is cut.
_EM = 0.62
# Labels longer than this are shortened with an ellipsis (the full name is in the tooltip).
MAX_LABEL_PX = 300
_SIN35, _COS35 = math.sin(math.radians(35)), math.cos(math.radians(35))


def text_width(s: str, size: int) -> float:
    """Estimated rendered width in px of ``s`` at ``size`` px (an upper bound in practice)."""
    wide = sum(1 for c in s if c.isupper() or c in "mwMW%")
    return size * (_EM * len(s) + 0.1 * wide)


def fit_label(s: str, size: int, max_px: float = MAX_LABEL_PX) -> str:
    """``s`` itself when it fits in ``max_px``, else its longest prefix that does plus "…"."""
    if text_width(s, size) <= max_px:
        return s
    cut = s
    while cut and text_width(cut + "…", size) > max_px:
        cut = cut[:-1]
    return cut.rstrip() + "…"


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
    labels = [fit_label(str(r[key]), 12) for r in rows]
    # the left margin grows with the longest name so none is clipped
    label_w = max(80, math.ceil(max((text_width(s, 12) for s in labels), default=0)) + 16)
    bar_w, row_h, top = 460, 24, 44
    width = max(label_w + bar_w + 150, math.ceil(text_width(title, 15)) + 10)
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
        out.append(_text(label_w - 8, y + 15, labels[i], anchor="end"))
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


def _swatch(x: float, y: float, fill: str, label: str, *, extra: str = "") -> tuple[str, float]:
    """One legend entry (a 14 px square and its label) and the x where the next may start."""
    box = f"<rect x='{x:.1f}' y='{y - 11:.1f}' width='14' height='14' fill='{fill}'{extra}/>"
    return box + _text(x + 19, y, label, size=11, color=MUTED), x + 19 + text_width(label, 11) + 16


def heatmap_svg(
    grid: Mapping[str, Any],
    *,
    title: str,
    max_reps: int = 40,
    max_segments: int = 16,
    min_leads: int = 20,
) -> str:
    """Rep x segment shrunk rates, coloured by lift over the segment average, with a legend
    that explains every kind of cell (blank ones included) so the chart stands on its own."""
    reps = grid["reps"][:max_reps]
    segs = grid["segments"][:max_segments]
    rep_labels = [fit_label(str(r), 11) for r in reps]
    seg_labels = [fit_label(str(s), 11, 220) for s in segs]
    cell_w, cell_h = 64, 24
    left = max(60, math.ceil(max((text_width(s, 11) for s in rep_labels), default=0)) + 16)
    # column labels are rotated 35 degrees: their height sets the top margin, the last ones'
    # reach to the right sets the width
    seg_w = [text_width(s, 11) for s in seg_labels]
    top = 36 + math.ceil(max(seg_w, default=0) * _SIN35) + 14
    right = max(
        (left + j * cell_w + cell_w / 2 + w * _COS35 + 8 for j, w in enumerate(seg_w)),
        default=0.0,
    )
    legend_y = top + cell_h * len(reps) + 22
    legend: list[tuple[str, str, str]] = [
        (_lift_colour(0.4), "above the segment average", ""),
        (_lift_colour(-0.4), "below it", ""),
        (_lift_colour(0.4), "significantly above (10% FDR)", f" stroke='{INK}' stroke-width='2'"),
        (_lift_colour(0.4), f"faded: fewer than {min_leads} leads", " fill-opacity='0.45'"),
        (BLANK, "blank: the rep had no leads in this segment", f" stroke='{GRID}'"),
    ]
    notes = []
    if len(grid["reps"]) > len(reps):
        notes.append(f"The {len(reps)} reps with the most leads of {len(grid['reps'])}.")
    if len(grid["segments"]) > len(segs):
        notes.append(f"The {len(segs)} largest segments of {len(grid['segments'])}.")
    lines: list[list[str]] = [[]]
    x, widest = 0.0, 0.0
    line_w = max(left + cell_w * len(segs), 560)
    for fill, label, extra in legend:
        if x and x + 19 + text_width(label, 11) > line_w:
            lines.append([])
            x = 0.0
        y = legend_y + 20 * (len(lines) - 1)
        part, x = _swatch(x, y, fill, label, extra=extra)
        lines[-1].append(part)
        widest = max(widest, x)
    parts = ["".join(line) for line in lines]
    note_y = legend_y + 20 * len(lines)
    for k, note in enumerate(notes):
        parts.append(_text(0, note_y + 18 * k, note, size=11, color=MUTED))
        widest = max(widest, text_width(note, 11))
    height = note_y + 18 * len(notes) + 4
    width = math.ceil(
        max(left + cell_w * len(segs) + 10, right, widest, text_width(title, 15) + 10)
    )
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>",
        _text(0, 18, title, size=15, weight="600"),
    ]
    for j, s in enumerate(segs):
        x = left + j * cell_w + cell_w / 2
        out.append(
            f"<text transform='translate({x:.1f},{top - 8}) rotate(-35)' {FONT} font-size='11' "
            f"fill='{INK}'><title>{escape(str(s))}</title>{escape(seg_labels[j])}</text>"
        )
    for i, rep in enumerate(reps):
        y = top + i * cell_h
        out.append(_text(left - 8, y + 16, rep_labels[i], anchor="end", size=11))
        for j, _s in enumerate(segs):
            cell = grid["cells"][i][j]
            x = left + j * cell_w
            if cell is None:
                out.append(
                    f"<rect x='{x}' y='{y}' width='{cell_w - 2}' height='{cell_h - 2}' "
                    f"fill='{BLANK}' stroke='{GRID}'><title>{escape(str(rep))} x "
                    f"{escape(str(_s))}: no leads</title></rect>"
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
    out.extend(parts)
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


def _nice_step(top: float) -> float:
    """A 1-2-5 step giving four to ten gridlines up to ``top``."""
    raw = top / 5 if top > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def monthly_svg(
    rows: Sequence[Mapping[str, Any]],
    *,
    value: str,
    low: str,
    high: str,
    title: str,
    axis: str,
    fmt: Callable[[float], str],
) -> str:
    """A month-by-month series: dots joined by a line with 95% whiskers, month labels below.
    Months marked ``thin`` are left out (a one-lead month's 0-100% interval would flatten the
    rest; the report's table lists them), unless every month is thin."""
    pts = [(i, r) for i, r in enumerate(rows) if r.get(value) is not None and not r.get("thin")]
    if not pts:
        pts = [(i, r) for i, r in enumerate(rows) if r.get(value) is not None]
    hi = max([float(r[high]) for _, r in pts] + [1e-9])
    step = _nice_step(hi)
    top_v = math.ceil(hi / step) * step
    labels = [str(r["month"]) for r in rows]
    left = max(52, math.ceil(max(text_width(fmt(top_v), 11), 0)) + 14)
    slot = max(24, min(64, 640 // max(len(rows), 1)))
    rotate = slot < 56
    plot_h, top = 200, 40
    label_h = math.ceil(text_width("2025-01", 11) * _SIN35) + 16 if rotate else 18
    width = math.ceil(max(left + slot * len(rows) + 40, text_width(title, 15) + 10))
    height = top + plot_h + label_h + 26

    def px(i: int) -> float:
        return left + slot * (i + 0.5)

    def py(v: float) -> float:
        return top + (1 - v / top_v) * plot_h

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>",
        _text(0, 18, title, size=15, weight="600"),
    ]
    for k in range(round(top_v / step) + 1):
        y = py(k * step)
        out.append(
            f"<line x1='{left}' y1='{y:.1f}' x2='{left + slot * len(rows)}' y2='{y:.1f}' "
            f"stroke='{GRID}'/>"
        )
        out.append(_text(left - 6, y + 4, fmt(k * step), size=11, anchor="end", color=MUTED))
    base = top + plot_h
    for i, lab in enumerate(labels):
        x = px(i)
        if rotate:
            out.append(
                f"<text transform='translate({x - 4:.1f},{base + 14}) rotate(-35)' {FONT} "
                f"font-size='11' fill='{MUTED}' text-anchor='end'>{escape(lab)}</text>"
            )
        else:
            out.append(_text(x, base + 16, lab, size=11, anchor="middle", color=MUTED))
    out.append(_text(left, height - 6, axis, size=11, color=MUTED))
    if len(pts) > 1:
        line = " ".join(f"{px(i):.1f},{py(float(r[value])):.1f}" for i, r in pts)
        out.append(f"<polyline points='{line}' fill='none' stroke='{ACCENT}' stroke-width='1.5'/>")
    for i, r in pts:
        x, v = px(i), float(r[value])
        out.append(
            f"<line x1='{x:.1f}' y1='{py(float(r[low])):.1f}' x2='{x:.1f}' "
            f"y2='{py(float(r[high])):.1f}' stroke='{INK}' stroke-width='1.2'/>"
        )
        out.append(
            f"<circle cx='{x:.1f}' cy='{py(v):.1f}' r='4' fill='{ACCENT}' stroke='{ACCENT}' "
            f"stroke-width='1.5'><title>{escape(str(r['month']))}: {fmt(v)} (95% interval "
            f"{fmt(float(r[low]))} to {fmt(float(r[high]))})</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)
