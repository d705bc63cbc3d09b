"""Property test: whatever sequence of intakes, declines, touches, closes and clock jumps,
the router's counters in the database agree with the leads and decisions tables, no rep is
over its daily cap, every lead has exactly one live decision, and no lead sits with a rep
who declined it."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadpilot.errors import LeadpilotError
from leadpilot.service.events import handle_event
from leadpilot.service.schemas import EventCreate, LeadCreate, lead_from_create
from leadpilot.service.worker import run_due
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.tables import decisions, events, leads

from .conftest import build_api, make_reps, migrated_engine

CAP = 3
ops = st.lists(
    st.one_of(
        st.tuples(st.just("lead"), st.integers(0, 30)),
        st.tuples(st.just("decline"), st.integers(0, 30)),
        st.tuples(st.just("touch"), st.integers(0, 30)),
        st.tuples(st.just("close"), st.integers(0, 30)),
        st.tuples(st.just("wait"), st.sampled_from([1, 5, 300, 1440])),
    ),
    min_size=5,
    max_size=40,
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(script=ops)
def test_counters_match_the_tables_after_any_sequence(script: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = migrated_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        api = build_api(engine, make_reps(3, cap=CAP))
        service = api.service
        for n_events, (op, arg) in enumerate(script):
            lead_id = f"L{arg}"
            try:
                if op == "lead":
                    body = LeadCreate(lead_id=lead_id, email=f"p{arg % 7}@x.com")
                    service.intake(lead_from_create(body, api.clock()))
                elif op == "wait":
                    api.clock.advance(minutes=arg)
                    run_due(service)
                else:
                    kind = {"decline": "declined", "touch": "first_touch", "close": "closed_lost"}
                    with engine.connect() as conn:
                        owner = conn.execute(
                            sa.select(leads.c.rep_id).where(leads.c.lead_id == lead_id)
                        ).scalar()
                    handle_event(
                        service,
                        EventCreate(
                            event_id=f"e{n_events}", type=kind[op], lead_id=lead_id, rep_id=owner
                        ),
                    )  # type: ignore[arg-type]
            except LeadpilotError:
                pass  # unknown lead, or a decline of a lead nobody holds: refused, fine
        _check(engine)
        engine.dispose()


def _check(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        lead_rows = conn.execute(sa.select(leads)).all()
        live = conn.execute(sa.select(decisions).where(decisions.c.live)).all()
        assigned = conn.execute(
            sa.select(decisions.c.rep_id, decisions.c.decided_at).where(
                decisions.c.rep_id.is_not(None)
            )
        ).all()
        declined = {
            (r.lead_id, r.rep_id)
            for r in conn.execute(sa.select(events).where(events.c.type == "declined"))
        }
        state = DbRoutingState(conn)
        assert Counter(d.lead_id for d in live) == {r.lead_id: 1 for r in lead_rows}
        live_by_lead = {d.lead_id: d for d in live}
        open_by_rep = Counter(r.rep_id for r in lead_rows if r.status == "routed")
        for r in lead_rows:
            if r.status == "routed":
                assert live_by_lead[r.lead_id].rep_id == r.rep_id
                assert (r.lead_id, r.rep_id) not in declined
        per_day = Counter((rep, at.date()) for rep, at in assigned)
        for rep in ("rep-01", "rep-02", "rep-03"):
            assert state.open_count(rep, live[0].decided_at if live else None) == open_by_rep[rep]  # type: ignore[arg-type]
        for (rep, day), n in per_day.items():
            assert state.daily_count(rep, day) == n
            assert n <= CAP
