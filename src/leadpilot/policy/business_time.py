"""Business minutes: SLA deadlines counted on the assigned rep's working calendar.

RevOps measures time-to-action in the rep's working time: a 3-hour SLA given at 15:00 on a
Friday to a rep who works 09:00-17:00 ends at 10:00 on Monday, not at 18:00 on Friday. Hand
written because no calendar library here knows the roster's working-hours format; it walks
the weekly windows parsed by :func:`~leadpilot.policy.availability.parse_working_hours`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from leadpilot.policy.availability import ALWAYS, parse_working_hours, rep_zone
from leadpilot.schema import Rep

__all__ = ["add_business_minutes"]

_HORIZON_DAYS = 366  # a calendar with no window within a year is treated as always open


def add_business_minutes(rep: Rep, start: datetime, minutes: float) -> datetime:
    """The moment ``minutes`` of the rep's working time after ``start`` (in ``start``'s
    timezone). A rep with no working hours works all the time (wall-clock minutes)."""
    hours = parse_working_hours(rep.working_hours)
    if hours is ALWAYS or minutes <= 0:
        return start + timedelta(minutes=max(minutes, 0))
    zone = rep_zone(rep)
    local = start.astimezone(zone)
    left = timedelta(minutes=minutes)
    for offset in range(_HORIZON_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        for begin, end in hours.windows[day.weekday()]:
            lo = datetime.combine(day, begin, tzinfo=zone)
            hi = datetime.combine(day, end, tzinfo=zone)
            lo = max(lo, local)
            if hi <= lo:
                continue
            if hi - lo >= left:
                return (lo + left).astimezone(start.tzinfo)
            left -= hi - lo
    return start + timedelta(minutes=minutes)
