"""The shadow and lift reports as self-contained HTML (inline CSS and SVG, no scripts, no
external files) and as Markdown, from their JSON documents (``as_dict``)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from leadpilot.evaluate.report_svg import running_chart

__all__ = [
    "render_lift_html",
    "render_lift_markdown",
    "render_shadow_html",
    "render_shadow_markdown",
]


def _pct(v: Any, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def _pts(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:+.1f} pts"


def _ci(low: Any, high: Any, fmt: str = "pct") -> str:
    if low is None or high is None:
        return "(no interval yet)"
    f = _pct if fmt == "pct" else _pts
    return f"({f(low)} to {f(high)})" if fmt == "pts" else f"({f(low)}-{f(high)})"


def _p(v: Any) -> str:
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _money(v: Any) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _env() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(pct=_pct, pts=_pts, ci=_ci, pval=_p, money=_money)
    return env


_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f3f3f3;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.5rem 1rem;margin:.5rem 0}
.verdict{font-size:1.15rem;padding:.6rem 1rem;border-left:6px solid #888;background:#f6f6f6}
.go{border-color:#1b7f3b}.no-go{border-color:#b00020}.wait{border-color:#e0a800}
</style>"""

_LIFT = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadpilot lift report</title>"""
    + _STYLE
    + """</head><body>
