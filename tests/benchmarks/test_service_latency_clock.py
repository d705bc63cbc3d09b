"""benchmarks/service_latency.py pins the service's clock, so its figures do not depend on
the time of day or the weekday it runs at."""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("service_latency", BENCH / "service_latency.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(BENCH))  # the script imports its sibling _figures
        spec.loader.exec_module(module)
    return module


def test_now_is_the_real_clock(bench: ModuleType) -> None:
    assert bench.pinned_clock("now") is None


def test_the_pinned_clock_starts_at_the_instant_and_runs_at_wall_speed(bench: ModuleType) -> None:
    clock = bench.pinned_clock("2026-12-02T15:00:00+01:00")
    first = clock()
    assert first.tzinfo is not None
    # 15:00 at UTC+1 is 14:00 UTC; made a moment ago, so within a second of it
    assert timedelta(0) <= first - datetime(2026, 12, 2, 14, tzinfo=UTC) < timedelta(seconds=1)
    time.sleep(0.05)
    second = clock()
    assert timedelta(seconds=0.05) <= second - first < timedelta(seconds=5)
    naive = bench.pinned_clock("2026-12-02T15:00:00")()  # no offset: UTC
    assert timedelta(0) <= naive - datetime(2026, 12, 2, 15, tzinfo=UTC) < timedelta(seconds=1)


def _on_shift(timezone: str, hours: str, at: datetime) -> bool:
    """A second reading of the synthetic reps' "Mon-Fri HH:MM-HH:MM" hours."""
    match = re.fullmatch(r"Mon-Fri (\d\d):(\d\d)-(\d\d):(\d\d)", hours)
    assert match is not None, hours
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    local = at.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    return local.weekday() < 5 and h0 * 60 + m0 <= minute < h1 * 60 + m1


def test_the_default_instant_has_most_of_the_benchmarks_reps_on_shift(bench: ModuleType) -> None:
    """The benchmark's world (seed 11, 100 reps) at the default instant: a Wednesday
    afternoon in UTC, 81 reps working (the router's usual path), not the off-shift one it
    takes at night or on weekends, when nobody is."""
    from leadpilot.ingest.roster import reps_from_frame
    from leadpilot.policy.availability import is_working
    from leadpilot.synth import generate_world

    at = datetime.fromisoformat(bench.PINNED_AT)
    assert at.weekday() == 2  # Wednesday
    world = generate_world(n_leads=5_000, n_reps=100, n_new_leads=2_000, seed=11)
    frame = world.reps
    expected = [
        _on_shift(tz, hours, at)
        for tz, hours in zip(frame["timezone"], frame["working_hours"], strict=True)
    ]
    reps = reps_from_frame(frame)
    assert [is_working(rep, at) for rep in reps] == expected
    assert sum(expected) == 81
    # what the pin avoids: 04:00 UTC the same day, or the Saturday after at the same hour
    for off in (at.replace(hour=4), at + timedelta(days=3)):
        assert not any(is_working(rep, off) for rep in reps)
