"""Human-readable explanations of a decision, including the contrastive "why this rep over
the runner-up" and "why not Alice?"."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from leadpilot.policy.eligibility import AVAILABILITY_TEXT
from leadpilot.policy.registry import RULES, STRATEGIES
from leadpilot.schema import Candidate, Decision

__all__ = ["exclusion_codes", "exclusion_text", "explain", "reason_text", "why_not"]

# (rep_id, versus rep_id) -> the model's top reasons in words (``ConversionModel.explain``).
Factors = Callable[[str, str], Sequence[str]]

# Reasons that do not name a strategy (those come from the strategy registry).
_RULE_PATH_TEXT: Mapping[str, str] = {
    "HOT_LANE": "hot lead: only reps available right now",
    "OWNER_HOLD": "the account's owner keeps its leads (ownership hold)",
    "HOLD_BACKUP_REP": "the owner is unavailable: the owner's backup takes it",
    "HOLD_BACKUP_POOL": "the owner is unavailable: routed to the hold backup pool",
    "LOW_CONFIDENCE_FALLBACK": "the model was not confident enough: fallback strategy used",
    "NO_MODEL_FALLBACK": "no model available: fallback strategy used",
    "NO_VALUE_MODEL": "the policy's value objective has no value model: routed by conversions",
    "FAIRNESS_GUARD": "the fairness band's guard changed who could take it (a rep over the "
    "band's top passed over, or a rep short of its bottom given the lead)",
    "EXPLORE": "random eligible rep (exploration, for learning)",
    "HOLDOUT": "randomized control group: fallback strategy used",
    "WASHOUT": "just after a switchback switch: routed, but left out of the lift",
    "NO_ELIGIBLE_REP": "nobody can take the lead now: it waits in the queue",
    "ALL_AT_CAPACITY": "every eligible rep is at a capacity cap",
    "ALL_AWAY_OR_FULL": "every eligible rep is away, outside hours or full",
    "NONE_ELIGIBLE": "no rep of the pool matches the lead's rules",
    "NO_POOL_MATCHES": "no pool rule matches the lead",
    "NO_ASSIGNMENT_LANE": "this lane assigns no rep (e.g. nurture goes back to marketing)",
}


def exclusion_text() -> dict[str, str]:
    """Every exclusion code with why it excludes a rep: pool membership, availability and
    capacity, then one per registered eligibility rule."""
    out = dict(AVAILABILITY_TEXT)
    for rule in RULES:
        out.setdefault(rule.code, rule.explanation)
    return out


def exclusion_codes() -> tuple[str, ...]:
    """Every code a decision's ``exclusions`` may hold."""
    return tuple(exclusion_text())


def reason_text() -> dict[str, str]:
    """Every plain reason code in words, including one per registered strategy."""
    out = {s.name.upper(): s.explanation for s in STRATEGIES}
    out.update(_RULE_PATH_TEXT)
    return out


def _reason_line(code: str) -> str:
    head, _, rest = code.partition(":")
    texts = reason_text()
    if code in texts:
        return f"{code}: {texts[code]}"
    prefixes = {
        "LANE": "lane",
        "GRADE": "ICP grade",
        "POOL": "pool",
        "TERRITORY": "territory rule applied for",
        "EXCEPTION": "exception rule",
        "CAPACITY_SKIP": "skipped (at capacity):",
        "ACCOUNT": "matched account",
        "HOLD": "hold because of",
        "OWNER_UNAVAILABLE": "owner unavailable:",
        "SHADOW_RECOMMENDS": "shadow mode; the policy recommends",
        "SWITCHBACK_ON": "switchback holdout: predictive routing ON in time block",
        "SWITCHBACK_OFF": "switchback holdout: predictive OFF (control) in time block",
        "OVERFLOW": "every rep of the pool was unavailable: overflowed to pool",
        "NEXT_SHIFT": "nobody on shift: assigned to the rep whose shift starts soonest,",
        "FALLBACK_OWNER": "no pool could place the lead: the policy's fallback owner",
        "FALLBACK_OWNER_UNAVAILABLE": "the policy's fallback owner is unavailable:",
        "FALLBACK_QUEUE": "no pool could place the lead: it waits in the fallback queue",
        "OBJECTIVE": "best p(convert) x expected value after prices; objective",
        "DEVELOPMENT": "a ramping rep below its development share gets the lead; rule",
    }
    if head in prefixes:
        return f"{code}: {prefixes[head]} {rest}"
    return code


