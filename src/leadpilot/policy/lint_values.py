"""``policy check --history``: values a rule names that never occur in the data.

A rule ``{field: region, in: [NA, EMEA]}`` against leads whose regions are ``NAMER`` and
``EMEA`` still fires (for EMEA), so "the condition never held" does not catch the typo; this
census names each listed value that no lead has, with the values that do occur.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from leadpilot.policy.policy_file import Condition
from leadpilot.policy.scoring import LeadView, same_value

__all__ = ["ValueCensus"]

_LISTED = ("equals", "in", "not_in")
_SHOWN = 8  # values seen, listed in the message


def _listed(cond: Condition) -> list[object]:
    if cond.operator == "equals":
        return [cond.equals]
    return list((cond.in_ if cond.operator == "in" else cond.not_in) or ())


class ValueCensus:
    """Counts the values the leads hold in the fields that rules compare with listed values."""

    def __init__(self, conditions: Sequence[tuple[str, Condition]]) -> None:
        self._conditions = [(p, c) for p, c in conditions if c.operator in _LISTED]
        self._seen: dict[str, Counter[object]] = {c.field: Counter() for _, c in self._conditions}
        self._leads = 0

    def observe(self, view: LeadView) -> None:
        """Count one lead's values."""
        self._leads += 1
        for field, counter in self._seen.items():
            value = view.get(field)
            if value is not None and value != "":
                counter[value if isinstance(value, str | bool | int | float) else str(value)] += 1

    def unseen(self) -> list[tuple[str, str]]:
        """``(key path, message)`` for each listed value that no lead holds."""
        out: list[tuple[str, str]] = []
        for path, cond in self._conditions:
            seen = self._seen[cond.field]
            if not seen:
                continue  # a field no lead sets: "held for none" already says so
            missing = [v for v in _listed(cond) if not any(same_value(s, v) for s in seen)]
            if not missing:
                continue
            shown = ", ".join(repr(v) for v, _ in seen.most_common(_SHOWN))
            more = f" and {len(seen) - _SHOWN} more" if len(seen) > _SHOWN else ""
            names = ", ".join(repr(v) for v in missing)
            out.append(
                (
                    path,
                    f"{cond.field} {names} never occurs in the {self._leads} leads "
                    f"(values seen: {shown}{more}): a misspelt or renamed value?",
                )
            )
        return out
