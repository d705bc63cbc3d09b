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

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.schema import Lead
from leadpilot.store.counters import (
    ALL_POOLS,
    GENERATION,
    POOL_GENERATIONS,
    PREFETCH_QUERY,
    Prefetched,
    generation_key,
    prefetch_params,
)
from leadpilot.store.driver import select_rows
from leadpilot.store.leads import DUPLICATE_QUERY, duplicate_params
from leadpilot.store.tables import api_tokens, leads, policies, routing_counters

__all__ = [
    "ACTIVE_POLICY_VERSION",
    "ROSTER_VERSION",
    "CounterCache",
    "IntakeReads",
    "PoolCounterCache",
    "PoolCounters",
    "Row",
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
    counters: Prefetched
    counter_params: dict[str, Any]  # what the counters were read with (prefetch_params)
    generation: float = 0.0  # the counters' generation they are of
    token_live: bool = False  # the token of ``token_hash`` is live (not revoked)
    # PostgreSQL: the pool generations as stored (read with the rest) and, per pool key, the
    # generation ``counters`` are current at (``PoolCounters.generations``); empty on SQLite
    pool_generations: Mapping[str, float] = field(default_factory=dict)
    counters_at: Mapping[str, float] = field(default_factory=dict)


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
_GENERATION = sa.func.coalesce(GENERATION, 0.0)
# tag, three texts, a number: "dup" (lead_id, external_id, email, order), "ver" (policy
# version, -, -, roster version), "gen" (-, -, -, the counters' generation), "tok" (-, -,
# -, 1 when the API token of hash ``token_hash`` is live), or a counter (kind, scope, key,
# value).
_INTAKE_READ_HEAD: list[sa.Select[Any]] = [
    sa.select(
        sa.literal("dup"),
        _dups.c.lead_id,
        _dups.c.external_id,
        _dups.c.email,
        sa.cast(_dups.c.n, sa.Float),
    ),
    _versions,
    sa.select(sa.literal("gen"), _NULL, _NULL, _NULL, sa.cast(_GENERATION, sa.Float)),
    sa.select(sa.literal("tok"), _NULL, _NULL, _NULL, sa.cast(sa.func.count(), sa.Float)).where(
        api_tokens.c.token_hash == sa.bindparam("token_hash", type_=sa.String),
        api_tokens.c.revoked_at.is_(None),
    ),
]
# With the counters: PostgreSQL's every intake (one round trip), SQLite's when it holds none.
_INTAKE_READ = sa.union_all(
    *_INTAKE_READ_HEAD,
    sa.select(_counters.c.kind, _counters.c.scope, _counters.c.key, _NULL, _counters.c.value),
)
# PostgreSQL: the same with the pool generations ("pgen", key, -, -, generation), with the
# counters when this process holds none for the day, without them when it does
# (``PoolCounterCache``; read in a second statement when those turn out stale).
_POOL_GENERATIONS = POOL_GENERATIONS.subquery()
_PGEN = sa.select(
    sa.literal("pgen"), _POOL_GENERATIONS.c.key, _NULL, _NULL, _POOL_GENERATIONS.c.value
)
_POOL_READ = sa.union_all(
    *_INTAKE_READ_HEAD,
    _PGEN,
    sa.select(_counters.c.kind, _counters.c.scope, _counters.c.key, _NULL, _counters.c.value),
)
_POOL_READ_HELD = sa.union_all(*_INTAKE_READ_HEAD, _PGEN)
# Without them: SQLite when this process holds counters (``CounterCache``). Not one query
# with the counters filtered out by their generation: SQLite built the counter rows (the
# window sums grouped) before that filter dropped them, ~0.28 ms of the read's ~0.3 ms; the
# rows are read by a second statement in the same transaction only when the generation moved.
_INTAKE_READ_HELD = sa.union_all(*_INTAKE_READ_HEAD)

Row = tuple[str, str, str, float]


class CounterCache:
    """SQLite: the counters (``PREFETCH_QUERY``'s rows, parsed: ``counters.Prefetched``) an
    intake read, as they stand after this process's last intake committed, with their
    generation (``counters.GENERATION``, bumped by every counter write in any process; none
    on PostgreSQL, see there). Why: re-reading them was about a quarter of an intake's CPU
    on SQLite (some 250 rows for 100 reps, the window sums grouped on every read), and
    rebuilding and re-parsing the rows another ~10% of the server's (py-spy), while between
    two intakes of one process they change only by the first one's own decision. An intake
    that holds counters reads the stored generation without them, and reads the rows (a
    second statement in its transaction) only when the generation differs (another process,
    the worker or an event wrote counters since), and uses those."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: tuple[dict[str, Any], float, Prefetched] | None = None

    def held(self, params: dict[str, Any]) -> tuple[float, Prefetched] | None:
        """The generation and counters held for a read with ``params``, if any."""
        with self._lock:
            held = self._held
        if held is None or held[0] != params:
            return None
        return held[1], held[2]

    def store(self, params: dict[str, Any], generation: float, counters: Prefetched) -> None:
        """Hold ``counters``: what ``PREFETCH_QUERY`` with ``params`` reads at
        ``generation`` (call it once the transaction that wrote them committed)."""
        with self._lock:
            if self._held is None or self._held[1] < generation or self._held[0] != params:
                self._held = (params, generation, counters)

    def clear(self) -> None:
        """Hold nothing (the next intake reads the rows)."""
        with self._lock:
            self._held = None


@dataclass(frozen=True)
class PoolCounters:
    """PostgreSQL: counters (``Prefetched``) this process left after an intake committed,
    what they were read with (``params``, the policy and roster versions) and, per
    generation key (``counters.generation_key`` of a pool key, ``counters.ALL_POOLS``), the
    generation (``counters.POOL_GENERATIONS``) at which that key's counters in them are
    current (a key not listed: 0)."""

    params: dict[str, Any]
    versions: tuple[str | None, int]
    generations: Mapping[str, float]
    counters: Prefetched
    keys: frozenset[str] = frozenset()  # the pool keys of the intake that left them

    def current_for(
        self, keys: frozenset[str], stored: Mapping[str, float], versions: tuple[str | None, int]
    ) -> bool:
        """Whether a decision holding the pool ``keys`` may read these counters, the pool
        generations being ``stored``: every writer of a counter such a decision reads holds
        one of ``keys`` or bumps ``ALL_POOLS`` (``counters.POOL_GENERATIONS``), so none
        wrote since these were current."""
        if versions != self.versions:
            return False
        return all(
            self.generations.get(key, 0.0) == stored.get(key, 0.0)
            for key in (ALL_POOLS, *map(generation_key, keys))
        )


class PoolCounterCache:
    """PostgreSQL: per set of pool keys, the ``PoolCounters`` the last intake holding them
    left in this process. Why: reading the counters (~460 rows for 100 reps) and
    rebuilding the router's arrays from them was ~1.5 ms of an intake's ~5.3 ms of CPU,
    under the pool's lock; between two intakes of one pool in one process they change only
    by the first's decision. Intakes of other pools, replicas, the worker and events write
    them too: the pool generations say when (``PoolCounters.current_for``). Where they are
    mostly stale (replicas sharing a pool), asking for them costs a second read each time,
    so below half of the recent takes found current an intake reads the counters with the
    rest at once, and still checks what it was handed to follow the rate."""

    _MAX_SETS = 64  # key sets come and go with policies; never more than a few pools each

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[frozenset[str], PoolCounters] = {}
        self._current: dict[frozenset[str], float] = {}  # recent share found current

    def take(
        self, params: Mapping[str, Any], keys: frozenset[str]
    ) -> tuple[PoolCounters | None, bool]:
        """The counters held for an intake holding ``keys`` that reads with ``params``, if
        any, handed to it alone (none is held for ``keys`` until an intake stores its own:
        the router's arrays built on them, ``Prefetched.tallies``, are moved in place by
        the intake that reads them), and whether they were recently found current."""
        with self._lock:
            held = self._held.pop(keys, None)
            hopeful = self._current.get(keys, 1.0) >= 0.5
        if held is None or held.params != params:
            return None, hopeful
        return held, hopeful

    def note(self, keys: frozenset[str], current: bool) -> None:
        """Whether the counters taken for ``keys`` were current (a moving average)."""
        with self._lock:
            self._current[keys] = 0.8 * self._current.get(keys, 1.0) + 0.2 * current

    def store(self, held: PoolCounters) -> None:
        """Hold ``held`` for its keys (call it once the transaction that left them
        committed; ``service.pool_turns`` makes sure the next intake of the same keys in
        this process comes after it)."""
        with self._lock:
            if len(self._held) >= self._MAX_SETS:
                self._held.clear()
                self._current.clear()
            self._held[held.keys] = held

    def clear(self) -> None:
        """Hold nothing (the next intakes read the rows)."""
        with self._lock:
            self._held.clear()


@dataclass(frozen=True)
class _Duplicate:
    lead_id: str
    external_id: str | None
    email: str | None


@dataclass
class _Read:
    """The tagged rows of one intake read, sorted out (see ``_INTAKE_READ_HEAD``)."""

    duplicates: list[_Duplicate] = field(default_factory=list)  # earliest first
    counter_rows: list[Row] = field(default_factory=list)
    pool_generations: dict[str, float] = field(default_factory=dict)  # "pgen" rows
    policy_version: str | None = None
    roster_version: int = 0
    generation: float = 0.0
    token_live: bool = False

    @classmethod
    def of(cls, rows: Any, token_hash: str | None) -> _Read:
        read = cls()
        dups: list[tuple[float, _Duplicate]] = []
        for tag, a, b, c, value in rows:
            if tag == "dup":
                dups.append((value, _Duplicate(a, b, c)))
            elif tag == "pgen":
                read.pool_generations[a] = float(value)
            elif tag == "ver":
                read.policy_version, read.roster_version = a, int(value or 0)
            elif tag == "gen":
                read.generation = float(value)
            elif tag == "tok":
                read.token_live = token_hash is not None and value > 0
            else:
                read.counter_rows.append((tag, a, b, value))
        dups.sort(key=lambda pair: pair[0])
        read.duplicates = [d for _, d in dups]
        return read


def read_for_intake(
    conn: sa.Connection,
    lead: Lead,
    now: datetime,
    *,
    window_days: int,
    cache: CounterCache | None = None,
    token_hash: str | None = None,
    pool_cache: PoolCounterCache | None = None,
    pool_keys: frozenset[str] | None = None,
) -> IntakeReads:
    """Everything an intake of ``lead`` at ``now`` reads, in one query (call it holding the
    routing lock). Counters cover the fairness windows of the last ``window_days``; with a
    ``cache`` whose rows are still current they are not sent again (SQLite), nor with a
    ``pool_cache`` holding counters current for the routing-lock ``pool_keys`` the
    transaction holds (PostgreSQL; the pool generations are read then). ``token_hash``: the
    request's API token (``tokens.hash_token``), whose liveness it reads too."""
    if pool_cache is not None and pool_keys:
        return _read_pooled(conn, lead, now, window_days, pool_cache, pool_keys, token_hash)
    counter_params = prefetch_params(now, window_days=window_days)
    held = cache.held(counter_params) if cache is not None else None
    params = {**duplicate_params(lead), "token_hash": token_hash or ""}
    if held is None:
        params.update(counter_params)
    read = _Read.of(
        select_rows(conn, _INTAKE_READ if held is None else _INTAKE_READ_HELD, params), token_hash
    )
    if held is None:
        counters = Prefetched.parse(read.counter_rows, counter_params)
    elif read.generation == held[0]:
        counters = held[1]
    else:  # stale: another path wrote counters since; read them in this transaction
        counters = Prefetched.parse(conn.execute(PREFETCH_QUERY, counter_params), counter_params)
    return IntakeReads(
        duplicates=read.duplicates,
        policy_version=read.policy_version,
        roster_version=read.roster_version,
        counters=counters,
        counter_params=counter_params,
        generation=read.generation,
        token_live=read.token_live,
    )


def _read_pooled(
    conn: sa.Connection,
    lead: Lead,
    now: datetime,
    window_days: int,
    cache: PoolCounterCache,
    keys: frozenset[str],
    token_hash: str | None,
) -> IntakeReads:
    """``read_for_intake`` on PostgreSQL with a ``PoolCounterCache``."""
    counter_params = prefetch_params(now, window_days=window_days)
    held, hopeful = cache.take(counter_params, keys)
    with_counters = held is None or not hopeful
    params = {**duplicate_params(lead), "token_hash": token_hash or ""}
    if with_counters:
        params.update(counter_params)
    read = _Read.of(
        select_rows(conn, _POOL_READ if with_counters else _POOL_READ_HELD, params), token_hash
    )
    stored = read.pool_generations
    current = held is not None and held.current_for(
        keys, stored, (read.policy_version, read.roster_version)
    )
    if held is not None:
        cache.note(keys, current)
    counters_at: Mapping[str, float]
    if held is not None and current:  # (their arrays are built: cheaper than the rows)
        counters, counters_at = held.counters, held.generations
    elif with_counters:  # read with the counters, in the same snapshot as ``stored``
        counters, counters_at = Prefetched.parse(read.counter_rows, counter_params), stored
    else:  # written since: read them in this transaction
        counters = Prefetched.parse(conn.execute(PREFETCH_QUERY, counter_params), counter_params)
        # A later snapshot than ``stored``: the held keys' counters cannot have moved since
        # (the lock), another key's may have, by a write whose bump makes its stored
        # generation differ from ``stored``'s from then on, so claiming ``stored`` is safe.
        counters_at = stored
    return IntakeReads(
        duplicates=read.duplicates,
        policy_version=read.policy_version,
        roster_version=read.roster_version,
        counters=counters,
        counter_params=counter_params,
        token_live=read.token_live,
        pool_generations=stored,
        counters_at=counters_at,
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
