"""Rep availability: working hours in the rep's timezone, out-of-office ranges, holidays."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadpilot.errors import DataValidationError
from leadpilot.policy.policy_file import Availability
from leadpilot.schema import Rep

__all__ = [
    "WorkingHours",
    "check_availability",
    "is_away",
    "is_working",
    "local_day",
    "next_working_start",
    "parse_working_hours",
    "rep_zone",
]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekly working windows: ``windows[weekday]`` lists (start, end) local times, Monday 0."""

    windows: tuple[tuple[tuple[time, time], ...], ...]

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time falls inside a working window."""
        t = local.time()
        return any(start <= t < end for start, end in self.windows[local.weekday()])


ALWAYS = WorkingHours(tuple(((time(0), time.max),) for _ in range(7)))


@lru_cache(maxsize=1024)
def parse_working_hours(spec: str | None) -> WorkingHours:
    """Parse ``"Mon-Fri 09:00-17:30"``; several parts join with ``;`` or ``,``
    (``"Mon-Thu 09:00-17:00; Fri 09:00-13:00"``). Empty or ``None`` means always working."""
    if spec is None or not spec.strip() or spec.strip().lower() in {"always", "24/7"}:
        return ALWAYS
    windows: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for part in re.split(r"[;,]", spec.lower()):
        if not part.strip():
            continue
        m = _SPEC.match(part)
        if not m or m["d1"] not in _DAYS or (m["d2"] and m["d2"] not in _DAYS):
            raise DataValidationError(
                f"working_hours {spec!r}: cannot read {part.strip()!r}",
                hint='Write it like "Mon-Fri 09:00-17:30" (parts joined by ";").',
            )
        d1 = _DAYS.index(m["d1"])
        d2 = _DAYS.index(m["d2"]) if m["d2"] else d1
        h1, m1, h2, m2 = int(m["h1"]), int(m["m1"]), int(m["h2"]), int(m["m2"])
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise DataValidationError(f"working_hours {spec!r}: bad time in {part.strip()!r}")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise DataValidationError(
                f"working_hours {spec!r}: end is not after start in {part.strip()!r}",
                hint="Overnight shifts: write two parts, e.g. 'Mon 22:00-24:00; Tue 00:00-06:00'.",
            )
        days = range(d1, d2 + 1) if d1 <= d2 else [*range(d1, 7), *range(0, d2 + 1)]
        for d in days:
            windows[d].append((start, end))
    return WorkingHours(tuple(tuple(sorted(w)) for w in windows))


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataValidationError(
            f"unknown timezone {name!r}",
            hint="Use an IANA name such as 'Europe/Berlin' or 'America/New_York'.",
        ) from None


def rep_zone(rep: Rep) -> ZoneInfo:
    """The rep's timezone (UTC when blank)."""
    return _zone(rep.timezone or "UTC")


def local_day(rep: Rep, now: datetime) -> date:
    """The rep's local calendar date at ``now`` (the day ``max_leads_per_day`` counts on)."""
    return _local_date(rep.timezone or "UTC", now)


@lru_cache(maxsize=1024)
def _local_date(zone: str, now: datetime) -> date:
    # Memoised: one decision asks for every rep's local day at the same ``now`` (several
    # times), and a roster has few distinct zones.
    return now.astimezone(_zone(zone)).date()


def _aware(moment: datetime, rep: Rep) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=rep_zone(rep))


def is_away(rep: Rep, now: datetime, availability: Availability) -> str | None:
    """``"OUT_OF_OFFICE"`` if the rep is out of office or on holiday at ``now``, else ``None``.

    Out-of-office ranges come from the policy and from ``rep.out_of_office`` (e.g. set by
    the service).
    """
    for start, end in _ooo_ranges(rep, availability):
        if _aware(start, rep) <= now < _aware(end, rep):
            return "OUT_OF_OFFICE"
    if availability.holidays:
        today = local_day(rep, now)
        for h in availability.holidays:
            if h.date != today:
                continue
            if h.reps is not None and rep.rep_id not in h.reps:
                continue
            if h.regions is not None and not _shares_region(rep.regions, h.regions):
                continue
            return "OUT_OF_OFFICE"
    return None


def _shares_region(rep_regions: Sequence[str], holiday_regions: Sequence[str]) -> bool:
    wanted = {r.casefold() for r in holiday_regions}
    return any(r.casefold() in wanted for r in rep_regions)


def _ooo_ranges(rep: Rep, availability: Availability) -> Iterable[tuple[datetime, datetime]]:
    for entry in availability.out_of_office:
        if entry.rep == rep.rep_id:
            yield entry.start, entry.end
    yield from rep.out_of_office


def is_working(rep: Rep, now: datetime) -> bool:
    """Whether ``now`` is inside the rep's working hours (in the rep's timezone)."""
    hours = parse_working_hours(rep.working_hours)
    return hours is ALWAYS or hours.contains(now.astimezone(rep_zone(rep)))


def next_working_start(rep: Rep, now: datetime, *, horizon_days: int = 14) -> datetime | None:
    """``now`` if the rep is working, else the start of their next working window (within
    ``horizon_days``), else ``None``. Used for the expected response time."""
    hours = parse_working_hours(rep.working_hours)
    local = now.astimezone(rep_zone(rep))
    if hours is ALWAYS or hours.contains(local):
        return now
    zone = rep_zone(rep)
    for offset in range(horizon_days + 1):
        day = local.date() + timedelta(days=offset)
        for start, _end in hours.windows[day.weekday()]:
            candidate = datetime.combine(day, start, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(now.tzinfo)
    return None


def check_availability(rep: Rep) -> None:
    """Raise ``DataValidationError`` (naming the field) unless the rep's timezone and working
    hours can be read: the checks every write of a rep passes before it is stored."""
    for field, check in (
        ("timezone", lambda: rep_zone(rep)),
        ("working_hours", lambda: parse_working_hours(rep.working_hours)),
    ):
        try:
            check()
        except DataValidationError as exc:
            raise DataValidationError(
                f"rep {rep.rep_id!r}: {exc.message}", hint=exc.hint, details={"field": field}
            ) from None
