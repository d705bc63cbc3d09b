"""Three to five prioritised, data-backed actions drawn from the computed sections."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from leadpilot.analyze.sections import (
    Action,
    DataQuality,
    Recommendations,
    TimeToContact,
    Verdict,
)

__all__ = ["prioritised_actions"]


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.1 else f"{x:.1%}"


def _fitted_rate(fit: dict[str, Any], hours: float) -> float:
    z = fit["intercept"] + fit["coefficient"] * math.log(hours + fit["offset_hours"])
    return 1.0 / (1.0 + math.exp(-z))


def _doubling(fit: dict[str, Any]) -> str:
    return (
        "each doubling of time to contact multiplies the odds of converting by "
        f"{fit['odds_ratio_per_doubling']:.2f} (95% CI {fit['ci_low']:.2f}-{fit['ci_high']:.2f})"
    )


def _speed_action(ttc: TimeToContact, overall: float, min_leads: int) -> Action | None:
    fit = ttc.get("fit")
    if not ttc.get("available") or not fit or fit["ci_high"] >= 1.0:
        return None
    team = ttc["median_hours"]
    slow = [
        r for r in ttc.get("by_rep", []) if r["leads"] >= min_leads and r["median_hours"] > 2 * team
    ]
    fast_bins = [b for b in ttc["bins"] if b["leads"] >= min_leads]
    spread = ""
    if len(fast_bins) >= 2:
        spread = (
            f" Leads reached {fast_bins[0]['range']} converted at "
            f"{_pct(fast_bins[0]['rate'] or 0.0)}, "
            f"{fast_bins[-1]['range']} at {_pct(fast_bins[-1]['rate'] or 0.0)}."
        )
    if slow:
        gain = sum(
            r["leads"] * (_fitted_rate(fit, team) - _fitted_rate(fit, r["median_hours"]))
            for r in slow[:3]
        )
        names = ", ".join(f"{r['rep']} ({r['median_hours']:.1f} h)" for r in slow[:3])
        return {
            "title": "Fix speed-to-lead for the slowest reps",
            "detail": (
                f"{names} take a median of more than twice the team's {team:.1f} h to first "
                f"contact. Set a 15-minute SLA for hot leads with automatic reassignment." + spread
            ),
            "evidence": _doubling(fit),
            "projected_extra_conversions": gain,
            "caveat": "upper bound: slow contact and low conversion can share a cause",
        }
    return {
        "title": "Shorten time to first contact across the team",
        "detail": "Set a 15-minute SLA for hot leads with automatic reassignment." + spread,
        "evidence": _doubling(fit),
        "projected_extra_conversions": None,
        "caveat": "upper bound: slow contact and low conversion can share a cause",
    }


def _balance_action(by_rep: pd.DataFrame, overall: float, min_leads: int) -> Action | None:
    reps = by_rep[(by_rep["leads"] >= min_leads) & (by_rep["rep"] != "(missing)")]
    if len(reps) < 3:
        return None
    median = float(reps["leads"].median())
    over = reps[(reps["leads"] > 1.5 * median) & (reps["ci_high"] < overall)]
    under = reps[(reps["leads"] < 0.75 * median) & (reps["ci_low"] > overall)]
    if over.empty and under.empty:
        return None
    parts = []
    gain = 0.0
    if not over.empty:
        parts.append(
            "; ".join(
                f"{r['rep']} took {r['leads'] / median:.1f}x the median volume and converts at "
                f"{_pct(r['rate'])} ({_pct(r['ci_low'])}-{_pct(r['ci_high'])})"
                for r in over.head(3).to_dict("records")
            )
        )
    if not under.empty:
        parts.append(
            "; ".join(
                f"{r['rep']} converts at {_pct(r['rate'])} ({_pct(r['ci_low'])}-"
                f"{_pct(r['ci_high'])}) on only {r['leads']} leads"
                for r in under.head(3).to_dict("records")
            )
        )
    if not over.empty and not under.empty:
        moved = min(float((over["leads"] - median).sum()), float((median - under["leads"]).sum()))
        gain = moved * (float(under["ci_low"].mean()) - float(over["ci_high"].mean()))
    return {
        "title": "Rebalance volume between overloaded and under-used reps",
        "detail": ". ".join(parts) + f" (team rate {_pct(overall)}).",
        "evidence": "95% Wilson intervals entirely below / above the team rate",
        "projected_extra_conversions": gain if gain > 0 else None,
        "caveat": "check capacity before moving volume; busy reps may be slow for a reason",
    }


def _source_action(by_source: pd.DataFrame, overall: float, min_leads: int) -> Action | None:
    src = by_source[(by_source["leads"] >= min_leads) & (by_source["source"] != "(missing)")]
    low = src[src["ci_high"] < overall].sort_values("rate")
    high = src[src["ci_low"] > overall].sort_values("rate", ascending=False)
    if low.empty and high.empty:
        return None
    bits = []
    if not high.empty:
        r = high.iloc[0]
        bits.append(
            f"{r['source']} converts at {_pct(r['rate'])} (n={int(r['leads'])}): fast-lane it"
        )
    if not low.empty:
        r = low.iloc[0]
        bits.append(
            f"{r['source']} converts at {_pct(r['rate'])} (n={int(r['leads'])}): qualify it "
            "before it reaches a rep"
        )
    return {
        "title": "Route by lead source quality",
        "detail": "; ".join(bits) + f" (team rate {_pct(overall)}).",
        "evidence": "95% Wilson intervals that exclude the team rate",
        "projected_extra_conversions": None,
        "caveat": None,
    }


def prioritised_actions(
    *,
    by_rep: pd.DataFrame,
    by_source: pd.DataFrame | None,
    time_to_contact: TimeToContact,
    recommendations: Recommendations,
    verdict: Verdict,
    quality: DataQuality,
    overall: float,
    min_leads: int,
) -> list[Action]:
    """Return 3-5 actions, most valuable first, each with its evidence."""
    actions: list[Action] = []
    rules = recommendations.rules
    if verdict.supports_predictive_routing and rules:
        top = rules[0]
        actions.append(
            {
                "title": f"Reassign {top['segment']} leads",
                "detail": top["text"],
                "evidence": "shrunk rep x segment rates; capacity-constrained plan",
                "projected_extra_conversions": top["projected_extra_conversions"],
                "caveat": "pilot it against a randomized holdout before rolling out",
            }
        )
    for candidate in (
        _speed_action(time_to_contact, overall, min_leads),
        _balance_action(by_rep, overall, min_leads),
        _source_action(by_source, overall, min_leads) if by_source is not None else None,
    ):
        if candidate is not None:
            actions.append(candidate)
    actions.sort(key=lambda a: -(a["projected_extra_conversions"] or 0.0))
    if verdict.supports_predictive_routing:
        actions.append(
            {
                "title": "Pilot predictive routing with a randomized holdout",
                "detail": (
                    "Route 80% of leads by the plan and keep 20% on round-robin, chosen at random, "
                    "to measure the real lift before rolling out."
                ),
                "evidence": verdict.reason,
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    elif quality.has_reps is False:
        actions.append(
            {
                "title": "Record the assigned rep on every lead",
                "detail": (
                    "Without the owner of each lead nobody can tell which reps convert which "
                    "leads, nor whether routing could do better. Export the lead owner (e.g. "
                    "Lead Owner, Contact owner, Assigned_Rep) with the history."
                ),
                "evidence": verdict.reason,
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    else:
        actions.append(
            {
                "title": "Keep round-robin; collect evidence before buying predictive routing",
                "detail": (
                    "The history does not show reliable rep x segment differences. Keep fair "
                    "round-robin within pools, and randomize assignment for a share of leads so "
                    "that the next audit can measure rep fit without the current routing's bias."
                ),
                "evidence": verdict.reason,
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    if not time_to_contact.get("available"):
        actions.append(
            {
                "title": "Track time to first contact",
                "detail": (
                    "The export does not record when a rep first contacted each lead, so "
                    "speed-to-lead, the cheapest lever, cannot be measured. Add "
                    "first_contact_at or time_to_contact_hours."
                ),
                "evidence": time_to_contact.get("reason", ""),
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    if quality.outcome_unknown_share > 0.2:
        actions.append(
            {
                "title": "Close open leads and record every outcome",
                "detail": (
                    f"{quality.outcome_unknown_share:.0%} of leads have no outcome yet (still "
                    "open, or never recorded); every estimate here rests on the closed ones. "
                    "Record a lost reason when a lead is closed without a deal."
                ),
                "evidence": "data-quality summary",
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    if not quality.has_dates:
        actions.append(
            {
                "title": "Export lead creation dates",
                "detail": (
                    "Without created_at the audit treats file order as time: it cannot check "
                    "trends, seasonality or how many months of history there are (aim for 12-24)."
                ),
                "evidence": "data-quality summary",
                "projected_extra_conversions": None,
                "caveat": None,
            }
        )
    if len(actions) < 3:
        actions.append(_sample_size_action(overall, quality))
    out = actions[:5]
    for i, a in enumerate(out, start=1):
        a["priority"] = i
    return out


def _sample_size_action(overall: float, quality: DataQuality) -> Action:
    """How many leads per arm a test needs to see a 15% relative lift (two proportions,
    5% two-sided, 80% power, normal approximation)."""
    p1 = min(max(overall, 1e-3), 0.99)
    p2 = min(p1 * 1.15, 0.999)
    z_a, z_b = 1.959964, 0.841621
    pbar = (p1 + p2) / 2
    num = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    n = math.ceil(num**2 / (p2 - p1) ** 2)
    return {
        "title": "Gather enough outcomes to detect a 15% lift",
        "detail": (
            f"At a {_pct(p1)} conversion rate, telling {_pct(p1)} from {_pct(p2)} needs about "
            f"{n:,} leads per group; this history has {quality.rows_used:,} leads in all."
        ),
        "evidence": "two-proportion power calculation (5% two-sided, 80% power)",
        "projected_extra_conversions": None,
        "caveat": None,
    }
