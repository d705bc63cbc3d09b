"""The shadow-mode report: how often the policy's recommendation matched the rep who got
the lead, how those leads converted, and what following the recommendations is estimated
to gain (doubly robust, with the logged propensities), so a team can decide to go live.

Each lead counts once, by its first decision. The outcome model is the one the router
logged: ``p_convert`` of the assigned rep and, among the decision's ``candidates``, that
of the recommended rep. The estimate of following the recommendation for lead i is
``q(rec) + 1[rec = actual] / propensity * (y - q(actual))`` (``evaluate.ope``'s DR with a
one-hot candidate), and the lift is its mean minus the logged conversion rate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats

from leadpilot.evaluate.contrast import POWER, arm_variance
from leadpilot.evaluate.lift import Outcome
from leadpilot.evaluate.ope import (
    DoublyRobust,
    ReplayData,
    lift_interval,
    one_hot,
    overlap_diagnostics,
)
from leadpilot.ingest.quality import wilson_interval
from leadpilot.policy.policy_file import Policy, default_segments
from leadpilot.policy.scoring import segment_of

__all__ = ["MIN_LEADS", "ShadowReport", "shadow_report"]

MIN_LEADS = 30  # below this many scored shadow leads the report gives no verdict
WORST_CASES = 10


@dataclass(frozen=True, slots=True)
class _Row:
    outcome: Outcome
    agree: bool
    q_actual: float | None
    q_rec: float | None

    @property
    def scored(self) -> bool:
        return self.q_actual is not None and self.q_rec is not None

    @property
    def dr(self) -> float:
        """The DR estimate of following the recommendation for this lead."""
        assert self.q_actual is not None
        assert self.q_rec is not None
        d = self.outcome.decision
        weight = 1.0 / (d.propensity or 1.0) if self.agree else 0.0
        return self.q_rec + weight * (float(self.outcome.won) - self.q_actual)


def _rate(k: int, n: int) -> dict[str, Any]:
    ci = wilson_interval(k, n)
    if ci is None:
        return {"won": 0, "leads": 0, "rate": None, "ci_low": None, "ci_high": None}
    return {"won": k, "leads": n, "rate": k / n, "ci_low": ci.low, "ci_high": ci.high}


def _mean_ci(values: Sequence[float]) -> dict[str, Any]:
    """The mean of per-lead values with a t 95% interval (None below two values)."""
    mean, var = arm_variance(values, [1.0] * len(values))
    if not len(values):
        return {"mean": None, "ci_low": None, "ci_high": None, "se": None}
    if not math.isfinite(var):
        return {"mean": mean, "ci_low": None, "ci_high": None, "se": None}
    se = math.sqrt(var)
    half = float(stats.t(df=len(values) - 1).ppf(0.975)) * se
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "se": se}


@dataclass(frozen=True)
class ShadowReport:
    """Everything ``leadpilot report shadow`` shows (``as_dict`` is its JSON)."""

    since: datetime | None
    leads: int
    agreement: dict[str, Any]
    converted_agreed: dict[str, Any]
    converted_disagreed: dict[str, Any]
    scored_leads: int
    following: dict[str, Any]
    overlap: dict[str, Any] | None
    by_segment: list[dict[str, Any]]
    by_rep: list[dict[str, Any]]
    confident_and_wrong: list[dict[str, Any]]
    decision: str
    verdict: str
    leads_needed: int | None
    caveats: list[str] = field(default_factory=list)
    # Reps' fit ratings of the shadow leads: poor-fit share where the assigned rep was the
    # policy's recommendation against where it was not (empty without feedback).
    fit_feedback: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["since"] = self.since.isoformat() if self.since else None
        return {"report": "shadow", **out}


def _q(outcome: Outcome, rep_id: str | None) -> float | None:
    d = outcome.decision
    if rep_id is None:
        return None
    if rep_id == d.rep_id and d.p_convert is not None:
        return float(d.p_convert)
    for c in d.candidates:
        if c.rep_id == rep_id and c.p_convert is not None:
            return float(c.p_convert)
    return None


def _group(rows: Sequence[_Row], key: Callable[[_Row], str | None]) -> list[dict[str, Any]]:
    groups: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        groups[key(r) or "(unknown)"].append(r)
    out = []
    for name in sorted(groups):
        g = groups[name]
        agreed = [r for r in g if r.agree]
        scored = [r.dr - float(r.outcome.won) for r in g if r.scored]
        out.append(
            {
                "group": name,
                "leads": len(g),
                "agreement": len(agreed) / len(g),
                "converted_agreed": _rate(sum(r.outcome.won for r in agreed), len(agreed)),
                "converted_disagreed": _rate(
                    sum(r.outcome.won for r in g if not r.agree), len(g) - len(agreed)
                ),
                "dr_lift": _mean_ci(scored),
            }
        )
    return out


def _confident_and_wrong(rows: Sequence[_Row]) -> list[dict[str, Any]]:
    """Closed leads where the model's chance for the rep who worked the lead was furthest
    from what happened, weighted by how confident the model said it was."""
    cases: list[tuple[float, dict[str, Any]]] = []
    for r in rows:
        d = r.outcome.decision
        if not r.outcome.closed or r.q_actual is None:
            continue
        error = abs(float(r.outcome.won) - r.q_actual)
        if error <= 0.5:
            continue
        confidence = d.confidence if d.confidence is not None else 1.0
        case = {
            "lead_id": d.lead_id,
            "decided_at": d.decided_at.isoformat(),
            "rep_id": d.rep_id,
            "recommended": d.shadow_rep_id,
            "confidence": confidence,
            "p_actual": r.q_actual,
            "p_recommended": r.q_rec,
            "won": r.outcome.won,
            "error": error,
        }
        cases.append((-confidence * error, case))
    cases.sort(key=lambda c: (c[0], c[1]["lead_id"]))
    return [case for _, case in cases[:WORST_CASES]]


def _following(scored: Sequence[_Row], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """DR value of following the recommendations (``evaluate.ope``), its lift over the
    logged outcomes, and the overlap diagnostic."""
    reps = sorted(
        {r.outcome.decision.rep_id or "" for r in scored}
        | {r.outcome.decision.shadow_rep_id or "" for r in scored}
    )
    col = {rep: i for i, rep in enumerate(reps)}
    n = len(scored)
    action = np.array([col[r.outcome.decision.rep_id or ""] for r in scored], dtype=np.int64)
    rec = np.array([col[r.outcome.decision.shadow_rep_id or ""] for r in scored], dtype=np.int64)
    reward_model = np.zeros((n, len(reps)))
    reward_model[np.arange(n), action] = [r.q_actual for r in scored]
    reward_model[np.arange(n), rec] = [r.q_rec for r in scored]
    pscore = np.array([r.outcome.decision.propensity or 1.0 for r in scored])
    data = ReplayData(
        action=action,
        reward=np.array([float(r.outcome.won) for r in scored]),
        pscore=pscore,
        action_dist=one_hot(rec, len(reps)),
        reward_model=reward_model,
    )
    # Where the logged choice was certain (propensity 1), the log never made any other
    # choice: a recommendation that differs has no support; otherwise it is unknown.
    logging = np.where(pscore[:, None] >= 1.0, one_hot(action, len(reps)), 1.0)
    overlap = overlap_diagnostics(data, logging)
    dr = DoublyRobust()
    value = dr.estimate_interval(data, random_state=seed)
    relative = lift_interval(dr, data, random_state=seed)
    absolute = _mean_ci([r.dr - float(r.outcome.won) for r in scored])
    logged = float(data.reward.mean())
    return {
        "logged_rate": logged,
        "dr_rate": value.as_dict(),
        "lift": absolute,
        "relative_lift": relative.as_dict(),
    }, overlap.as_dict()


def _go(following: dict[str, Any], n: int) -> tuple[str, str, int | None]:
    """go / no-go / wait, in words, and the scored leads needed in all when waiting."""
    lift = following["lift"]
    low, high, se, mean = lift["ci_low"], lift["ci_high"], lift["se"], lift["mean"]
    if low is not None and low > 0:
        return "go", "following the recommendations is estimated to convert more", None
    if high is not None and high < 0:
        return "no-go", "following the recommendations is estimated to convert less", None
    if se is None or not mean:
        return "wait", "no difference between the recommendations and current routing", None
    z = float(stats.norm.ppf(0.975) + stats.norm.ppf(POWER))
    needed = math.ceil(n * (z * se / abs(mean)) ** 2)
    return (
        "wait",
        f"cannot tell yet: the lift's interval spans 0; about {needed:,} scored shadow "
        f"leads in all (now {n:,}) would detect a lift this size",
        needed,
    )


def shadow_report(
    outcomes: Sequence[Outcome],
    policies: Mapping[str, Policy] | None = None,
    *,
    since: datetime | None = None,
    seed: int = 0,
    poor_fit: Mapping[str, bool] | None = None,
) -> ShadowReport:
    """The shadow report of the leads whose first decision was made in shadow mode.
    ``poor_fit``: reps' fit ratings by lead id (True: poor fit), from the service's
    ``fit_feedback`` events; rated leads are compared by agreement."""
    policies = policies or {}
    rows = [
        _Row(
            o,
            o.decision.rep_id == o.decision.shadow_rep_id,
            _q(o, o.decision.rep_id),
            _q(o, o.decision.shadow_rep_id),
        )
        for o in outcomes
        if o.decision.shadow_rep_id is not None and o.decision.rep_id is not None
    ]
    n = len(rows)
    agreed = [r for r in rows if r.agree]
    disagreed = [r for r in rows if not r.agree]
    scored = [r for r in rows if r.scored]
    caveats: list[str] = []
    following: dict[str, Any] = {}
    overlap = None
    leads_needed = None
    if len(scored) >= 2:
        following, overlap = _following(scored, seed)
    if n == 0:
        decision, verdict = "wait", "no shadow-mode decisions in this window"
    elif len(scored) < MIN_LEADS:
        decision = "wait"
        verdict = (
            f"cannot tell yet: {len(scored)} scored shadow leads, at least {MIN_LEADS} needed "
            "before any verdict"
        )
    else:
        decision, verdict, leads_needed = _go(following, len(scored))
    if len(outcomes) - n:
        caveats.append(
            f"{len(outcomes) - n} shadow-mode lead(s) got no recommendation (nobody eligible, "
            "a hold, the fallback owner) and are left out."
        )
    if n - len(scored):
        caveats.append(
            f"{n - len(scored)} lead(s) have no logged model score for the recommended or "
            "assigned rep and are left out of the estimate."
        )
    if overlap is not None and not overlap["reliable"]:
        caveats.append(
            "Shadow mode assigns by the fallback strategy, which never makes the "
            "recommended choice where they differ: for those leads the estimate is the "
            "model's own prediction (the direct method), and only the agreed leads correct "
            "it. Confirm with a holdout after going live (leadpilot report lift)."
        )
    still_open = sum(not r.outcome.closed for r in rows)
    if still_open:
        caveats.append(f"{still_open} of {n} leads are not closed yet and count as not converted.")

    def segment(r: _Row) -> str | None:
        policy = policies.get(r.outcome.decision.policy_version or "")
        segments = policy.segments if policy is not None else default_segments()
        return segment_of(r.outcome.lead, segments)

    return ShadowReport(
        since=since,
        leads=n,
        agreement=_rate(len(agreed), n) | {"agreed": len(agreed)},
        converted_agreed=_rate(sum(r.outcome.won for r in agreed), len(agreed)),
        converted_disagreed=_rate(sum(r.outcome.won for r in disagreed), len(disagreed)),
        scored_leads=len(scored),
        following=following,
        overlap=overlap,
        by_segment=_group(rows, segment),
        by_rep=_group(rows, lambda r: r.outcome.decision.rep_id),
        confident_and_wrong=_confident_and_wrong(rows),
        decision=decision,
        verdict=verdict,
        leads_needed=leads_needed,
        caveats=caveats,
        fit_feedback=_fit_feedback(rows, poor_fit or {}),
    )


def _fit_feedback(rows: Sequence[_Row], poor_fit: Mapping[str, bool]) -> dict[str, Any]:
    """Poor-fit share among rated leads, where the assigned rep was the recommendation
    (agreed) and where not: does the model pick leads the reps find a better fit?"""
    rated = [(r, poor_fit[r.outcome.decision.lead_id]) for r in rows
             if r.outcome.decision.lead_id in poor_fit]  # fmt: skip
    if not rated:
        return {}
    agreed = [poor for r, poor in rated if r.agree]
    other = [poor for r, poor in rated if not r.agree]

    def poor(flags: list[bool]) -> dict[str, Any]:
        out = _rate(sum(flags), len(flags))
        out["poor"] = out.pop("won")
        return out

    return {"rated": len(rated), "poor_agreed": poor(agreed), "poor_disagreed": poor(other)}
