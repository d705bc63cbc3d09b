"""The weekly review: KPIs against their targets and against last week, model health,
alerts, the most misrouted leads, and the changes worth making, each backed by a number.

``weekly_report(conn, until=...)`` returns one JSON-ready document; ``weekly_pages`` renders
it as HTML and Markdown. Rates carry Wilson 95% intervals; a change from last week is
called out only when the two weeks' intervals do not overlap (otherwise "no clear change").
Recommendations come from ``RECOMMENDERS`` (one function per kind of change); a week where
fewer than three changes are warranted says so instead of padding the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from scipy.stats import binomtest

from leadpilot.policy import Policy, default_policy
from leadpilot.service.fit_feedback import feedback_report
from leadpilot.service.kpis import KPIReport, RateKPI, compute_kpis, rate_kpi
from leadpilot.store.alert_reads import predicted_and_observed
from leadpilot.store.feedback import feedback_rows
from leadpilot.store.models import active_model_row, events_of, list_versions
from leadpilot.store.policies import active_policy_row
from leadpilot.store.reps import list_reps
from leadpilot.store.weekly_reads import alerts_in, closed_with_scores

__all__ = ["RECOMMENDERS", "Recommendation", "Target", "review_targets", "weekly_report"]

_MISROUTED = 5


@dataclass(frozen=True)
class Target:
    """A KPI's target and the policy key it comes from (``set``: written in the active
    policy, not left at its default)."""

    value: float
    key: str
    set: bool


def review_targets(policy: Policy) -> dict[str, Target]:
    """The review's targets by KPI, from the policy's ``targets:`` and ``alerts:`` sections
    (their defaults where the policy is silent)."""
    targets = policy.review_targets
    chosen = policy.targets.model_fields_set if policy.targets is not None else set()
    alerts = policy.alert_settings

    def alert_target(kind: str) -> Target:
        section = getattr(policy.alerts, kind, None) if policy.alerts is not None else None
        written = section is not None and "target" in section.model_fields_set
        return Target(getattr(alerts, kind).target, f"alerts.{kind}.target", written)

    return {
        "SLA attainment": Target(
            targets.sla_attainment, "targets.sla_attainment", "sla_attainment" in chosen
        ),
        "reassignment rate": alert_target("reassignment_rate"),
        "duplicate rate": alert_target("duplicate_rate"),
        "speed to first touch (median minutes)": Target(
            targets.speed_to_first_touch_minutes,
            "targets.speed_to_first_touch_minutes",
            "speed_to_first_touch_minutes" in chosen,
        ),
        "reps outside the fairness band": Target(
            targets.reps_outside_fairness_band,
            "targets.reps_outside_fairness_band",
            "reps_outside_fairness_band" in chosen,
        ),
    }


@dataclass(frozen=True)
class Recommendation:
    """One change worth making: what, why, and the number behind it."""

    area: str  # pools, weights, timeouts, capacity, model
    change: str
    evidence: str
    severity: float  # how far past its target (ranks the list)


def _rate_json(r: RateKPI) -> dict[str, Any]:
    return {"rate": r.rate, "low": r.low, "high": r.high, "n": r.denominator, "k": r.numerator}


def _clear_change(now: dict[str, Any], before: dict[str, Any]) -> str:
    if now["rate"] is None or before["rate"] is None:
        return "not enough data"
    if now["low"] > before["high"]:
        return "up"
    if now["high"] < before["low"]:
        return "down"
    return "no clear change"


def _target_fields(target: Target | None) -> dict[str, Any]:
    if target is None:
        return {"target": None, "target_key": None, "target_set": None}
    return {"target": target.value, "target_key": target.key, "target_set": target.set}


def _kpi_rows(
    week: KPIReport, last: KPIReport, policy: Policy, targets: dict[str, Target]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rates = (
        ("SLA attainment", week.sla_attainment, last.sla_attainment, ">="),
        ("reassignment rate", week.reassignment_rate, last.reassignment_rate, "<="),
        ("duplicate rate", week.duplicate_rate, last.duplicate_rate, "<="),
        ("conversion to meeting (hot lane)", week.conversion_to_meeting,
         last.conversion_to_meeting, None),
        ("conversion to opportunity", week.conversion_to_opportunity,
         last.conversion_to_opportunity, None),
    )  # fmt: skip
    for name, now_r, before_r, sense in rates:
        now, before = _rate_json(now_r), _rate_json(before_r)
        target = targets.get(name)
        met = None
        if target is not None and now["rate"] is not None:
            met = now["rate"] >= target.value if sense == ">=" else now["rate"] <= target.value
        rows.append({"kpi": name, "kind": "rate", "this_week": now, "last_week": before,
                     **_target_fields(target), "sense": sense, "target_met": met,
                     "change": _clear_change(now, before)})  # fmt: skip
    speed_now = week.speed_to_first_touch.median_minutes
    speed_before = last.speed_to_first_touch.median_minutes
    speed = targets["speed to first touch (median minutes)"]
    rows.append({
        "kpi": "speed to first touch (median minutes)", "kind": "minutes",
        "this_week": {"value": speed_now, "n": week.speed_to_first_touch.touched},
        "last_week": {"value": speed_before, "n": last.speed_to_first_touch.touched},
        **_target_fields(speed), "sense": "<=",
        "target_met": None if speed_now is None else speed_now <= speed.value,
        "change": "not enough data" if speed_now is None or speed_before is None
        else f"{speed_now - speed_before:+.0f} min",
    })  # fmt: skip
    low, high = policy.fairness.band if hasattr(policy.fairness, "band") else (0.9, 1.1)

    def outside_band(fairness: Any) -> dict[str, Any]:
        measured = [f for f in fairness if f.fairness_index is not None]
        # No rep with a fairness index (no leads routed): nothing to count, not "0 outside".
        value = sum(1 for f in measured if not low <= f.fairness_index <= high)
        return {"value": value if measured else None, "n": len(measured)}

    this_week, last_week = outside_band(week.fairness), outside_band(last.fairness)
    band = targets["reps outside the fairness band"]
    rows.append({
        "kpi": "reps outside the fairness band", "kind": "count",
        "this_week": this_week, "last_week": last_week,
        **_target_fields(band), "sense": "<=",
        "target_met": None if this_week["value"] is None else this_week["value"] <= band.value,
        "change": "",
    })  # fmt: skip
    rows.append({
        "kpi": "leads routed", "kind": "count",
        "this_week": {"value": week.speed_to_first_touch.routed, "n": None},
        "last_week": {"value": last.speed_to_first_touch.routed, "n": None},
        **_target_fields(None), "sense": None, "target_met": None, "change": "",
    })  # fmt: skip
    return rows


def _within(value: float | None, r: RateKPI) -> bool | None:
    if value is None or r.low is None or r.high is None:
        return None
    return r.low <= value <= r.high


def _model_health(conn: sa.Connection, since: datetime, until: datetime) -> dict[str, Any]:
    row = active_model_row(conn)
    pairs = predicted_and_observed(conn, since=since, until=until, outcome="meeting")
    observed = rate_kpi(sum(1 for _, y in pairs if y), len(pairs))
    predicted = sum(p for p, _ in pairs) / len(pairs) if pairs else None
    retrains = [v for v in list_versions(conn) if v.created_at >= since]
    doc: dict[str, Any] = {
        "champion": row.version if row is not None else None,
        "promoted_at": row.promoted_at.isoformat() if row is not None and row.promoted_at else None,
        "held_out": None,
        "calibration_this_week": {
            "scored_leads": len(pairs),
            "mean_predicted": predicted,
            "observed": _rate_json(observed),
            "within_interval": _within(predicted, observed),
        },
        "versions_trained_this_week": [
            {"version": v.version, "status": v.status, "reason": v.reason} for v in retrains
        ],
    }
    if row is not None:
        m = row.metrics or {}
        held = m.get("challenger") or m.get("model") or {}
        doc["held_out"] = {k: held.get(k) for k in ("auc", "log_loss", "ece", "n")}
        doc["trail"] = [
            {"action": e.action, "reason": e.reason, "at": e.at.isoformat()}
            for e in events_of(conn, row.version)
        ][-3:]
    return doc


def _misrouted(conn: sa.Connection, since: datetime, until: datetime) -> dict[str, Any]:
    rows = closed_with_scores(conn, since=since, until=until)

    def item(r: Any) -> dict[str, Any]:
        fields = r.fields or {}
        return {
            "lead_id": r.lead_id,
            "rep_id": r.rep_id,
            "p_convert": float(r.p_convert),
            "won": bool(r.won),
            "industry": fields.get("industry"),
            "company_size": fields.get("company_size"),
            "model_version": r.model_version,
        }

    lost = sorted((r for r in rows if not r.won), key=lambda r: -float(r.p_convert))
    won = sorted((r for r in rows if r.won), key=lambda r: float(r.p_convert))
    return {
        "closed_scored": len(rows),
        "high_predicted_lost": [item(r) for r in lost[:_MISROUTED]],
        "low_predicted_won": [item(r) for r in won[:_MISROUTED]],
    }


# ----------------------------------------------------------------- recommendations
Recommender = Callable[[dict[str, Any], KPIReport, Policy], Recommendation | None]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _kpi(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["kpis"] if r["kpi"] == name)


def _sla(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    k = _kpi(doc, "SLA attainment")
    row, target = k["this_week"], k["target"]
    if row["rate"] is None or row["high"] >= target:
        return None
    lanes = ", ".join(f"{lane.name} {lane.sla_minutes} min" for lane in policy.lanes
                      if lane.sla_minutes)  # fmt: skip
    return Recommendation(
        "timeouts",
        f"Add on-shift capacity to the lanes with SLAs, or lengthen their SLA ({lanes}) to "
        "what the team can keep",
        f"SLA attainment {row['rate']:.0%} (95% CI {row['low']:.0%}-{row['high']:.0%}) over "
        f"{row['n']} leads, below the {target:.0%} target",
        target - row["rate"],
    )


def _reassign(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    k = _kpi(doc, "reassignment rate")
    row = k["this_week"]
    if row["rate"] is None or row["low"] <= k["target"]:
        return None
    return Recommendation(
        "timeouts",
        "Lengthen the acceptance windows (accept_within_minutes) or drop acceptance for "
        "pools whose reps cannot answer in time",
        f"reassignment rate {row['rate']:.1%} (95% CI {row['low']:.1%}-{row['high']:.1%}), "
        f"above the {k['target']:.0%} target",
        row["rate"] - k["target"],
    )


def _fairness(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    rows = [f for f in week.fairness if f.fairness_index is not None and f.leads >= 0]
    if not rows:
        return None
    low, high = policy.fairness.band if hasattr(policy.fairness, "band") else (0.9, 1.1)
    significant = []
    for f in rows:
        index = f.fairness_index or 1.0
        pool = [g for g in rows if g.pool == f.pool]
        total = sum(g.leads for g in pool)
        # Outside the band and unlikely under an equal share (two-sided binomial test), as
        # the fairness alert judges it: 14 leads against a 17-lead average is noise.
        if not low <= index <= high and total and len(pool) > 1:
            p = binomtest(f.leads, total, 1 / len(pool)).pvalue
            if p < 0.05:
                significant.append((abs(index - 1.0), p, f))
    if not significant:
        return None
    _, p_value, worst = max(significant, key=lambda t: t[0])
    index = worst.fairness_index or 1.0
    more = index > high
    return Recommendation(
        "weights",
        f"{'Lower' if more else 'Raise'} {worst.rep_id}'s share in pool {worst.pool} "
        f"(a rep weight or its max_leads_per_day){' to spread the load' if more else ''}",
        f"{worst.rep_id} got {worst.leads} leads, {index:.2f}x the pool average (band "
        f"{low:.2f}-{high:.2f}; binomial test against an equal share p {_p(p_value)})",
        abs(index - 1.0),
    )


def _queue(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    if week.queue_length <= 0:
        return None
    routed = max(1, week.speed_to_first_touch.routed)
    return Recommendation(
        "capacity",
        "Raise daily caps (max_leads_per_day) or add reps to the pools whose leads queue",
        f"{week.queue_length} leads are waiting in the queue now ({week.queue_length / routed:.1%}"
        f" of the week's {routed} routed leads)",
        week.queue_length / routed,
    )


def _calibration(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    cal = doc["model"]["calibration_this_week"]
    obs = cal["observed"]
    if cal["within_interval"] is not False:
        return None
    return Recommendation(
        "model",
        "Retrain the model now (`leadpilot retrain`) and review the champion / challenger "
        "table before the next scheduled run",
        f"the model predicted {cal['mean_predicted']:.1%} meetings on {cal['scored_leads']} "
        f"leads, {obs['rate']:.1%} happened (95% CI {obs['low']:.1%}-{obs['high']:.1%})",
        abs(cal["mean_predicted"] - obs["rate"]) * 2,
    )


def _speed(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    minutes = week.speed_to_first_touch.median_minutes
    target = _kpi(doc, "speed to first touch (median minutes)")["target"]
    if minutes is None or minutes <= target:
        return None
    return Recommendation(
        "pools",
        "Route hot leads to reps on shift only (require_available_now in the hot lane) and "
        "shorten the hot lane's SLA so breaches reassign sooner",
        f"median speed to first touch {minutes:.0f} min over "
        f"{week.speed_to_first_touch.touched} touched leads (target {target:g})",
        minutes / target - 1,
    )


def _conversion(doc: dict[str, Any], week: KPIReport, policy: Policy) -> Recommendation | None:
    k = _kpi(doc, "conversion to opportunity")
    if k["change"] != "down":
        return None
    now, before = k["this_week"], k["last_week"]
    return Recommendation(
        "model",
        "Check the leads routed this week against last week's (lead mix, pools, the model "
        "version) before changing anything else; roll back the model if it changed",
        f"conversion to opportunity fell from {before['rate']:.1%} to {now['rate']:.1%} "
        f"(95% CIs {before['low']:.1%}-{before['high']:.1%} and {now['low']:.1%}-"
        f"{now['high']:.1%} do not overlap)",
        before["rate"] - now["rate"],
    )


RECOMMENDERS: tuple[Recommender, ...] = (
    _sla, _reassign, _fairness, _queue, _calibration, _speed, _conversion,
)  # fmt: skip


def _policy(conn: sa.Connection, reps: list[Any]) -> tuple[Policy, str | None]:
    """The active policy and its stored version (``None``: none uploaded, the default)."""
    from leadpilot.service.inputs import policy_from_text

    row = active_policy_row(conn)
    if row is None:
        return default_policy(reps), None
    return policy_from_text(row.text), str(row.version)


def weekly_report(conn: sa.Connection, *, until: datetime) -> dict[str, Any]:
    """The review of the week ending at ``until`` (and the week before, to compare)."""
    since = until - timedelta(days=7)
    before = since - timedelta(days=7)
    reps = list_reps(conn)
    policy, policy_version = _policy(conn, reps)
    members: dict[str, list[str]] = {}
    for rep in reps:
        if rep.active:
            members.setdefault(rep.pool or "", []).append(rep.rep_id)
    week = compute_kpis(conn, since=since, until=until, members=members)
    last = compute_kpis(conn, since=before, until=since, members=members)
    doc: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        # Where the targets come from: the active policy's version (None: no policy was
        # uploaded, so every target is its default).
        "policy_version": policy_version,
        "kpis": _kpi_rows(week, last, policy, review_targets(policy)),
        "model": _model_health(conn, since, until),
        "alerts": [
            {
                "kind": a.kind,
                "message": a.message,
                "severity": a.severity,
                "status": a.status,
                "created_at": a.created_at.isoformat(),
            }
            for a in alerts_in(conn, since=since, until=until)
        ],
        "misrouted": _misrouted(conn, since, until),
        "fit_feedback": feedback_report(
            feedback_rows(conn, since=since, until=until),
            policy.segments,
            since=since,
            until=until,
        ).statement,
    }
    for row in doc["kpis"]:
        if row["target_key"] is not None:
            written = row["target_set"] and policy_version is not None
            row["target_from"] = f"policy v{policy_version}" if written else "default"
    found = [r for rec in RECOMMENDERS if (r := rec(doc, week, policy)) is not None]
    found.sort(key=lambda r: -r.severity)
    doc["recommendations"] = [asdict(r) for r in found[:5]]
    doc["notes"] = []
    if len(found) < 3:
        count = (
            "No change is"
            if not found
            else f"Only {len(found)} change{'s are' if len(found) != 1 else ' is'}"
        )
        doc["notes"].append(
            f"{count} warranted this week: every other KPI is within its target or the data "
            "cannot tell yet."
        )
    return doc
