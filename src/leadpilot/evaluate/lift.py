"""The holdout lift report: predictive routing vs its randomized control group, from the
decision log, for whichever design produced the decisions (per-lead or switchback).

Each lead counts once, by its first decision (the one its arm was drawn for), whatever
happened later (intent to treat). Per-lead holdout: a decision made under a live policy
with ``holdout > 0`` by the pool's strategies is treated unless it carries ``HOLDOUT``.
Switchback: the decision's ``SWITCHBACK_ON:<block>`` / ``SWITCHBACK_OFF:<block>`` code
says its arm and block; ``WASHOUT`` leads are left out, and blocks are the units.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from leadpilot.errors import PolicyError
from leadpilot.evaluate.contrast import Contrast, contrast
from leadpilot.ingest.quality import wilson_interval
from leadpilot.policy.policy_file import Policy, parse_policy_text
from leadpilot.schema import Decision, Lead

__all__ = [
    "ArmSummary",
    "DesignLift",
    "LiftReport",
    "Outcome",
    "lift_report",
    "policies_by_version",
]

Design = Literal["per_lead", "switchback"]
# Decisions no arm was drawn for: holds, the fallback owner, manual moves, nobody.
_NOT_RANDOMIZED = frozenset({"hold", "fallback_owner", "none", "manual", "development"})


class Outcome(Protocol):
    """What the report reads of a lead (``store.measurement.MeasuredLead`` fits)."""

    @property
    def decision(self) -> Decision: ...
    @property
    def won(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    @property
    def meeting(self) -> bool: ...
    @property
    def pipeline(self) -> float | None: ...
    @property
    def lead(self) -> Lead: ...


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm's leads, wins and meetings (rates with Wilson 95% intervals), leads still
    open, and pipeline value (total and leads with a recorded amount)."""

    leads: int
    won: int
    won_rate: float
    won_ci: tuple[float, float]
    meetings: int
    meeting_rate: float
    meeting_ci: tuple[float, float]
    still_open: int
    pipeline_total: float
    pipeline_leads: int
    units: int


@dataclass(frozen=True, slots=True)
class DesignLift:
    """The lift measured by one design: both arms, the differences (conversion, meetings,
    pipeline value per lead when any was recorded), the running estimate by day, what was
    left out, and the design's caveats."""

    design: Design
    unit: str
    predictive: ArmSummary
    holdout: ArmSummary
    conversion: Contrast
    meetings: Contrast
    pipeline: Contrast | None
    leads_needed: int | None
    running: list[dict[str, Any]]
    excluded_washout: int
    caveats: list[str]
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "design": self.design,
            "unit": self.unit,
            "predictive": _arm_dict(self.predictive),
            "holdout": _arm_dict(self.holdout),
            "conversion": self.conversion.as_dict(),
            "meetings": self.meetings.as_dict(),
            "pipeline_per_lead": self.pipeline.as_dict() if self.pipeline else None,
            "leads_needed": self.leads_needed,
            "running": self.running,
            "excluded_washout": self.excluded_washout,
            "caveats": self.caveats,
            "verdict": self.verdict,
        }


@dataclass(frozen=True, slots=True)
class LiftReport:
    """Everything ``leadpilot report lift`` shows: one ``DesignLift`` per design found."""

    since: datetime | None
    live_leads: int
    not_randomized: int
    designs: list[DesignLift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "report": "lift",
            "since": self.since.isoformat() if self.since else None,
            "live_leads": self.live_leads,
            "not_randomized": self.not_randomized,
            "designs": [d.as_dict() for d in self.designs],
            "notes": self.notes,
        }


def policies_by_version(texts: Mapping[str, str]) -> dict[str, Policy]:
    """Stored policy texts (version -> YAML) parsed, under their stored version and their
    content hash (what a decision logs); a text this version of leadpilot rejects is left
    out (its decisions then count as not randomized)."""
    out: dict[str, Policy] = {}
    for version, text in texts.items():
        try:
            policy = parse_policy_text(text, source=f"policy {version}")
        except PolicyError:
            continue
        out[version] = out[policy.policy_hash] = policy
    return out


def _arm_dict(arm: ArmSummary) -> dict[str, Any]:
    out = {k: getattr(arm, k) for k in ArmSummary.__slots__}
    out["won_ci"], out["meeting_ci"] = list(arm.won_ci), list(arm.meeting_ci)
    return out


