"""Recording a routing decision: the one write path of the decision log.

``record_decision`` makes a decision the lead's live one and applies everything that follows
from it in the caller's routing transaction: the lead's columns (owner, status, queue
place), the previous live decision retired, the decision's timers, the previous owner's
open lead released and the decision's counter effects (``counters.decision_effects``).

A new lead's first decision is folded into as few round trips as the database allows (it
runs under the routing lock, so each round trip is serial time for every replica): on
PostgreSQL one statement of data-modifying CTEs inserts the lead, its decision, its timers
and the counter updates, and returns the decision id; SQLite (in process, no round trips)
runs the same writes one by one. Same rows, same guarantees: the database still checks
keys, the one-live-decision index and the foreign keys, which PostgreSQL checks at the end
of the statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from leadpilot.schema import Decision
from leadpilot.store.counters import (
    apply_effects,
    bumped_keys,
    decision_effects,
    generation_bumps,
    release_open_lead,
)
from leadpilot.store.decisions import StoredDecision, as_logged, decision_row
from leadpilot.store.driver import execute_insert, insert_returning
from leadpilot.store.engine import LockedConn
from leadpilot.store.kpi_rollups import (
    MARK_DIRTY_POSTGRES,
    day_of,
    mark_days,
    mark_lead_duplicates,
)
from leadpilot.store.leads import update_lead
from leadpilot.store.tables import decisions, leads, routing_counters, sla_timers
from leadpilot.store.timers import cancel_timers, timer_row

__all__ = ["DecisionRecord", "TimerStart", "record_decision"]


@dataclass(frozen=True, slots=True)
class TimerStart:
    """A timer a decision starts: ``kind`` is ``sla`` or ``acceptance``."""

    rep_id: str
    kind: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision to record as its lead's live one, with what follows from it.

    ``first``: the lead is new and ``lead_columns`` is its whole ``leads`` row
    (``leads.lead_row``); otherwise ``lead_columns`` are the columns to update.
    ``released_rep``: the previous owner, whose open lead this was (its open count drops).
    """

    decision: Decision
    trigger: str
    lead_columns: Mapping[str, Any]
    first: bool = False
    timers: Sequence[TimerStart] = field(default_factory=tuple)
    released_rep: str | None = None


def record_decision(conn: LockedConn, record: DecisionRecord) -> StoredDecision:
    """Record ``record.decision`` as its lead's live decision, with its effects (see the
    module docstring), in the caller's routing transaction; returns it as logged (what
    ``decisions.live_decision`` reads back: the state-only fields are not kept)."""
    decision = record.decision
    credits, increments = decision_effects(decision)
    if record.first:
        row = decision_row(decision, trigger=record.trigger, seq=1)
        timer_rows = [_timer_row(decision.lead_id, t) for t in record.timers]
        decision_id = _record_first(conn, record.lead_columns, row, timer_rows, credits, increments)
        return StoredDecision(decision_id, 1, True, record.trigger, as_logged(decision), row)
    lead_id = decision.lead_id
    conn.execute(_RETIRE_LIVE, {"live_lead_id": lead_id})
    cancel_timers(conn, lead_id, ("sla", "acceptance"))
    update_lead(conn, lead_id, record.lead_columns)  # marks the lead's day for the rollups
    seq = int(conn.execute(_NEXT_SEQ, {"lead_id": lead_id}).scalar_one())
    row = decision_row(decision, trigger=record.trigger, seq=seq)
    mark_days(conn, [day_of(row["decided_at"])])
    if decision.rep_id is not None:  # it may be the lead's first assignment
        mark_lead_duplicates(conn, lead_id)
    decision_id = int(conn.execute(_INSERT_DECISION, row).scalar_one())
    if record.released_rep:
        release_open_lead(conn, record.released_rep)
    apply_effects(conn, credits, increments)
    if record.timers:
        conn.execute(
            _INSERT_TIMER,
            [{**_timer_row(lead_id, t), "decision_id": decision_id} for t in record.timers],
        )
    return StoredDecision(decision_id, seq, True, record.trigger, as_logged(decision), row)


def _timer_row(lead_id: str, timer: TimerStart) -> dict[str, Any]:
    return timer_row(lead_id=lead_id, rep_id=timer.rep_id, kind=timer.kind, due_at=timer.due_at)


