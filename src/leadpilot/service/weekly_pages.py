"""The weekly review as self-contained HTML (inline CSS, no scripts, no external files) and
as Markdown, from its JSON document (``service.weekly.weekly_report``)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

__all__ = ["kpi_cells", "render_weekly_html", "render_weekly_markdown", "targets_note"]


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _value(cell: dict[str, Any], kind: str) -> str:
    """One week's KPI as text: a rate with its interval, minutes, or a count."""
    if kind == "rate":
        if cell.get("rate") is None:
            return "no data"
        return f"{_pct(cell['rate'])} ({_pct(cell['low'])}-{_pct(cell['high'])}, n={cell['n']})"
    value = cell.get("value")
    if value is None:
        return "no data"
    return f"{value:.0f} min (n={cell['n']})" if kind == "minutes" else f"{value:,}"


def _target(row: dict[str, Any]) -> str:
    t = row.get("target")
    if t is None:
        return "-"
    shown = (
        _pct(t)
        if row["kind"] == "rate"
        else f"{t:g}" + (" min" if row["kind"] == "minutes" else "")
    )
    source = row.get("target_from")
    if source is None:
        return f"{row['sense']} {shown}"
    return f"{row['sense']} {shown} ({'default' if source == 'default' else 'from ' + source})"


def targets_note(document: dict[str, Any]) -> str:
    """Where the targets come from and how to change them."""
    keys = [k["target_key"] for k in document["kpis"] if k.get("target_key")]
    version = document.get("policy_version")
    where = (
        f'Targets come from the active policy v{version}; "default" marks one it leaves at '
        "its default."
        if version is not None
        else "No policy was uploaded, so every target is its default."
    )
    return f"{where} Set them in the policy: {', '.join(keys)}."


