"""The start-up rehearsal of an intake (``RoutingService.rehearse_intake``) leaves nothing:
no row, no counter, no metric, no draw of the service's random numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.service.core import RoutingService
from leadpilot.store.engine import write_transaction
from leadpilot.store.tables import alerts, decisions, leads, reps, routing_counters, sla_timers

from .conftest import build_api, make_reps, migrated_engine

TABLES = (leads, decisions, routing_counters, sla_timers, alerts)


def _route(tmp_path: Path, name: str) -> tuple[list[tuple[str, str | None]], dict[str, int]]:
    """Start an app on a new database, note what start-up left, then take 12 leads."""
    engine = migrated_engine(f"sqlite:///{tmp_path / name}.db")
    api = build_api(engine, make_reps(4))
    with api.client:
        with engine.connect() as conn:
            left = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in TABLES}  # fmt: skip
        metrics = api.client.get("/metrics").text
        left["decision metrics"] = sum(
            1 for line in metrics.splitlines()
            if line.startswith("leadpilot_decisions_total{") and not line.endswith(" 0.0")
        )  # fmt: skip
        routed = []
        for i in range(12):
            body = api.post("/v1/leads", {"lead_id": f"l{i}", "region": "emea"}).json()
            routed.append((body["lead_id"], body["decision"]["rep_id"]))
    engine.dispose()
    return routed, left


def test_the_rehearsal_keeps_nothing_and_changes_no_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rehearsed: list[Any] = []
    intake_on = RoutingService._intake_on

    def spy(self: RoutingService, conn: Any, lead: Any, *args: Any) -> Any:
        found = intake_on(self, conn, lead, *args)
        if lead.lead_id.startswith("leadpilot-rehearsal-"):
            rehearsed.append(found[0])
        return found

    monkeypatch.setattr(RoutingService, "_intake_on", spy)
    with_rehearsal, left = _route(tmp_path, "rehearsed")
    # it ran, and routed its lead as an intake would (so the statements were compiled)
    assert len(rehearsed) == 1
    assert rehearsed[0].decision.decision.rep_id is not None
    assert left["leads"] == left["decisions"] == left["decision metrics"] == 0
    monkeypatch.setattr(RoutingService, "rehearse_intake", lambda self: None)
    without, left_without = _route(tmp_path, "plain")
    assert left == left_without  # (the roster's version counters are start-up's own)
    # the same reps in the same order: no round-robin credit, count or draw was kept
    assert with_rehearsal == without
    assert len({rep for _, rep in without}) == 4


def test_a_rep_skipped_at_start_up_is_still_alerted_by_the_first_intake(tmp_path: Path) -> None:
    # found in review: the rehearsal's rolled-back transaction took the alert with it
    engine = migrated_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    api = build_api(engine, make_reps(4))
    with write_transaction(engine) as conn:
        conn.execute(reps.update().where(reps.c.rep_id == "rep-02").values(timezone="Mars/Olympus"))
    with api.client:  # start-up, with the broken rep stored
        assert api.post("/v1/leads", {"lead_id": "L1"}).status_code == 201
        found = [a for a in api.get("/v1/alerts").json() if a["kind"] == "rep_skipped"]
    assert len(found) == 1, found
    engine.dispose()