@dataclass(frozen=True, slots=True)
class _Tagged:
    outcome: Outcome
    design: Design
    treated: bool
    unit: str  # the randomization unit: the lead, or the switchback block
    washout: bool
    share: float | None = None  # the holdout share in force (None: policy not found)


def _tag(outcome: Outcome, policies: Mapping[str, Policy]) -> _Tagged | None:
    """The design, arm and unit of a lead's first decision; None when no arm was drawn."""
    d = outcome.decision
    if d.rep_id is None or d.strategy in _NOT_RANDOMIZED or not d.candidates:
        return None
    policy = policies.get(d.policy_version or "")
    share = policy.predictive.holdout if policy is not None else None
    for code in d.reasons:
        arm, _, block = code.partition(":")
        if arm in ("SWITCHBACK_ON", "SWITCHBACK_OFF"):
            treated = arm == "SWITCHBACK_ON"
            washout = "WASHOUT" in d.reasons
            return _Tagged(outcome, "switchback", treated, block, washout, share)
    if share is None or share <= 0:
        return None
    return _Tagged(outcome, "per_lead", "HOLDOUT" not in d.reasons, d.lead_id, False, share)


def _units(
    tagged: Sequence[_Tagged], value: Callable[[Outcome], float]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per-unit sums of ``value`` and lead counts, treated then control."""
    sums: dict[tuple[bool, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for t in tagged:
        acc = sums[(t.treated, t.unit)]
        acc[0] += value(t.outcome)
        acc[1] += 1
    arms: list[list[float]] = [[], [], [], []]
    for (treated, _), (y, n) in sums.items():
        base = 0 if treated else 2
        arms[base].append(y)
        arms[base + 1].append(n)
    return arms[0], arms[1], arms[2], arms[3]


def _contrast(tagged: Sequence[_Tagged], value: Callable[[Outcome], float]) -> Contrast:
    y1, n1, y0, n0 = _units(tagged, value)
    return contrast(y1, n1, y0, n0)


def _arm(tagged: Sequence[_Tagged]) -> ArmSummary:
    n = len(tagged)
    won = sum(t.outcome.won for t in tagged)
    meetings = sum(t.outcome.meeting for t in tagged)
    values = [t.outcome.pipeline for t in tagged if t.outcome.pipeline is not None]

    def rate(k: int) -> tuple[float, tuple[float, float]]:
        ci = wilson_interval(k, n)
        return (k / n, (ci.low, ci.high)) if ci is not None else (math.nan, (0.0, 1.0))

    won_rate, won_ci = rate(won)
    meeting_rate, meeting_ci = rate(meetings)
    return ArmSummary(
        leads=n,
        won=won,
        won_rate=won_rate,
        won_ci=won_ci,
        meetings=meetings,
        meeting_rate=meeting_rate,
        meeting_ci=meeting_ci,
        still_open=sum(not t.outcome.closed for t in tagged),
        pipeline_total=float(sum(values)),
        pipeline_leads=len(values),
        units=len({t.unit for t in tagged}),
    )


def _won(o: Outcome) -> float:
    return float(o.won)


def _met(o: Outcome) -> float:
    return float(o.meeting)


def _value(o: Outcome) -> float:
    return float(o.pipeline or 0.0)


def _running(tagged: Sequence[_Tagged]) -> list[dict[str, Any]]:
    """The conversion difference on the leads decided up to each day (UTC), cumulative."""
    by_day: dict[date, list[_Tagged]] = defaultdict(list)
    for t in tagged:
        by_day[t.outcome.decision.decided_at.date()].append(t)
    out, seen = [], []
    for day in sorted(by_day):
        seen.extend(by_day[day])
        c = _contrast(seen, _won)
        out.append(
            {
                "date": day.isoformat(),
                "leads": len(seen),
                "difference": c.difference if math.isfinite(c.difference) else None,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
            }
        )
    return out


_CAVEATS: dict[Design, str] = {
    "per_lead": (
        "Per-lead randomization: predictive and holdout leads share the same reps' capacity "
        "and fairness band at the same time. The predictive leads take the best reps' "
        "slots while the holdout's round-robin keeps the team's lead counts even, so the "
        "predictive leads look better than routing every lead predictively would be "
        "(interference; on a synthetic world it doubled the lift, see the README). Prefer "
        "holdout_design: switchback with day-long blocks."
    ),
    "switchback": (
        "Switchback: whole time blocks are predictive ON or OFF, so the two arms never "
        "route at the same moment; blocks, not leads, are the units, so the interval counts "
        "blocks and is wider than a per-lead one. Capacity that outlasts a block is still "
        "shared: with daily caps (max_leads_per_day), blocks shorter than a day let an ON "
        "block use up the best reps' day for the OFF block after it, so use day-long "
        "blocks when daily caps bind. Leads in the washout after each switch are left out; "
        "effects that outlast the washout (open leads carried across a switch) and "
        "day-to-day patterns average out only over many blocks."
    ),
}


def _verdict(c: Contrast, unit: str) -> str:
    if c.ci_low is None or c.ci_high is None:
        return f"cannot tell yet: each arm needs at least two {unit}s with outcomes"
    if c.ci_low > 0:
        return "predictive routing converts better than the holdout (95% interval above 0)"
    if c.ci_high < 0:
        return "predictive routing converts worse than the holdout (95% interval below 0)"
    if c.units_needed is None:
        return "no difference observed: the data cannot tell a lift from none"
    return (
        f"cannot tell yet: the interval spans 0; about {c.units_needed:,} {unit}s in all "
        f"(now {c.units:,}) would detect a difference this size"
    )


def _design_lift(design: Design, tagged: list[_Tagged], excluded: int) -> DesignLift:
    unit = "lead" if design == "per_lead" else "block"
    treated = [t for t in tagged if t.treated]
    control = [t for t in tagged if not t.treated]
    conversion = _contrast(tagged, _won)
    pipeline = None
    if any(t.outcome.pipeline is not None for t in tagged):
        pipeline = _contrast(tagged, _value)
    leads_needed = conversion.units_needed
    if leads_needed is not None and design == "switchback":
        leads_needed = math.ceil(leads_needed * len(tagged) / conversion.units)
    caveats = [_CAVEATS[design]]
    shares = sorted({t.share for t in tagged if t.share is not None})
    if len(shares) > 1:
        caveats.append(
            "The holdout share changed within this window ("
            + ", ".join(f"{x:.0%}" for x in shares)
            + "): the arms pool periods with different splits, so a trend over time can "
            "bias the difference; narrow --since to one policy version to check."
        )
    if excluded:
        caveats.append(f"{excluded} lead(s) decided in a washout were left out.")
    still_open = sum(not t.outcome.closed for t in tagged)
    if still_open:
        caveats.append(
            f"{still_open} of {len(tagged)} leads are not closed yet and count as not "
            "converted: recent leads pull both rates down until their outcomes arrive."
        )
    return DesignLift(
        design=design,
        unit=unit,
        predictive=_arm(treated),
        holdout=_arm(control),
        conversion=conversion,
        meetings=_contrast(tagged, _met),
        pipeline=pipeline,
        leads_needed=leads_needed,
        running=_running(tagged),
        excluded_washout=excluded,
        caveats=caveats,
        verdict=_verdict(conversion, unit),
    )


def lift_report(
    outcomes: Sequence[Outcome],
    policies: Mapping[str, Policy],
    *,
    since: datetime | None = None,
) -> LiftReport:
    """The lift of predictive routing over its holdout, per design, from the live leads'
    first decisions (``outcomes``) and the policies they were made under (by version)."""
    tagged = [t for o in outcomes if (t := _tag(o, policies)) is not None]
    designs = []
    for design in ("per_lead", "switchback"):
        mine = [t for t in tagged if t.design == design]
        kept = [t for t in mine if not t.washout]
        if kept:
            designs.append(_design_lift(design, kept, len(mine) - len(kept)))
    notes = []
    if not designs:
        notes.append(
            "No live decision in this window was randomized: set predictive.holdout above 0 "
            "in the policy (holdout_design: per_lead or switchback) and route some leads."
        )
    elif len(designs) == 2:
        notes.append(
            "Both designs ran in this window (the policy changed): their numbers are "
            "reported separately and should not be pooled."
        )
    return LiftReport(
        since=since,
        live_leads=len(outcomes),
        not_randomized=len(outcomes) - len(tagged),
        designs=designs,
        notes=notes,
    )
