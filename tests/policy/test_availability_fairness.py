"""Working hours, timezones and fairness shares, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time

import numpy as np
import pytest

from leadpilot.errors import DataValidationError
from leadpilot.policy.availability import (
    is_working,
    local_day,
    next_working_start,
    parse_working_hours,
)
from leadpilot.policy.fairness import band_prices, fair_shares, fairness_index
from leadpilot.schema import Rep


def test_working_hours_parse_several_parts_and_wrap_the_week() -> None:
    hours = parse_working_hours("Mon-Thu 09:00-17:00; Fri 09:00-13:00, Sun-Mon 20:00-22:00")
    assert hours.windows[0] == ((time(9), time(17)), (time(20), time(22)))
    assert hours.windows[4] == ((time(9), time(13)),)
    assert hours.windows[5] == ()
    assert hours.windows[6] == ((time(20), time(22)),)


@pytest.mark.parametrize(
    "spec", ["Mon-Fri 9-17", "Mon-Fry 09:00-17:00", "Mon 17:00-09:00", "Mon 25:00-26:00"]
)
def test_bad_working_hours_say_how_to_write_them(spec: str) -> None:
    with pytest.raises(DataValidationError, match="working_hours"):
        parse_working_hours(spec)


def test_working_now_and_next_start_in_the_rep_timezone() -> None:
    rep = Rep("a", timezone="America/New_York", working_hours="Mon-Fri 09:00-17:00")
    friday_night = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Fri 21:00 in New York
    assert not is_working(rep, friday_night)
    assert local_day(rep, friday_night).isoformat() == "2026-11-27"
    start = next_working_start(rep, friday_night)
    assert start == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Mon 09:00 EST
    assert is_working(rep, start)
    with pytest.raises(DataValidationError, match="unknown timezone"):
        local_day(Rep("b", timezone="Mars/Olympus"), friday_night)


def test_fair_shares_follow_capacity_and_the_index_is_relative_to_them() -> None:
    caps = np.array([2.0, 6.0])
    share = fair_shares(caps)
    assert share.tolist() == [0.25, 0.75]
    assert fairness_index(np.array([2.0, 6.0]), share).tolist() == [1.0, 1.0]
    assert fairness_index(np.array([4.0, 4.0]), share).tolist() == [2.0, pytest.approx(2 / 3)]
    assert fair_shares(np.array([2.0, np.inf])).tolist() == [0.5, 0.5]


def test_band_prices_charge_above_the_band_and_credit_below() -> None:
    reps = [Rep("a"), Rep("b"), Rep("c")]
    counts = np.array([5.0, 3.0, 1.0])  # next lead: total 10, fair share 3.33 each
    prices = band_prices(reps, reps, counts, np.full(3, 1 / 3), (0.9, 1.1), 0.5)
    # a: (5+1)/3.33 = 1.8 > 1.1 -> +0.5; b: (3+1)/3.33 = 1.2 > 1.1 -> +0.5;
    # c: (1+1)/3.33 = 0.6 is not above, and 1/3.33 = 0.3 < 0.9 -> -0.5
    assert prices.tolist() == [0.5, 0.5, -0.5]
    in_band = band_prices(
        reps, reps, np.array([3.0, 3.0, 3.0]), np.full(3, 1 / 3), (0.9, 1.25), 0.5
    )
    assert in_band.tolist() == [0.0, 0.0, 0.0]  # (3+1)/3.33 = 1.2 is not above 1.25
