"""Business-minute deadlines against hand-counted calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpilot.policy.availability import is_working
from leadpilot.policy.business_time import add_business_minutes
from leadpilot.schema import Rep

DAY = Rep(rep_id="d", working_hours="Mon-Fri 09:00-17:00")


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # Monday 15:00 + 60: inside the window.
        (datetime(2026, 3, 2, 15, 0), 60, datetime(2026, 3, 2, 16, 0)),
        # Monday 16:30 + 60: 30 today, 30 from Tuesday 09:00.
        (datetime(2026, 3, 2, 16, 30), 60, datetime(2026, 3, 3, 9, 30)),
        # Friday 15:00 + 180: 120 on Friday, 60 from Monday 09:00.
        (datetime(2026, 3, 6, 15, 0), 180, datetime(2026, 3, 9, 10, 0)),
        # Saturday 12:00 + 30: the clock starts Monday 09:00.
        (datetime(2026, 3, 7, 12, 0), 30, datetime(2026, 3, 9, 9, 30)),
        # Monday 07:00 + 480: exactly one working day, ending at 17:00.
        (datetime(2026, 3, 2, 7, 0), 480, datetime(2026, 3, 2, 17, 0)),
    ],
)
def test_hand_counted_deadlines(start: datetime, minutes: int, expected: datetime) -> None:
    got = add_business_minutes(DAY, start.replace(tzinfo=UTC), minutes)
    assert got == expected.replace(tzinfo=UTC)


def test_the_reps_timezone_sets_the_calendar() -> None:
    ny = Rep(rep_id="ny", timezone="America/New_York", working_hours="Mon-Fri 09:00-17:00")
    # Monday 21:30 UTC is 16:30 in New York (EST, UTC-5): 30 minutes left today.
    got = add_business_minutes(ny, datetime(2026, 3, 2, 21, 30, tzinfo=UTC), 60)
    assert got == datetime(2026, 3, 3, 14, 30, tzinfo=UTC)  # Tuesday 09:30 in New York


def test_no_working_hours_means_wall_clock() -> None:
    start = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert add_business_minutes(Rep(rep_id="x"), start, 90) == start + timedelta(minutes=90)


@settings(max_examples=30, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1)),
    minutes=st.integers(min_value=1, max_value=3000),
)
def test_the_working_minutes_in_between_add_up(start: datetime, minutes: int) -> None:
    start = start.replace(second=0, microsecond=0, tzinfo=UTC)
    end = add_business_minutes(DAY, start, minutes)
    # Count the working minutes minute by minute (an independent, slow count).
    counted, t = 0, start
    while t < end:
        counted += is_working(DAY, t)
        t += timedelta(minutes=1)
    assert counted == minutes
