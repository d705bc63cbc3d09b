"""The verdict: does the history support predictive routing, and a 15%+ improvement?"""

from __future__ import annotations

from leadpilot.analyze.heterogeneity import GTest
from leadpilot.analyze.sections import Lift, Verdict

__all__ = ["ALPHA", "HOPED_LIFT", "MIN_LEADS_FOR_VERDICT", "decide", "without_reps"]

ALPHA = 0.05
HOPED_LIFT = 0.15
# Below this many leads with an outcome no verdict can favour predictive routing.
MIN_LEADS_FOR_VERDICT = 200


def _p(test: GTest, digits: int = 3) -> str:
    """'p = 0.042', or "p ≤ 0.001" when no permutation reached the observed statistic."""
    floor = 1.0 / (test.draws + 1)
    if test.p_value <= floor + 1e-12:
        return f"p ≤ {floor:.{digits}f}"
    return f"p = {test.p_value:.{digits}f}"


def _fmt(lift: Lift, *, paren: bool = False) -> str:
    """'+3.9%, 95% interval -0.0% to +8.1%' (or with the interval in brackets)."""
    if lift.value is None or lift.ci_low is None or lift.ci_high is None:
        return "not computable"
    interval = f"95% interval {lift.ci_low:+.1%} to {lift.ci_high:+.1%}"
    return f"{lift.value:+.1%} ({interval})" if paren else f"{lift.value:+.1%}, {interval}"


def decide(
    *,
    het: GTest,
    inter: GTest | None,
    lift: Lift,
    dims: list[str],
    n_reps: int,
    n_leads: int,
    constant_outcome: str | None = None,
    segment_strengths: bool = True,
) -> Verdict:
    """Supported only when reps differ within segments beyond chance (permutation p < 5%) AND
    the cross-fitted lift's 95% interval is above zero; tiny or degenerate histories never are.

    ``constant_outcome`` is a sentence when every lead with a rep has the same outcome;
    ``segment_strengths`` False when the conversion model finds no rep x segment effect (its
    empirical-Bayes spread is nil): reps may differ overall, but no segment rule can use it.
    """
    significant = het.p_value < ALPHA
    low = lift.ci_low if lift.ci_low is not None else float("-inf")
    value = lift.value if lift.value is not None else float("-inf")
    supports = bool(significant and low > 0 and segment_strengths)
    segs = " x ".join(d.replace("_", " ") for d in dims) + " segments" if dims else "the team"
    if supports:
        reason = (
            f"Reps' conversion rates differ within {segs} beyond chance ("
            f"{_p(het)}) and the capacity-respecting plan's projected lift over "
            f"round-robin is {_fmt(lift, paren=True)}."
        )
    elif not significant:
        reason = (
            f"Reps' conversion rates within {segs} differ no more than chance would make "
            f"them ({_p(het, 2)}), so there is no reliable rep fit to "
            f"route by (projected lift {_fmt(lift)})."
        )
    elif not segment_strengths:
        reason = (
            f"Reps differ beyond chance ({_p(het)}), but the conversion model finds no rep "
            "who is stronger in some industries or company sizes than in others, so routing by "
            f"segment cannot do materially better than round-robin (projected lift {_fmt(lift)}"
            ", from overall differences between reps only)."
        )
    else:
        reason = (
            f"Reps differ beyond chance ({_p(het)}) but, with every "
            f"rep's capacity respected, the projected lift over round-robin ({_fmt(lift)}) is "
            "not clearly above zero."
        )
    if n_reps < 2:
        supports = False
        reason = "The history has a single rep, so there is no choice of rep to route by."
    elif n_leads < MIN_LEADS_FOR_VERDICT:
        supports = False
        reason = (
            f"Only {n_leads:,} leads with a known outcome: far too few to tell reps apart (the "
            f"audit needs at least {MIN_LEADS_FOR_VERDICT}; a few thousand give useful answers)."
        )
    if constant_outcome:
        supports = False
        reason = constant_outcome
    if supports and low >= HOPED_LIFT:
        hope, hope_text = (
            "yes",
            (
                "Yes: the data supports a 15%+ improvement (the whole 95% interval of the "
                f"projected lift, {low:+.1%} to {lift.ci_high or 0.0:+.1%}, is above "
                "+15%)."
            ),
        )
    elif supports and value >= HOPED_LIFT:
        hope, hope_text = (
            "possible",
            (
                f"Possibly: the projected lift is {value:+.1%}, but its 95% interval "
                f"reaches down to {low:+.1%}, so a 15%+ improvement is not established."
            ),
        )
    elif lift.value is None:
        # nothing was projected: say so, instead of "(projected not computable)"
        hope, hope_text = (
            "no",
            "No: no lift could be projected from this history (see above), so nothing "
            "supports a 15%+ improvement from smarter routing.",
        )
    else:
        hope, hope_text = (
            "no",
            (
                "No: the data does not support a 15%+ improvement from smarter routing "
                f"(projected lift {_fmt(lift)})."
            ),
        )
    return Verdict(
        supports_predictive_routing=supports,
        projected_lift=Lift(lift.value, lift.ci_low, lift.ci_high),
        reason=reason,
        supports_15pct_improvement=hope,
        statement_15pct=hope_text,
        tests=[het.to_dict()] + ([inter.to_dict()] if inter else []),
    )


def without_reps() -> Verdict:
    """The verdict for a history that does not say which rep handled each lead."""
    reason = (
        "The history does not say which rep handled each lead, so routing cannot be audited: "
        "only lead sources and speed can be."
    )
    return Verdict(
        supports_predictive_routing=False,
        projected_lift=Lift(None, None, None),
        reason=reason,
        supports_15pct_improvement="no",
        statement_15pct="No: without the assigned rep nothing supports a routing gain.",
        tests=[],
    )