<h1>Predictive routing vs holdout</h1>
<p>{{ r.live_leads }} live leads{% if r.since %} decided since {{ r.since }}{% endif %};
{{ r.not_randomized }} were not randomized (holds, fallback owner, nobody available, or a
policy without a holdout) and are left out.</p>
{% for n in r.notes %}<div class="warn">{{ n }}</div>{% endfor %}
{% for d in r.designs %}
<h2>Design: {{ 'per-lead randomization' if d.design == 'per_lead' else 'switchback' }}</h2>
<p class="verdict">{{ d.verdict }}</p>
<table><tr><th></th><th>predictive</th><th>holdout</th><th>difference (95% CI)</th>
<th>p-value</th></tr>
<tr><td>leads ({{ d.unit }}s{% if d.unit == 'block' %}, washout excluded{% endif %})</td>
<td class="n">{{ d.predictive.leads }}
({{ d.predictive.units }})</td><td class="n">{{ d.holdout.leads }} ({{ d.holdout.units }})</td>
<td></td><td></td></tr>
<tr><td>converted (won)</td><td class="n">{{ d.predictive.won_rate|pct }}
{{ d.predictive.won_ci[0]|ci(d.predictive.won_ci[1]) }}</td>
<td class="n">{{ d.holdout.won_rate|pct }} {{ d.holdout.won_ci[0]|ci(d.holdout.won_ci[1]) }}</td>
<td class="n">{{ d.conversion.difference|pts }}
{{ d.conversion.ci_low|ci(d.conversion.ci_high, 'pts') }}</td>
<td class="n">{{ d.conversion.p_value|pval }}</td></tr>
<tr><td>meetings booked</td><td class="n">{{ d.predictive.meeting_rate|pct }}
{{ d.predictive.meeting_ci[0]|ci(d.predictive.meeting_ci[1]) }}</td>
<td class="n">{{ d.holdout.meeting_rate|pct }}
{{ d.holdout.meeting_ci[0]|ci(d.holdout.meeting_ci[1]) }}</td>
<td class="n">{{ d.meetings.difference|pts }}
{{ d.meetings.ci_low|ci(d.meetings.ci_high, 'pts') }}</td>
<td class="n">{{ d.meetings.p_value|pval }}</td></tr>
{% if d.pipeline_per_lead %}{% set pv = d.pipeline_per_lead %}
<tr><td>pipeline value per lead</td><td class="n">{{ pv.treated|money }}
(total {{ d.predictive.pipeline_total|money }})</td>
<td class="n">{{ pv.control|money }} (total {{ d.holdout.pipeline_total|money }})</td>
<td class="n">{{ pv.difference|money }}{% if pv.ci_low is not none %}
({{ pv.ci_low|money }} to {{ pv.ci_high|money }}){% endif %}</td>
<td class="n">{{ pv.p_value|pval }}</td></tr>{% endif %}
</table>
<p>Relative lift in conversion: {{ d.conversion.relative|pct(true) }}.
{% if d.leads_needed %}Sample to detect a difference this size (5% test, 80% power, today's
split): about {{ d.conversion.units_needed }} {{ d.unit }}s{% if d.unit == 'block' %}
(~{{ d.leads_needed }} leads){% endif %}; now {{ d.conversion.units }}.{% endif %}</p>
<h3>Running estimate (cumulative, by day)</h3>
{{ charts[loop.index0] }}
<table><tr><th>through</th><th>leads</th><th>difference (95% CI)</th></tr>
{% for p in d.running %}<tr><td>{{ p.date }}</td><td class="n">{{ p.leads }}</td>
<td class="n">{{ p.difference|pts }} {{ p.ci_low|ci(p.ci_high, 'pts') }}</td></tr>{% endfor %}
</table>
<h3>Caveats</h3><ul>{% for c in d.caveats %}<li>{{ c }}</li>{% endfor %}</ul>
{% endfor %}
<p>Differences are treated minus holdout; intervals use Student's t over the randomization
units (leads, or switchback blocks with their leads pooled); rates carry Wilson intervals.</p>
</body></html>"""
)

_SHADOW = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadpilot shadow-mode report</title>"""
    + _STYLE
    + """</head><body>
<h1>Shadow mode: would following the recommendations pay?</h1>
<p>{{ r.leads }} leads routed in shadow mode{% if r.since %} since {{ r.since }}{% endif %};
{{ r.scored_leads }} with model scores for both the assigned and the recommended rep.</p>
<p class="verdict {{ r.decision }}"><b>{{ r.decision|upper }}</b>: {{ r.verdict }}</p>
{% for c in r.caveats %}<div class="warn">{{ c }}</div>{% endfor %}
<table><tr><th>measure</th><th>value (95% CI)</th><th>leads</th></tr>
<tr><td>agreement (recommended rep = assigned rep)</td>
<td class="n">{{ r.agreement.rate|pct }} {{ r.agreement.ci_low|ci(r.agreement.ci_high) }}</td>
<td class="n">{{ r.agreement.leads }}</td></tr>
<tr><td>converted when they agreed</td><td class="n">{{ r.converted_agreed.rate|pct }}
{{ r.converted_agreed.ci_low|ci(r.converted_agreed.ci_high) }}</td>
<td class="n">{{ r.converted_agreed.leads }}</td></tr>
<tr><td>converted when they disagreed</td><td class="n">{{ r.converted_disagreed.rate|pct }}
{{ r.converted_disagreed.ci_low|ci(r.converted_disagreed.ci_high) }}</td>
<td class="n">{{ r.converted_disagreed.leads }}</td></tr>
{% if r.following %}{% set f = r.following %}
<tr><td>logged conversion (scored leads)</td><td class="n">{{ f.logged_rate|pct }}</td>
<td class="n">{{ r.scored_leads }}</td></tr>
<tr><td>following the recommendations (doubly robust)</td>
<td class="n">{{ f.dr_rate.rate|pct }} {{ f.dr_rate.ci_low|ci(f.dr_rate.ci_high) }}</td>
<td class="n">{{ r.scored_leads }}</td></tr>
<tr><td>lift of following them</td><td class="n">{{ f.lift.mean|pts }}
{{ f.lift.ci_low|ci(f.lift.ci_high, 'pts') }}; relative {{ f.relative_lift.rate|pct(true) }}
({{ f.relative_lift.ci_low|pct(true) }} to {{ f.relative_lift.ci_high|pct(true) }})</td>
<td class="n">{{ r.scored_leads }}</td></tr>{% endif %}
</table>
{% if r.overlap %}<p>Overlap: {{ r.overlap.verdict }} (effective sample size
{{ '%.0f'|format(r.overlap.ess) }}, {{ r.overlap.unsupported_share|pct }} of the
recommendations never made by the logged routing){% if r.overlap.reasons %}:
{{ r.overlap.reasons|join('; ') }}{% endif %}.</p>{% endif %}
{% for title, rows in [('By segment', r.by_segment), ('By assigned rep', r.by_rep)] %}
<h2>{{ title }}</h2>
<table><tr><th>{{ 'segment' if loop.first else 'rep' }}</th><th>leads</th><th>agreement</th>
<th>converted, agreed</th><th>converted, disagreed</th><th>DR lift (95% CI)</th></tr>
{% for g in rows %}<tr><td>{{ g.group }}</td><td class="n">{{ g.leads }}</td>
<td class="n">{{ g.agreement|pct }}</td>
<td class="n">{{ g.converted_agreed.rate|pct }} of {{ g.converted_agreed.leads }}</td>
<td class="n">{{ g.converted_disagreed.rate|pct }} of {{ g.converted_disagreed.leads }}</td>
<td class="n">{{ g.dr_lift.mean|pts }} {{ g.dr_lift.ci_low|ci(g.dr_lift.ci_high, 'pts') }}</td>
</tr>{% endfor %}</table>{% endfor %}
<h2>Most confident and wrong</h2>
{% if r.confident_and_wrong %}<table><tr><th>lead</th><th>decided</th><th>assigned</th>
<th>recommended</th><th>confidence</th><th>P(win) assigned</th><th>P(win) recommended</th>
<th>outcome</th></tr>
{% for c in r.confident_and_wrong %}<tr><td>{{ c.lead_id }}</td>
<td style="white-space:nowrap">{{ c.decided_at[:16]|replace('T', ' ') }}</td>
<td>{{ c.rep_id }}</td><td>{{ c.recommended }}</td><td class="n">{{ '%.2f'|format(c.confidence) }}
</td><td class="n">{{ c.p_actual|pct }}</td><td class="n">{{ c.p_recommended|pct }}</td>
<td>{{ 'won' if c.won else 'lost' }}</td></tr>{% endfor %}</table>
{% else %}<p>No closed lead where the model's chance was off by more than 50 points.</p>
{% endif %}
<p>The doubly robust estimate uses the model's scores logged with each decision and the
logged propensities; conversion rates carry Wilson intervals, lifts Student's t intervals
over leads (the relative lift a bootstrap over leads).</p>
</body></html>"""
)