def _bind(prefix: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(f"{prefix}{column.name}", type_=column.type)


def _counter_upsert(prefix: str, *, increment: bool) -> Any:
    """``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE``: many counters in one
    statement of fixed shape (arrays as parameters, so it compiles once)."""
    rc = routing_counters
    rows = (
        sa.func.unnest(
            sa.bindparam(f"{prefix}kind", type_=pg.ARRAY(sa.String)),
            sa.bindparam(f"{prefix}scope", type_=pg.ARRAY(sa.String)),
            sa.bindparam(f"{prefix}key", type_=pg.ARRAY(sa.String)),
            sa.bindparam(f"{prefix}value", type_=pg.ARRAY(sa.Float)),
        )
        .table_valued("kind", "scope", "key", "value")
        .render_derived(name=f"{prefix}rows")
    )
    stmt = pg.insert(rc).from_select(
        ["kind", "scope", "key", "value"],
        sa.select(rows.c.kind, rows.c.scope, rows.c.key, rows.c.value),
    )
    value: Any = (
        sa.func.greatest(rc.c.value + stmt.excluded.value, 0.0)
        if increment
        else stmt.excluded.value
    )
    return stmt.on_conflict_do_update(
        index_elements=[rc.c.kind, rc.c.scope, rc.c.key], set_={"value": value}
    )


def _postgres_record(n_timers: int) -> sa.Select[Any]:
    """The one statement of a new lead with ``n_timers`` timers (PostgreSQL)."""
    lead = leads.insert().values({c.name: _bind("l_", c) for c in leads.c}).cte("new_lead")
    decision = (
        decisions.insert()
        .values({c.name: _bind("d_", c) for c in decisions.c if c.name != "id"})
        .returning(decisions.c.id)
        .cte("new_decision")
    )
    ctes: list[Any] = [lead]
    for i in range(n_timers):
        columns = [c for c in sla_timers.c if c.name not in ("id", "decision_id", "fired_at")]
        ctes.append(
            sla_timers.insert()
            .from_select(
                [c.name for c in columns] + ["decision_id"],
                sa.select(*[_bind(f"t{i}_", c) for c in columns], decision.c.id),
            )
            .cte(f"new_timer_{i}")
        )
    ctes.append(_counter_upsert("credit_", increment=False).cte("credits"))
    ctes.append(_counter_upsert("count_", increment=True).cte("counts"))
    ctes.append(MARK_DIRTY_POSTGRES.cte("kpi_marks"))
    return sa.select(decision.c.id).add_cte(*ctes)


_POSTGRES_RECORD = {n: _postgres_record(n) for n in range(3)}
_INSERT_LEAD = leads.insert()
_INSERT_DECISION = decisions.insert().returning(decisions.c.id)
_INSERT_TIMER = sla_timers.insert()
_NEXT_SEQ = sa.select(sa.func.coalesce(sa.func.max(decisions.c.seq), 0) + 1).where(
    decisions.c.lead_id == sa.bindparam("lead_id")
)
_RETIRE_LIVE = (
    decisions.update()
    .where(decisions.c.lead_id == sa.bindparam("live_lead_id"), decisions.c.live)
    .values(live=False)
)


def _arrays(prefix: str, rows: Sequence[dict[str, object]]) -> dict[str, list[object]]:
    return {
        f"{prefix}{name}": [r[name] for r in rows] for name in ("kind", "scope", "key", "value")
    }


def _record_first(
    conn: LockedConn,
    lead_row: Mapping[str, Any],
    decision_row: dict[str, Any],
    timer_rows: Sequence[dict[str, Any]],
    credits: Sequence[dict[str, object]],
    increments: Sequence[dict[str, object]],
) -> int:
    """Insert a new lead with its first decision and timers, apply the decision's counter
    updates and mark the KPI rollup days they change; returns the decision id."""
    days = sorted({day_of(lead_row["received_at"]), day_of(decision_row["decided_at"])})
    if conn.dialect.name == "postgresql":
        if len(timer_rows) > 2:
            raise ValueError("a decision starts at most two timers (sla, acceptance)")
        params: dict[str, Any] = {f"l_{c.name}": lead_row.get(c.name) for c in leads.c}
        params.update({f"d_{k}": v for k, v in decision_row.items()})
        for i, timer in enumerate(timer_rows):
            params.update({f"t{i}_{k}": v for k, v in timer.items()})
        params.update(_arrays("credit_", credits))
        # the pool generations (counters.POOL_GENERATIONS) move with any counter written
        bumps = generation_bumps(bumped_keys(conn)) if credits or increments else []
        params.update(_arrays("count_", [*increments, *bumps]))
        params["mark_days"] = days
        return int(insert_returning(conn, _POSTGRES_RECORD[len(timer_rows)], params))
    execute_insert(conn, _INSERT_LEAD, lead_row)
    decision_id = int(insert_returning(conn, _INSERT_DECISION, decision_row))
    apply_effects(conn, credits, increments)
    for timer in timer_rows:
        execute_insert(conn, _INSERT_TIMER, {**timer, "decision_id": decision_id})
    mark_days(conn, days)
    return decision_id
