"""The self-contained HTML page of ``leadpilot simulate --out`` (no scripts, no external files)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

__all__ = ["render_simulation_html"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>leadpilot simulate: {{ names|join(' vs ') }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:84rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f3f3f3;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.5rem 1rem;margin:.5rem 0}
.poor{color:#999}.verdict-poor{color:#b00020;font-weight:bold}.verdict-weak{color:#a06000}
.verdict-good{color:#1b7f3b}
</style></head><body>
<h1>Policy simulation on history</h1>
<p>{{ r.settled_leads }} leads with settled outcomes replayed ({{ r.routed_leads }} routed) from
{{ r.from }} to {{ r.to }} in {{ r.blocks }} block(s); logged conversion rate
{{ '%.1f%%'|format(100 * r.logged_rate) }}; logging propensities {{ r.propensity_source }}
{%- if r.propensity_clip %} (clipped at {{ r.propensity_clip }}){% endif %}.</p>
{% for w in warnings %}<div class="warn">{{ w }}</div>{% endfor %}
<h2>Estimated conversion rate (expected conversions per lead, 95% bootstrap interval)</h2>
<table><tr><th>policy</th>{% for e in estimators %}
<th>{{ e|upper|replace('_', '-') }}</th>{% endfor %}
<th>DR lift vs logged</th><th>DR lift vs round-robin</th><th>overlap</th></tr>
{% for p in policies %}<tr><td>{{ p.name }}</td>
{% for e in estimators %}{% set v = p.estimates[e] %}
{% if e != 'dm' and not p.overlap.reliable %}<td class="poor">cannot tell</td>
{% else %}<td class="n">{{ '%.1f%%'|format(100 * v.rate) }}
({{ '%.1f'|format(100 * v.ci_low) }}-{{ '%.1f'|format(100 * v.ci_high) }})</td>{% endif %}
{% endfor %}
{% for lift in [p.lift_vs_logged.get('dr'), p.lift_vs_round_robin.get('dr')] %}
{% if lift is none %}<td></td>{% elif not p.overlap.reliable %}<td class="poor">cannot tell</td>
{% else %}<td class="n">{{ '%+.1f%%'|format(100 * lift.rate) }}
({{ '%+.1f'|format(100 * lift.ci_low) }} to {{ '%+.1f'|format(100 * lift.ci_high) }})</td>
{% endif %}{% endfor %}
<td class="verdict-{{ p.overlap.verdict }}">{{ p.overlap.verdict }} (ESS
{{ '%.0f'|format(p.overlap.ess) }})</td></tr>{% endfor %}
</table>
{% for p in policies %}{% if p.overlap.reasons %}
<p><b>{{ p.name }}</b>: {{ p.overlap.reasons|join('; ') }}.</p>{% endif %}
{% set dr = (p.precision or {}).get('dr') %}
{% if dr and p.overlap.reliable and not dr.resolves_10pct %}
<p class="warn"><b>{{ p.name }}</b>: DR's 95% interval is &plusmn;{{
'%.0f'|format(100 * dr.relative_half_width) }}% of its estimate, so these leads cannot pin it
to &plusmn;10%{% if dr.leads_for_10pct %} (about {{ '{:,}'.format(dr.leads_for_10pct) }}
replayed leads like these would){% endif %}; SWITCH-DR leans on the model where the history
is thin.</p>{% endif %}{% endfor %}
<h2>How each policy uses the team</h2>
<table><tr><th>policy</th><th>unassigned</th><th>fairness index range</th>
<th>peak leads per rep-day</th><th>SLA met (est.)</th><th>by lane</th><th>by strategy</th>
<th>moved vs first</th></tr>
{% for p in policies %}<tr><td>{{ p.name }}</td><td class="n">{{ p.unassigned }}</td>
<td class="n">{{ '%.2f'|format(p.fairness_index_range[0]) }}-{{
'%.2f'|format(p.fairness_index_range[1]) }}</td>
<td class="n">{{ p.peak_daily_load.values()|max if p.peak_daily_load else 0 }}</td>
<td class="n">{% if p.sla_attainment %}{{ '%.0f%%'|format(100 * p.sla_attainment.attainment)
}}{% endif %}</td>
<td>{% for k, v in p.share_by_lane.items() %}{{ k }} {{ '%.0f%%'|format(100 * v) }}
{% endfor %}</td>
<td>{% for k, v in p.share_by_strategy.items() %}{{ k }} {{ '%.0f%%'|format(100 * v) }}
{% endfor %}</td>
<td>{% if p.moved_vs_first %}{{ p.moved_vs_first.leads }} leads{% for m in
p.moved_vs_first.top %}; {{ m['from'] }}&rarr;{{ m.to }} {{ m.leads }}{% endfor %}{% endif %}
</td></tr>{% endfor %}</table>
<h2>Leads per rep</h2>
<table><tr><th>rep</th>{% for p in policies %}<th>{{ p.name }}</th>{% endfor %}</tr>
{% for rep in reps %}<tr><td>{{ rep }}</td>{% for p in policies %}
<td class="n">{{ p.leads_per_rep.get(rep, 0) }}</td>{% endfor %}</tr>{% endfor %}</table>
{% if designs %}<h2>Holdout designs vs the true lift</h2>
<p>{{ '{:,}'.format(designs.leads) }} leads routed with the world's true probabilities, daily caps
x{{ '%.2f'|format(designs.cap_scale) }} the roster's, {{ designs.true_lift|length }} routing
seeds; lift in points of conversion (&plusmn; standard error over seeds).</p>
<table><tr><th>design</th><th>estimated lift</th><th>true lift</th><th>estimate / truth</th>
<th>interval covers truth</th></tr>
{% for name, d in designs.designs.items() %}<tr><td>{{ name }}</td>
<td class="n">{{ '%+.2f'|format(100 * d.estimate) }} &plusmn; {{ '%.2f'|format(100 * d.se) }}</td>
<td class="n">{{ '%+.2f'|format(100 * d.truth) }}</td>
<td class="n">{{ '%.1f'|format(d.ratio) }}x</td>
<td class="n">{{ d.covers }} of {{ d.seeds }}</td></tr>{% endfor %}</table>
<p>Treated and holdout leads share the same reps' daily caps and fairness band: with a per-lead
holdout the arms can interfere, so the measured lift can differ from the lift of routing every
lead predictively (the table shows by how much here). Switchback blocks of a day keep a day's
capacity within one arm.</p>{% endif %}
<p>DM is the outcome model alone; IPS and SNIPS weight the logged outcomes by how likely the
history was to make each policy's choice; DR combines both; SWITCH-DR is DR where the weights
are moderate and the model alone where they are largest (the cut chosen from the data), less
noisy than DR but carrying the model's bias there. When the history rarely made a
policy's choices (overlap "poor") the weighting estimates are noise and are not shown.
"SLA met" is estimated from each rep's past response times on days with a similar load.</p>
</body></html>
"""


def render_simulation_html(document: dict[str, Any]) -> str:
    """The page for ``SimulationResult.as_dict()``."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    policies = document["policies"]
    reps = sorted({rep for p in policies for rep in p["leads_per_rep"]})
    estimators = list(policies[0]["estimates"]) if policies else []
    return env.from_string(_TEMPLATE).render(
        r=document["replay"],
        warnings=document["warnings"],
        policies=policies,
        names=[p["name"] for p in policies],
        estimators=estimators,
        reps=reps,
        designs=document.get("holdout_designs"),
    )
