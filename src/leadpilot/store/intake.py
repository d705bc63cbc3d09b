"""The statements of one lead intake, folded into as few round trips as the database allows.

An intake holds the routing lock from its first read to its commit, so on PostgreSQL each
round trip inside it is serial time for every replica (and, on a loaded machine, one more
wait for the CPU). Instead of a statement per read and per write:

- ``read_for_intake``: one query (``UNION ALL`` of tagged rows) brings the duplicate
  candidates, the active policy and roster versions and the router's counters, on both
  back ends;
- ``store.record.record_decision`` of a new lead: on PostgreSQL one statement of
  data-modifying CTEs inserts the lead, its decision, its timers and the counter updates,
  and returns the decision id; SQLite (in process, no round trips) runs the same writes one
  by one.

Same rows, same transaction, same lock as the one-statement-each path, so every guarantee
holds as before (the database still checks keys, the one-live-decision index and the
foreign keys, which PostgreSQL checks at the end of the statement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.schema import Lead
from leadpilot.store.counters import PREFETCH_QUERY, prefetch_params
from leadpilot.store.leads import DUPLICATE_QUERY, duplicate_params
from leadpilot.store.tables import leads, policies, routing_counters

__all__ = [
    "ACTIVE_POLICY_VERSION",
    "ROSTER_VERSION",
    "IntakeReads",
    "intake_identities",
    "read_for_intake",
    "routing_versions",
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


def intake_identities(lead: Lead, idempotency_key: str | None) -> frozenset[str]:
    """The identities an intake of ``lead`` locks besides its pools
    (``engine.RoutingLocks``): every value the duplicate check matches on, and the
    Idempotency-Key. Two intakes that could find each other as duplicates, or that replay
    one request, then share a key and run one after the other, even when they reach
    different pools."""
    names = {f"{name}:{value}" for name, value in duplicate_params(lead).items() if value}
    if idempotency_key:
        names.add(f"idempotency_key:{idempotency_key}")
    return frozenset(names)


# The active policy's version and the roster version, in one round trip (built once).
_VERSIONS_QUERY = sa.select(ACTIVE_POLICY_VERSION, ROSTER_VERSION)


def routing_versions(conn: sa.Connection) -> tuple[str | None, int]:
    """The active policy's version (``None``: the default policy) and the roster version."""
    version, roster = conn.execute(_VERSIONS_QUERY).one()
    return version, int(roster or 0)
