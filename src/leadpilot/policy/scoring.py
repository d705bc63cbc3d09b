"""Policy conditions on lead fields, and ICP fit / intent scores with a grade."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadpilot.policy.policy_file import Condition, Policy, ScoreRule, Scoring
from leadpilot.schema import Lead

__all__ = [
    "LeadView",
    "Qualification",
    "evaluate",
    "matches",
    "qualify",
    "same_value",
    "segment_of",
]

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})


class LeadView:
    """A lead plus derived fields (``fit``, ``intent``, ``grade``, ``segment``,
    ``account_tier``, ``account_id``...) that conditions may test by name."""

    __slots__ = ("derived", "lead")

    def __init__(self, lead: Lead, derived: Mapping[str, Any] | None = None) -> None:
        self.lead = lead
        self.derived: dict[str, Any] = dict(derived or {})

    def get(self, name: str) -> Any:
        """The value of ``name`` (derived first, then the lead), ``None`` if absent."""
        if name in self.derived:
            return self.derived[name]
        return self.lead.get(name)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def same_value(value: Any, expected: Any) -> bool:
    """Equality that forgives CSV typing: ``"true"`` equals ``True``, ``"5"`` equals ``5``,
    and text compares case-insensitively."""
    if isinstance(expected, bool):
        if isinstance(value, bool):
            return value is expected
        if isinstance(value, str):
            v = value.strip().lower()
            return v in _TRUE if expected else v in _FALSE
        num = _number(value)
        return num is not None and (num != 0) is expected
    if isinstance(expected, int | float):
        num = _number(value)
        return num is not None and num == float(expected)
    return str(value).strip().casefold() == str(expected).strip().casefold()


def evaluate(cond: Condition, view: LeadView) -> bool:
    """Whether ``cond`` holds for the lead; a missing value fails every test but
    ``is_set: false`` and ``not_in``."""
    value = view.get(cond.field)
    op = cond.operator
    if op == "is_set":
        return (not _missing(value)) is cond.is_set
    if _missing(value):
        return op == "not_in"
    if op == "equals":
        return same_value(value, cond.equals)
    if op == "in":
        return any(same_value(value, v) for v in cond.in_ or ())
    if op == "not_in":
        return not any(same_value(value, v) for v in cond.not_in or ())
    if op == "contains_any":
        text = str(value).casefold()
        return any(word.casefold() in text for word in cond.contains_any or ())
    num = _number(value)
    if num is None:
        return False
    if op == "at_least":
        return num >= (cond.at_least if cond.at_least is not None else -math.inf)
    if op == "at_most":
        return num <= (cond.at_most if cond.at_most is not None else math.inf)
    low, high = cond.between or (-math.inf, math.inf)
    return low <= num <= high


def matches(when: Sequence[Condition], when_any: Sequence[Condition], view: LeadView) -> bool:
    """All of ``when`` hold and (if any are given) at least one of ``when_any``."""
    if not all(evaluate(c, view) for c in when):
        return False
    return not when_any or any(evaluate(c, view) for c in when_any)


@dataclass(frozen=True, slots=True)
class Qualification:
    """ICP fit and intent scores of a lead, its grade, and the rules that fired."""

    fit: float
    intent: float
    grade: str
    fired: tuple[str, ...]


def _points(rules: Sequence[ScoreRule], view: LeadView, kind: str) -> tuple[float, list[str]]:
    total, fired = 0.0, []
    for i, rule in enumerate(rules):
        if evaluate(rule, view):
            total += rule.points
            fired.append(f"{kind}[{i}]:{rule.field}")
    return total, fired


def grade_of(fit: float, scoring: Scoring) -> str:
    """The best grade whose minimum fit ``fit`` reaches (``scoring.lowest_grade`` if none)."""
    for grade, minimum in sorted(scoring.grades.items(), key=lambda kv: -kv[1]):
        if fit >= minimum:
            return grade
    return scoring.lowest_grade


def segment_of(lead: Lead, segments: Mapping[str, tuple[float, float]]) -> str | None:
    """The policy segment whose employee range holds the lead's company size."""
    size = _number(lead.company_size)
    if size is None:
        return None
    for name, (low, high) in segments.items():
        if low <= size <= high:
            return name
    return None


def qualify(view: LeadView, policy: Policy) -> Qualification:
    """Score ICP fit and intent, grade the lead, and store all three in ``view.derived``."""
    fit, fired_fit = _points(policy.scoring.fit, view, "fit")
    intent, fired_intent = _points(policy.scoring.intent, view, "intent")
    grade = grade_of(fit, policy.scoring)
    view.derived.update(fit=fit, intent=intent, grade=grade)
    return Qualification(fit, intent, grade, tuple(fired_fit + fired_intent))