def render_lift_html(document: dict[str, Any]) -> str:
    """The page for ``LiftReport.as_dict()``."""
    charts = [Markup(running_chart(d["running"])) for d in document["designs"]]
    return _env().from_string(_LIFT).render(r=document, charts=charts)


def render_shadow_html(document: dict[str, Any]) -> str:
    """The page for ``ShadowReport.as_dict()``."""
    return _env().from_string(_SHADOW).render(r=document)


def render_lift_markdown(document: dict[str, Any]) -> str:
    """The lift report as Markdown."""
    lines = ["# Predictive routing vs holdout", ""]
    lines.append(
        f"{document['live_leads']} live leads, {document['not_randomized']} not randomized."
    )
    lines += [f"> {n}" for n in document["notes"]]
    for d in document["designs"]:
        c, m = d["conversion"], d["meetings"]
        p, h = d["predictive"], d["holdout"]
        lines += [
            "",
            f"## Design: {d['design']}",
            "",
            f"**{d['verdict']}**",
            "",
            "| | predictive | holdout | difference (95% CI) | p-value |",
            "|---|---|---|---|---|",
            f"| leads (units: {d['unit']}s) | {p['leads']} ({p['units']}) | {h['leads']} "
            f"({h['units']}) | | |",
            f"| converted | {_pct(p['won_rate'])} {_ci(*p['won_ci'])} | "
            f"{_pct(h['won_rate'])} {_ci(*h['won_ci'])} | {_pts(c['difference'])} "
            f"{_ci(c['ci_low'], c['ci_high'], 'pts')} | {_p(c['p_value'])} |",
            f"| meetings | {_pct(p['meeting_rate'])} | {_pct(h['meeting_rate'])} | "
            f"{_pts(m['difference'])} {_ci(m['ci_low'], m['ci_high'], 'pts')} | "
            f"{_p(m['p_value'])} |",
        ]
        pv = d["pipeline_per_lead"]
        if pv:
            lines.append(
                f"| pipeline per lead | {_money(pv['treated'])} | {_money(pv['control'])} | "
                f"{_money(pv['difference'])} | {_p(pv['p_value'])} |"
            )
        if c["units_needed"]:
            lines += ["", f"Units needed to detect this difference: {c['units_needed']}."]
        lines += ["", "Caveats:", ""] + [f"- {x}" for x in d["caveats"]]
    return "\n".join(lines) + "\n"


def render_shadow_markdown(document: dict[str, Any]) -> str:
    """The shadow report as Markdown."""
    r = document
    a, ag, dis = r["agreement"], r["converted_agreed"], r["converted_disagreed"]
    lines = [
        "# Shadow mode report",
        "",
        f"**{r['decision'].upper()}**: {r['verdict']}",
        "",
        "| measure | value (95% CI) | leads |",
        "|---|---|---|",
        f"| agreement | {_pct(a['rate'])} {_ci(a['ci_low'], a['ci_high'])} | {a['leads']} |",
        f"| converted, agreed | {_pct(ag['rate'])} {_ci(ag['ci_low'], ag['ci_high'])} | "
        f"{ag['leads']} |",
        f"| converted, disagreed | {_pct(dis['rate'])} {_ci(dis['ci_low'], dis['ci_high'])} "
        f"| {dis['leads']} |",
    ]
    f = r["following"]
    if f:
        lift = f["lift"]
        lines.append(
            f"| DR lift of following | {_pts(lift['mean'])} "
            f"{_ci(lift['ci_low'], lift['ci_high'], 'pts')} | {r['scored_leads']} |"
        )
    fb = r.get("fit_feedback") or {}
    if fb:
        pa, pd_ = fb["poor_agreed"], fb["poor_disagreed"]
        lines.append(
            f"| rated poor fit by the rep, agreed | {_pct(pa['rate'])} "
            f"{_ci(pa['ci_low'], pa['ci_high'])} | {pa['leads']} |"
        )
        lines.append(
            f"| rated poor fit by the rep, disagreed | {_pct(pd_['rate'])} "
            f"{_ci(pd_['ci_low'], pd_['ci_high'])} | {pd_['leads']} |"
        )
    lines += ["", "Caveats:", ""] + [f"- {x}" for x in r["caveats"]]
    return "\n".join(lines) + "\n"
