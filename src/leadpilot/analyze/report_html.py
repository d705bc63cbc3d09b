"""Render an :class:`~leadpilot.analyze.core.Analysis` as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from leadpilot import __version__
from leadpilot.analyze.charts import (
    heatmap_svg,
    monthly_svg,
    rate_by_group_svg,
    time_to_contact_svg,
)
from leadpilot.analyze.core import Analysis
from leadpilot.analyze.provenance import provenance_line
from leadpilot.analyze.revenue import revenue_sentence

__all__ = ["render_html", "write_html"]


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0%}" if abs(x) >= 0.1 or x == 0 else f"{x:.1%}"


def _spct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1%}"


def _hours(h: float | None) -> str:
    if h is None:
        return "–"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("leadpilot.analyze", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(pct=_pct, spct=_spct, hours=_hours)
    return env


def render_html(
    analysis: Analysis,
    *,
    title: str = "Routing audit",
    source_name: str | None = None,
    narrative: dict[str, Any] | None = None,
) -> str:
    """The report as an HTML string: no external assets, charts as inline SVG."""
    doc = analysis.sections
    overall = doc.overall.rate
    target = doc.methods.target
    target_label = "Conversion" if target == "converted" else "Closed-won"
    by_rep = doc.conversion_by_rep
    by_source = doc.conversion_by_source
    heatmaps = [
        (
            dim,
            Markup(
                heatmap_svg(
                    grid,
                    title=f"Rep x {dim.replace('_', ' ')}: shrunk {target_label.lower()} rate",
                    min_leads=doc.methods.min_leads,
                )
            ),
        )
        for dim, grid in doc.segment_heatmaps.items()
    ]
    subtitle = (
        f"{source_name + ' · ' if source_name else ''}{doc.data_quality.rows_used:,} leads, "
        f"{len(by_rep)} reps · outcome: {target.replace('_', ' ')}"
    )
    ttc = doc.time_to_contact
    min_leads = doc.methods.min_leads
    trend = doc.trend
    trend_charts = []
    if trend.get("available"):
        months = trend["months"]
        trend_charts.append(
            monthly_svg(
                months,
                value="rate",
                low="ci_low",
                high="ci_high",
                title=f"{target_label} rate by month of creation (95% interval)",
                axis="months with fewer than 30 leads with a known outcome: table only",
                fmt=lambda x: f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}",
            )
        )
        if trend.get("has_speed"):
            trend_charts.append(
                monthly_svg(
                    months,
                    value="median_hours",
                    low="median_hours_low",
                    high="median_hours_high",
                    title="Median time to first contact by month (95% interval)",
                    axis="hours; months with fewer than 30 leads: table only",
                    fmt=lambda h: f"{h:.1f} h" if h < 10 else f"{h:.0f} h",
                )
            )
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            title=title,
            subtitle=subtitle,
            provenance=doc.provenance,
            provenance_line=provenance_line(doc.provenance),
            v=doc.verdict,
            revenue_sentence=revenue_sentence(doc.recommendations.projected_revenue),
            q=doc.data_quality,
            overall=doc.overall,
            target_label=target_label,
            has_won=doc.has_won,
            has_days=bool(by_rep) and "median_days_to_convert" in by_rep[0],
            by_rep=by_rep,
            by_source=by_source,
            rep_chart=Markup(
                rate_by_group_svg(
                    by_rep,
                    "rep",
                    overall,
                    title=f"{target_label} rate by rep (95% interval)",
                    min_leads=min_leads,
                )
            ),
            source_chart=Markup(
                rate_by_group_svg(
                    by_source,
                    "source",
                    overall,
                    title=f"{target_label} rate by lead source",
                    min_leads=min_leads,
                )
                if by_source
                else ""
            ),
            heatmaps=heatmaps,
            matches=doc.best_matches,
            ttc=ttc,
            ttc_chart=Markup(
                time_to_contact_svg(ttc, title=f"{target_label} rate by time to first contact")
                if ttc.get("available")
                else ""
            ),
            trend=trend,
            trend_charts=[Markup(c) for c in trend_charts],
            rec=doc.recommendations,
            actions=doc.actions,
            m=doc.methods,
            narrative=narrative,
            validate=doc.data_quality.validate_summary,
            version=__version__,
        )
    )


def write_html(analysis: Analysis, path: Path, **kwargs: Any) -> Path:
    """Write the report to ``path`` (UTF-8) and return it."""
    path.write_text(render_html(analysis, **kwargs), encoding="utf-8")
    return path
