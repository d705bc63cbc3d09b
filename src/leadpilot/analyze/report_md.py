"""Render an :class:`~leadpilot.analyze.core.Analysis` as Markdown (for tickets and wikis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from leadpilot.analyze.core import Analysis
from leadpilot.analyze.provenance import provenance_line
from leadpilot.analyze.revenue import revenue_sentence

__all__ = ["render_markdown", "write_markdown"]


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0%}" if abs(x) >= 0.1 or x == 0 else f"{x:.1%}"


def _md(value: object) -> str:
    """Text from the data, safe in Markdown renderers that pass HTML through."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: object) -> str:
    return _md(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: Sequence[Mapping[str, Any]], key: str, has_won: bool) -> list[str]:
    head = f"| {key.capitalize()} | Leads | Converted | Rate | 95% interval |"
    sep = "|---|---:|---:|---:|---|"
    if has_won:
        head += " Won | Win rate |"
        sep += "---:|---:|"
    out = [head, sep]
    for r in rows:
        line = (
            f"| {_cell(r[key])} | {r['leads']:,} | {r['converted']:,} | {_pct(r['rate'])} | "
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])} |"
        )
        if has_won:
            line += f" {r['won']:,} | {_pct(r['win_rate'])} |"
        out.append(line)
    return out


def _hours(h: float | None) -> str:
    if h is None:
        return "–"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def _trend(trend: Mapping[str, Any]) -> list[str]:
    if not trend.get("available"):
        return [str(trend["reason"]) + "."]
    out = [
        "| Month | Leads | Open | Rate (95% interval) | Median time to contact (95% interval) |",
        "|---|---:|---:|---|---|",
    ]
    for r in trend["months"]:
        rate = (
            f"{_pct(r['rate'])} ({_pct(r['ci_low'])}–{_pct(r['ci_high'])})" if r["leads"] else "–"
        )
        speed = (
            f"{_hours(r['median_hours'])} ({_hours(r['median_hours_low'])}–"
            f"{_hours(r['median_hours_high'])})"
            if r["median_hours"] is not None
            else "–"
        )
        out.append(f"| {r['month']} | {r['leads']:,} | {r['open']:,} | {rate} | {speed} |")
    return out