def kpi_cells(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """``(kpi, this week, last week, target, status)`` as text."""
    met = row.get("target_met")
    status = "-" if met is None else ("on target" if met else "MISSED")
    change = row.get("change") or ""
    return (
        row["kpi"],
        _value(row["this_week"], row["kind"]),
        _value(row["last_week"], row["kind"]) + (f" [{change}]" if change else ""),
        _target(row),
        status,
    )


_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;white-space:nowrap}
.missed{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.5rem 1rem;margin:.5rem 0}
ol li{margin:.4rem 0}
.generated{border:2px dashed #a855f7;background:#faf5ff;padding:.5rem 1rem}
.generated .tag{color:#7e22ce;font-weight:650;font-size:12px;text-transform:uppercase}
</style>"""

_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadpilot weekly review</title>"""
    + _STYLE
    + """</head><body>
<h1>Weekly review, {{ r.since[:10] }} to {{ r.until[:10] }}</h1>
<h2>Recommended changes</h2>
{% if r.recommendations %}<ol>{% for c in r.recommendations %}
<li><b>{{ c.change }}</b> ({{ c.area }}). Why: {{ c.evidence }}.</li>{% endfor %}</ol>
{% endif %}{% for n in r.notes %}<div class="warn">{{ n }}</div>{% endfor %}
<h2>KPIs against targets and last week</h2>
<table><tr><th>KPI</th><th>this week (95% CI)</th><th>last week [change]</th><th>target</th>
<th>status</th></tr>
{% for k in kpis %}<tr><td>{{ k[0] }}</td><td class="n">{{ k[1] }}</td><td class="n">{{ k[2] }}
</td><td class="n">{{ k[3] }}</td><td class="{{ 'missed' if k[4] == 'MISSED' else 'ok' }}">
{{ k[4] }}</td></tr>{% endfor %}</table>
<p>A change from last week is marked up or down only when the two weeks' intervals do not
overlap. {{ targets_note }}</p>
<h2>Model health</h2>{% set m = r.model %}
{% if m.champion %}<p>Champion <b>{{ m.champion }}</b>{% if m.promoted_at %}, promoted
{{ m.promoted_at[:10] }}{% endif %}. Held-out AUC
{{ '%.3f'|format(m.held_out.auc) if m.held_out and m.held_out.auc is not none else 'n/a' }},
log loss {{ '%.4f'|format(m.held_out.log_loss)
if m.held_out and m.held_out.log_loss is not none else 'n/a' }}.</p>
{% else %}<p>No model is the champion: routing follows the policy's rules
(`leadpilot retrain` trains the first).</p>{% endif %}
{% set c = m.calibration_this_week %}
<p>This week the model scored {{ c.scored_leads }} routed leads: predicted
{{ c.mean_predicted|pct }} meetings, observed {{ c.observed.rate|pct }}
({{ c.observed.low|pct }}-{{ c.observed.high|pct }}){% if c.within_interval is sameas true %},
within the interval{% elif c.within_interval is sameas false %}, <b>outside the
interval</b>{% endif %}.</p>
{% if m.versions_trained_this_week %}<table><tr><th>version trained this week</th>
<th>status</th><th>why</th></tr>{% for v in m.versions_trained_this_week %}<tr>
<td>{{ v.version }}</td><td>{{ v.status }}</td><td>{{ v.reason }}</td></tr>{% endfor %}
</table>{% endif %}
<h2>Reps' feedback on fit</h2><p>{{ r.fit_feedback }}</p>
<h2>Alerts</h2>
{% if r.alerts %}<table><tr><th>raised</th><th>kind</th><th>severity</th><th>status</th>
<th>message</th></tr>{% for a in r.alerts %}<tr><td>{{ a.created_at[:16]|replace('T',' ') }}
</td><td>{{ a.kind }}</td><td>{{ a.severity }}</td><td>{{ a.status }}</td>
<td>{{ a.message }}</td></tr>{% endfor %}</table>{% else %}<p>No alerts this week.</p>
{% endif %}
<h2>Most misrouted leads</h2>
<p>{{ r.misrouted.closed_scored }} leads whose outcome arrived this week had a model score.</p>
{% for title, rows in [('High predicted, lost', r.misrouted.high_predicted_lost),
                       ('Low predicted, won', r.misrouted.low_predicted_won)] %}
<h3>{{ title }}</h3>{% if rows %}<table><tr><th>lead</th><th>rep</th><th>industry</th>
<th>P(convert) at routing</th></tr>{% for x in rows %}<tr><td>{{ x.lead_id }}</td>
<td>{{ x.rep_id }}</td><td>{{ x.industry or '' }}</td><td class="n">{{ x.p_convert|pct }}</td>
</tr>{% endfor %}</table>{% else %}<p>None.</p>{% endif %}{% endfor %}
{% if r.narrative %}<h2 id="narrative">Narrative</h2>
<div class="generated"><div class="tag">Generated by a language model ({{ r.narrative.model }})
from the computed figures above (no lead data was sent); not checked by leadpilot</div>
{% for para in r.narrative.text.split("\n\n") %}<p>{{ para }}</p>{% endfor %}</div>
{% endif %}</body></html>"""
)


def render_weekly_html(document: dict[str, Any]) -> str:
    """The page for ``weekly_report(...)``."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["pct"] = _pct
    kpis = [kpi_cells(k) for k in document["kpis"]]
    return env.from_string(_PAGE).render(r=document, kpis=kpis, targets_note=targets_note(document))


def render_weekly_markdown(document: dict[str, Any]) -> str:
    """The weekly review as Markdown."""
    lines = [f"# Weekly review, {document['since'][:10]} to {document['until'][:10]}", ""]
    lines += ["## Recommended changes", ""]
    for i, c in enumerate(document["recommendations"], start=1):
        lines.append(f"{i}. **{c['change']}** ({c['area']}). Why: {c['evidence']}.")
    lines += [f"> {n}" for n in document["notes"]]
    lines += ["", "## KPIs against targets and last week", ""]
    lines.append("| KPI | this week (95% CI) | last week [change] | target | status |")
    lines.append("|---|---|---|---|---|")
    for k in document["kpis"]:
        lines.append("| " + " | ".join(kpi_cells(k)) + " |")
    lines += ["", targets_note(document)]
    m = document["model"]
    lines += ["", "## Model health", ""]
    if m["champion"]:
        held = m.get("held_out") or {}
        auc = held.get("auc")
        lines.append(
            f"Champion **{m['champion']}**; held-out AUC {'n/a' if auc is None else f'{auc:.3f}'}."
        )
    else:
        lines.append("No model is the champion: routing follows the policy's rules.")
    c = m["calibration_this_week"]
    obs = c["observed"]
    lines.append(
        f"This week: {c['scored_leads']} scored leads, predicted {_pct(c['mean_predicted'])} "
        f"meetings, observed {_pct(obs['rate'])} ({_pct(obs['low'])}-{_pct(obs['high'])})."
    )
    for v in m["versions_trained_this_week"]:
        lines.append(f"- trained {v['version']}: {v['status']} ({v['reason']})")
    lines += ["", "## Reps' feedback on fit", "", document["fit_feedback"]]
    lines += ["", "## Alerts", ""]
    alerts = [
        f"- {a['created_at'][:16]} {a['kind']} ({a['severity']}, {a['status']}): {a['message']}"
        for a in document["alerts"]
    ]
    lines += alerts or ["No alerts this week."]
    mis = document["misrouted"]
    lines += ["", "## Most misrouted leads", ""]
    for title, key in (("High predicted, lost", "high_predicted_lost"),
                       ("Low predicted, won", "low_predicted_won")):  # fmt: skip
        items = [f"{x['lead_id']} ({x['rep_id']}, {_pct(x['p_convert'])})" for x in mis[key]]
        lines.append(f"**{title}:** " + (", ".join(items) or "none"))
    narrative = document.get("narrative")
    if narrative:
        text = narrative["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [
            "",
            f"## Narrative (generated by {narrative['model']}; not checked by leadpilot)",
            "",
            "> Written by a language model from the computed figures above; no lead data was sent.",
            "",
            text,
        ]
    return "\n".join(lines) + "\n"