def explain(decision: Decision, *, factors: Factors | None = None) -> str:
    """A plain-text explanation: outcome, rule path, and the contrast with the runner-up.

    ``factors(rep, versus)`` may give the model's top reasons why ``rep`` scores as it does
    compared with ``versus`` (``ConversionModel.explain``); shown for the chosen rep against
    the runner-up.
    """
    lines: list[str] = []
    if decision.rep_id is None:
        lines.append(f"Lead {decision.lead_id}: not assigned.")
    else:
        lines.append(
            f"Lead {decision.lead_id} -> {decision.rep_id} (pool {decision.pool}, "
            f"lane {decision.lane}, strategy {decision.strategy}, mode {decision.mode})."
        )
    facts = []
    if decision.p_convert is not None:
        facts.append(f"p(convert) {decision.p_convert:.3f}")
    if decision.expected_value is not None:
        # under won_revenue the value already carries P(win | opportunity)
        what = "won revenue" if "OBJECTIVE:won_revenue" in decision.reasons else "value"
        facts.append(f"expected {what} if converted {decision.expected_value:,.0f}")
    if decision.confidence is not None:
        facts.append(f"confidence {decision.confidence:.2f}")
    if decision.propensity is not None:
        facts.append(f"propensity {decision.propensity:.3f}")
    if decision.sla_deadline is not None:
        facts.append(f"respond by {decision.sla_deadline.isoformat(timespec='minutes')}")
    if facts:
        lines.append("  " + "; ".join(facts))
    lines.append("Why:")
    lines += [f"  - {_reason_line(code)}" for code in decision.reasons]
    contrast = _contrast(decision, factors)
    if contrast:
        lines.append("Why this rep over the runner-up:")
        lines += [f"  {line}" for line in contrast]
    return "\n".join(lines)


def _contrast(decision: Decision, factors: Factors | None) -> list[str]:
    if decision.rep_id is None or len(decision.candidates) < 2:
        return []
    chosen = next((c for c in decision.candidates if c.rep_id == decision.rep_id), None)
    runner = next((c for c in decision.candidates if c.rep_id != decision.rep_id), None)
    if chosen is None or runner is None:
        return []
    out = []
    if chosen.p_convert is not None and runner.p_convert is not None:
        out.append(
            f"{chosen.rep_id}: p {chosen.p_convert:.3f} - price {_num(chosen)} = "
            f"{_fmt(chosen.score)};  {runner.rep_id}: p {runner.p_convert:.3f} - price "
            f"{_num(runner)} = {_fmt(runner.score)}"
        )
        if (chosen.score or 0) < (runner.score or 0):
            why = next(
                (
                    c
                    for c in ("EXPLORE", "HOLDOUT", "LOW_CONFIDENCE_FALLBACK")
                    if c in decision.reasons
                ),
                "a tie broken at random",
            )
            out.append(f"{chosen.rep_id} scored lower but was chosen because of {why}.")
        elif (chosen.p_convert or 0) < runner.p_convert and (runner.price or 0) > (
            chosen.price or 0
        ):
            out.append(
                f"{runner.rep_id} converts better but their capacity is worth more for later "
                "leads (or they are above the fairness band)."
            )
    else:
        out.append(
            f"{chosen.rep_id} was ahead of {runner.rep_id} in the {decision.strategy} order."
        )
    if factors is not None:
        lines = list(factors(chosen.rep_id, runner.rep_id))
        if lines:
            out.append(f"model, {chosen.rep_id} vs {runner.rep_id}: " + "; ".join(lines))
    return out


def _num(c: Candidate) -> str:
    return f"{c.price:.3f}" if c.price is not None else "n/a"


