"""No lead routed for longer than expected during working hours.

Working time: minutes when at least one active rep is on shift (their working hours in
their timezone), counted in 5-minute steps. Rate = first decisions per working minute over
the last ``baseline_days``; the quiet time is the working time since the last first decision.
With leads arriving as a Poisson process at that rate, P(none in the quiet time) =
exp(-rate x quiet); alert when it is below ``alpha``, the quiet time is at least
``min_quiet_minutes`` and someone is on shift now.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from leadpilot.policy.alert_settings import NoLeadsSettings
from leadpilot.policy.availability import is_working
from leadpilot.schema import Rep
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.store.alert_reads import intake_times

__all__ = ["RULE", "working_minutes"]

_STEP = timedelta(minutes=5)


def _shift_patterns(reps: list[Rep]) -> list[Rep]:
    """One rep per distinct (timezone, working hours): on shift is the same for each."""
    seen: dict[tuple[str, str | None], Rep] = {}
    for rep in reps:
        seen.setdefault((rep.timezone, rep.working_hours), rep)
    return list(seen.values())


def working_minutes(reps: list[Rep], start: datetime, end: datetime) -> float:
    """Minutes of ``[start, end)`` when at least one of ``reps`` is on shift (5-min steps,
    each step counted by its start)."""
    patterns = _shift_patterns(reps)
    steps, t = 0, start
    while t < end:
        if any(is_working(rep, t) for rep in patterns):
            steps += 1
        t += _STEP
    return steps * _STEP.total_seconds() / 60.0


class NoLeadsRule:
    """``no_leads:all``."""

    kind = "no_leads"
    description = "no lead routed for longer than expected during working hours"

    def evaluate(self, ctx: RuleContext, settings: NoLeadsSettings) -> list[Finding]:
        reps = [r for r in ctx.reps if r.active]
        if not reps or not any(is_working(r, ctx.now) for r in _shift_patterns(reps)):
            return []
        since = ctx.now - timedelta(days=settings.baseline_days)
        times = intake_times(ctx.conn, since=since, until=ctx.now)
        if len(times) < settings.min_baseline_leads:
            return []
        rate = len(times) / max(working_minutes(reps, since, ctx.now), 1.0)
        quiet = working_minutes(reps, times[-1], ctx.now)
        chance = math.exp(-rate * quiet)
        if quiet < settings.min_quiet_minutes or chance >= settings.alpha:
            return []
        return [
            Finding(
                key=f"{self.kind}:all",
                message=(
                    f"no lead routed for {quiet:.0f} working minutes (last at "
                    f"{times[-1]:%Y-%m-%d %H:%M} UTC); at the usual {rate * 60:.2f} leads per "
                    f"working hour that happens with probability {chance:.2g}"
                ),
                details={
                    "quiet_working_minutes": quiet,
                    "leads_per_working_hour": rate * 60,
                    "probability": chance,
                    "last_routed_at": times[-1].isoformat(),
                },
            )
        ]


RULE = NoLeadsRule()
