"""InMemoryState follows the RoutingState counting conventions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from leadpilot.policy.state import InMemoryState, RoutingState
from leadpilot.schema import Decision

NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def _decision(rep: str | None, *, day: date, pool: str = "p", at: datetime = NOW) -> Decision:
    return Decision(
        lead_id="l",
        rep_id=rep,
        pool=pool,
        lane="standard",
        strategy="round_robin",
        reasons=(),
        decided_at=at,
        rep_local_day=day,
        rotation_update={rep: 3.0} if rep else {},
    )


def test_commit_counts_on_the_rep_local_day_and_in_the_pool_window() -> None:
    state = InMemoryState()
    assert isinstance(state, RoutingState)
    # 23:30 UTC is already the 24th in Berlin: the cap counts on the rep's day.
    state.commit(_decision("a", day=date(2026, 11, 24)))
    state.commit(_decision("a", day=date(2026, 11, 24), at=NOW - timedelta(days=3)))
    state.commit(_decision(None, day=date(2026, 11, 24)))
    assert state.daily_count("a", date(2026, 11, 24)) == 2
    assert state.daily_count("a", date(2026, 11, 23)) == 0
    assert state.open_count("a", NOW) == 2
    assert state.window_counts("p", date(2026, 11, 23)) == {"a": 1}
    assert state.window_counts("p", date(2026, 11, 20)) == {"a": 2}
    assert state.window_counts("other", date(2026, 11, 1)) == {}
    assert state.rotation("p") == {"a": 3.0}
    assert len(state.decisions) == 3


def test_open_leads_expire_after_the_ttl_or_on_release() -> None:
    state = InMemoryState(open_lead_ttl=timedelta(hours=24))
    state.commit(_decision("a", day=NOW.date(), at=NOW - timedelta(hours=30)))
    state.commit(_decision("a", day=NOW.date(), at=NOW - timedelta(hours=1)))
    assert state.open_count("a", NOW) == 1
    state.release("a")
    assert state.open_count("a", NOW) == 0
    state.release("a")  # nothing open: no negative counts
    assert state.open_count("a", NOW) == 0