def _fmt(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def why_not(decision: Decision, rep_id: str, *, other: Candidate | None = None) -> str:
    """Why ``rep_id`` did not get the lead: its exclusion, or both reps' p, price and score
    and, in words, what decided between them.

    ``other`` is ``rep_id``'s p / price / score when the decision does not list it among its
    top candidates (the caller scores it with the same scorer and reads the price the
    router's inputs hold)."""
    if decision.rep_id == rep_id:
        return f"{rep_id} got the lead."
    code = decision.exclusions.get(rep_id)
    if code is not None:
        return f"{rep_id} {exclusion_text().get(code, code)} ({code})."
    cand = next((c for c in decision.candidates if c.rep_id == rep_id), other)
    chosen = next((c for c in decision.candidates if c.rep_id == decision.rep_id), None)
    if cand is not None and cand.p_convert is not None and chosen is not None:
        return _priced_contrast(decision, chosen, cand)
    if decision.shadow_rep_id == rep_id:
        return f"{rep_id} was the policy's recommendation, but the policy runs in shadow mode."
    if decision.strategy == "hold":
        return (
            f"{rep_id} was not compared: the account's owner keeps its leads (ownership "
            f"hold), so {decision.rep_id} got it without scoring."
        )
    return f"{rep_id} was eligible but not chosen ({decision.strategy})."


def _side(c: Candidate) -> str:
    return f"{c.rep_id}: p {_fmt(c.p_convert)} - price {_num(c)} = score {_fmt(c.score)}"


def _priced_contrast(decision: Decision, chosen: Candidate, cand: Candidate) -> str:
    """Both reps' numbers, then the deciding reason in words."""
    who, rep = chosen.rep_id, cand.rep_id
    head = f"{rep} was eligible but {who} got the lead. {_side(chosen)}; {_side(cand)}."
    p_c, p_o = chosen.p_convert or 0.0, cand.p_convert or 0.0
    price_c, price_o = chosen.price or 0.0, cand.price or 0.0
    s_c, s_o = chosen.score, cand.score
    special = next(
        (c for c in ("HOLDOUT", "EXPLORE", "LOW_CONFIDENCE_FALLBACK") if c in decision.reasons),
        None,
    )
    if special is not None or decision.shadow_rep_id == rep:
        why = reason_text().get(special or "", "the policy runs in shadow mode")
        return f"{head} The score did not decide: {why} ({special or 'shadow mode'})."
    if cand.price is None:
        # an unlisted rep of a pool priced by the fairness band alone: its price is not
        # exposed, but it scored below every rep the decision lists
        floor = min((c.score for c in decision.candidates if c.score is not None), default=None)
        bound = f" (at most {floor:.3f}, the lowest listed)" if floor is not None else ""
        edge = (
            f"{who} converts better (by {p_c - p_o:.3f})"
            if p_c >= p_o
            else f"{rep} converts better (by {p_o - p_c:.3f}) but"
        )
        return (
            f"{head} {edge} {'and ' if p_c >= p_o else ''}{rep} is not among the "
            f"{len(decision.candidates)} best scores after the fairness band's prices{bound}."
        )
    if s_c is not None and s_o is not None and s_c < s_o:
        return f"{head} {who} scored lower and won a tie-break or random draw."
    if p_o > p_c and price_o > price_c:
        return (
            f"{head} {rep} converts better (by {p_o - p_c:.3f}), but {rep}'s capacity is worth "
            f"more for later leads: its price ({price_o:.3f}, what {rep}'s remaining capacity "
            f"is expected to win on the leads still to come, or the fairness band's charge) "
            f"exceeds {who}'s ({price_c:.3f}) by {price_o - price_c:.3f}, more than the "
            f"conversion edge, so {who} scores higher."
        )
    if p_c > p_o:
        extra = (
            ") and has the lower or equal price"
            if price_c <= price_o
            else f", more than {who}'s higher price takes back)"
        )
        return f"{head} {who} converts better (by {p_c - p_o:.3f}{extra}."
    return f"{head} Equal scores: {who} came first in the tie-break."
