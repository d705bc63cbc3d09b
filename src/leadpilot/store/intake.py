"""The statements of one lead intake, folded into as few round trips as the database allows.

An intake holds the routing lock from its first read to its commit, so on PostgreSQL each
round trip inside it is serial time for every replica (and, on a loaded machine, one more
wait for the CPU). Instead of a statement per read and per write:

- ``read_for_intake``: one query (``UNION ALL`` of tagged rows) brings the duplicate
  candidates, the active policy and roster versions and the router's counters, on both
  back ends;
- ``record_new_lead``: on PostgreSQL one statement of data-modifying CTEs inserts the lead,
  its decision, its timers and the counter updates, and returns the decision id; SQLite
  (in process, no round trips) runs the same writes one by one.

Same rows, same transaction, same lock as the one-statement-each path, so every guarantee
holds as before (the database still checks keys, the one-live-decision index and the
foreign keys, which PostgreSQL checks at the end of the statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from leadpilot.schema import Lead
from leadpilot.store.counters import PREFETCH_QUERY, prefetch_params, upsert_counters
from leadpilot.store.leads import DUPLICATE_QUERY, duplicate_params
from leadpilot.store.tables import decisions, leads, policies, routing_counters, sla_timers

__all__ = [
    "ACTIVE_POLICY_VERSION",
    "ROSTER_VERSION",
    "IntakeReads",
    "read_for_intake",
    "record_new_lead",
]


@dataclass(frozen=True)
class IntakeReads:
    """What an intake reads under the routing lock."""

    duplicates: list[Any]  # rows with lead_id, external_id, email; earliest first
    policy_version: str | None
    roster_version: int
    counter_rows: list[tuple[str, str, str, float]]
    counter_params: dict[str, Any]  # what the counter rows were read with (prefetch_params)


_NULL = sa.cast(sa.null(), sa.String)
_dups = DUPLICATE_QUERY.add_columns(
    sa.func.row_number().over(order_by=leads.c.received_at).label("n")
).subquery()
# The active policy's version and the roster version (bumped on every roster change), as
# scalar subqueries: the intake read and the service's snapshot read both use them.
ACTIVE_POLICY_VERSION = sa.select(policies.c.version).where(policies.c.active).scalar_subquery()
ROSTER_VERSION = (
    sa.select(routing_counters.c.value)
    .where(
        routing_counters.c.kind == "meta",
        routing_counters.c.scope == "",
        routing_counters.c.key == "roster",
    )
    .scalar_subquery()
)
_versions = sa.select(
    sa.literal("ver"), ACTIVE_POLICY_VERSION, _NULL, _NULL, sa.cast(ROSTER_VERSION, sa.Float)
)
_counters = PREFETCH_QUERY.subquery()
# tag, three texts, a number: "dup" (lead_id, external_id, email, order), "ver" (policy
# version, -, -, roster version), or a counter (kind, scope, key, value).
_INTAKE_READ = sa.union_all(
    sa.select(
        sa.literal("dup"),
        _dups.c.lead_id,
        _dups.c.external_id,
        _dups.c.email,
        sa.cast(_dups.c.n, sa.Float),
    ),
    _versions,
    sa.select(_counters.c.kind, _counters.c.scope, _counters.c.key, _NULL, _counters.c.value),
)


@dataclass(frozen=True)
class _Duplicate:
    lead_id: str
    external_id: str | None
    email: str | None


def read_for_intake(
    conn: sa.Connection, lead: Lead, now: datetime, *, window_days: int
) -> IntakeReads:
    """Everything an intake of ``lead`` at ``now`` reads, in one query (call it holding the
    routing lock). Counters cover the fairness windows of the last ``window_days``."""
    counter_params = prefetch_params(now, window_days=window_days)
    rows = conn.execute(_INTAKE_READ, {**duplicate_params(lead), **counter_params}).all()
    dups: list[tuple[float, _Duplicate]] = []
    counters: list[tuple[str, str, str, float]] = []
    policy_version: str | None = None
    roster_version = 0
    for tag, a, b, c, value in rows:
        if tag == "dup":
            dups.append((value, _Duplicate(a, b, c)))
        elif tag == "ver":
            policy_version, roster_version = a, int(value or 0)
        else:
            counters.append((tag, a, b, value))
    dups.sort(key=lambda pair: pair[0])
    return IntakeReads(
        duplicates=[d for _, d in dups],
        policy_version=policy_version,
        roster_version=roster_version,
        counter_rows=counters,
        counter_params=counter_params,
    )


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
    return sa.select(decision.c.id).add_cte(*ctes)


_POSTGRES_RECORD = {n: _postgres_record(n) for n in range(3)}
_INSERT_LEAD = leads.insert()
_INSERT_DECISION = decisions.insert().returning(decisions.c.id)
_INSERT_TIMER = sla_timers.insert()


def _arrays(prefix: str, rows: Sequence[dict[str, object]]) -> dict[str, list[object]]:
    return {
        f"{prefix}{name}": [r[name] for r in rows] for name in ("kind", "scope", "key", "value")
    }


def record_new_lead(
    conn: sa.Connection,
    *,
    lead_row: dict[str, Any],
    decision_row: dict[str, Any],
    timer_rows: Sequence[dict[str, Any]],
    credits: Sequence[dict[str, object]],
    increments: Sequence[dict[str, object]],
) -> int:
    """Insert a new lead with its first decision and timers (``timers.timer_row``, their
    ``decision_id`` filled in here) and apply the decision's counter updates
    (``counters.decision_effects``); returns the decision id."""
    if conn.dialect.name == "postgresql":
        if len(timer_rows) > 2:
            raise ValueError("a decision starts at most two timers (sla, acceptance)")
        params: dict[str, Any] = {f"l_{c.name}": lead_row.get(c.name) for c in leads.c}
        params.update({f"d_{k}": v for k, v in decision_row.items()})
        for i, timer in enumerate(timer_rows):
            params.update({f"t{i}_{k}": v for k, v in timer.items()})
        params.update(_arrays("credit_", credits))
        params.update(_arrays("count_", increments))
        return int(conn.execute(_POSTGRES_RECORD[len(timer_rows)], params).scalar_one())
    conn.execute(_INSERT_LEAD, lead_row)
    decision_id = int(conn.execute(_INSERT_DECISION, decision_row).scalar_one())
    upsert_counters(conn, credits, increment=False)
    upsert_counters(conn, increments, increment=True)
    for timer in timer_rows:
        conn.execute(_INSERT_TIMER, {**timer, "decision_id": decision_id})
    return decision_id