def render_markdown(analysis: Analysis, *, narrative: dict[str, Any] | None = None) -> str:
    """The five sections, the verdict, data quality and methods as Markdown."""
    d = analysis.sections
    v, q, rec, ttc = d.verdict, d.data_quality, d.recommendations, d.time_to_contact
    has_won = d.has_won
    lift = v.projected_lift
    lines = [
        "# Routing audit",
        "",
        f"*{_md(provenance_line(d.provenance))}*",
        "",
        f"**Verdict: {'supports' if v.supports_predictive_routing else 'does not support'} "
        f"predictive routing.** {v.reason}",
        "",
        f"**15%+ improvement?** {v.statement_15pct}",
        "",
        "## Data quality",
        "",
        f"{q.rows:,} rows; {q.rows_used:,} with a known {q.target} outcome "
        f"({q.outcome_unknown:,} open or unknown); overall rate {_pct(d.overall.rate)}; "
        f"{q.reps} reps."
        + (
            f" Created {q.date_range[0][:10]} to {q.date_range[1][:10]}."
            if q.date_range
            else " No creation dates: file order stands for time."
        ),
        "",
        "## 1. Conversion by rep and by lead source",
        "",
        *(
            _table(d.conversion_by_rep, "rep", has_won)
            if d.conversion_by_rep
            else ["The history does not name the rep of each lead."]
        ),
        "",
    ]
    if d.conversion_by_source:
        lines += [*_table(d.conversion_by_source, "source", has_won), ""]
    lines += ["## 2. Best rep x segment matches", ""]
    if d.best_matches:
        lines += [
            "| Rep | Segment | Leads | Raw | Shrunk (95% CrI) | Segment avg | Lift | q |",
            "|---|---|---:|---:|---|---:|---:|---:|",
        ]
        for m in d.best_matches[:20]:
            lines.append(
                f"| {_cell(m['rep'])} | {_cell(m['segment'])} ({m['dimension']}) | {m['leads']} | "
                f"{_pct(m['rate'])} | {_pct(m['shrunk_rate'])} ({_pct(m['ci_low'])}–"
                f"{_pct(m['ci_high'])}) | {_pct(m['segment_rate'])} | {m['lift']:+.0%} | "
                f"{m['q_value']:.3f} |"
            )
    elif not d.conversion_by_rep:
        lines.append("The history does not name the rep of each lead: no rep x segment matches.")
    else:
        lines.append("No rep beats a segment's average by more than chance would explain.")
    lines += ["", "## 3. Time to first contact", ""]
    if ttc.get("available"):
        lines += ["| Time to contact | Leads | Rate | 95% interval |", "|---|---:|---:|---|"]
        for b in ttc["bins"]:
            lines.append(
                f"| {b['range']} | {b['leads']:,} | {_pct(b['rate'])} | "
                f"{_pct(b['ci_low'])}–{_pct(b['ci_high'])} |"
                if b["leads"]
                else f"| {b['range']} | 0 | – | – |"
            )
        f = ttc.get("fit")
        if f:
            lines += [
                "",
                "Each doubling of time to contact multiplies the odds of converting by "
                f"{f['odds_ratio_per_doubling']:.2f} "
                f"(95% CI {f['ci_low']:.2f}–{f['ci_high']:.2f}).",
            ]
        if ttc.get("by_source"):
            lines += [
                "",
                "| Source | Leads with a contact time | Median (95% interval) | Within 1 h "
                "| Rate |",
                "|---|---:|---|---:|---:|",
            ]
            for r in ttc["by_source"]:
                lines.append(
                    f"| {_cell(r['source'])} | {r['leads']:,} | {_hours(r['median_hours'])} "
                    f"({_hours(r['median_hours_low'])}–{_hours(r['median_hours_high'])}) | "
                    f"{_pct(r['within_1h'])} | {_pct(r['rate'])} |"
                )
        lines += ["", f"> {ttc['caution']}"]
    else:
        lines.append(ttc["reason"] + ".")
    lines += ["", "## 4. Routing recommendations", ""]
    lines.append(_md(rec.statement))
    lines.append("")
    if lift.value is not None and lift.ci_low is not None and lift.ci_high is not None:
        lines += [
            f"Projected lift over round-robin: {lift.value:+.1%} (95% interval "
            f"{lift.ci_low:+.1%} to {lift.ci_high:+.1%}). "
            f"Capacity: {rec.capacity_source}.",
            "",
        ]
    revenue = revenue_sentence(rec.projected_revenue)
    if revenue is not None:
        lines += [revenue, ""]
    lines += [f"{i}. {_md(r['text'])}" for i, r in enumerate(rec.rules, start=1)]
    lines += ["", f"*Method:* {rec.method}", "", "## 5. Prioritised actions", ""]
    for a in d.actions:
        lines.append(
            f"{a['priority']}. **{_md(a['title'])}.** {_md(a['detail'])} "
            f"*Evidence:* {_md(a['evidence'].rstrip('.'))}."
        )
    lines += ["", "## 6. Trends by month", "", *_trend(d.trend)]
    if narrative:
        lines += [
            "",
            f"## Narrative (generated by {narrative['model']}; not checked by leadpilot)",
            "",
            _md(narrative["text"]),
        ]
    methods = d.methods
    lines += ["", "## Methods", ""]
    lines += [
        f"- {text}"
        for text in (
            methods.rates,
            methods.shrinkage,
            methods.best_matches,
            methods.time_to_contact,
            methods.heterogeneity,
            methods.limitations,
        )
    ]
    lines += [f"- {n}" for n in methods.notes]
    return "\n".join(lines) + "\n"


def write_markdown(analysis: Analysis, path: Path, **kwargs: Any) -> Path:
    """Write the Markdown report to ``path`` and return it."""
    path.write_text(render_markdown(analysis, **kwargs), encoding="utf-8")
    return path
