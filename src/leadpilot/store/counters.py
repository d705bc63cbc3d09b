"""The router's state in the database: ``DbRoutingState`` implements
``leadpilot.policy.RoutingState`` on the ``routing_counters`` table.

Reads are batched (one query per kind, cached for the transaction) because the router asks
for many reps at once; ``commit`` writes in the caller's transaction, which holds the routing
lock, so a read-then-insert of a new counter cannot race and N replicas never over-assign.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadpilot.policy.availability import local_day
from leadpilot.policy.state import segment_scope
from leadpilot.policy.tally import Tally
from leadpilot.schema import Decision, Rep
from leadpilot.store.driver import execute_insert
from leadpilot.store.engine import LockedConn, exclude_routing, locked, pool_keys_held
from leadpilot.store.tables import routing_counters as rc

__all__ = [
    "ALL_POOLS",
    "GENERATION",
    "GENERATION_KEY",
    "POOL_GENERATIONS",
    "PREFETCH_QUERY",
    "DbRoutingState",
    "Prefetched",
    "apply_effects",
    "bump_generations",
    "bump_roster_version",
    "bumped_keys",
    "decision_effects",
    "generation_bumps",
    "generation_key",
    "generation_writes",
    "prefetch_params",
    "probe_write",
    "release_open_lead",
    "rep_load",
    "roster_version",
    "upsert_counters",
    "with_generation",
]


def _upsert_statement(dialect: str, *, increment: bool) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE`` for one counter row, built once per dialect (the
    hot path reuses it with executemany). Dialect-specific because SQLAlchemy exposes
    ``ON CONFLICT`` only through the dialect ``insert`` constructs."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(rc)
    value: sa.ColumnElement[Any]
    if increment:
        floor = sa.func.greatest if dialect == "postgresql" else sa.func.max
        value = floor(rc.c.value + stmt.excluded.value, 0.0)
    else:
        value = stmt.excluded.value
    return stmt.on_conflict_do_update(
        index_elements=[rc.c.kind, rc.c.scope, rc.c.key], set_={"value": value}
    )


_UPSERTS = {
    (dialect, increment): _upsert_statement(dialect, increment=increment)
    for dialect in ("postgresql", "sqlite")
    for increment in (True, False)
}
# Window counters are stored per UTC day ("YYYY-MM-DD|rep"); a decision needs only each rep's
# total since the window's first day, so the database sums them: one row per (pool, rep)
# instead of one per (pool, day, rep), ~30x fewer rows to send and parse under the lock.
_WINDOW_REP = sa.func.substr(rc.c.key, 12)  # after "YYYY-MM-DD|" (SQL substr is 1-based)
PREFETCH_QUERY = sa.union_all(
    sa.select(rc.c.kind, rc.c.scope, rc.c.key, rc.c.value).where(
        sa.or_(
            # plain parameters, not an expanding one (what a list of values gives):
            # SQLAlchemy re-renders an expanding IN on every execution (~2% of an intake's
            # CPU, py-spy), and store.driver sends only statements without one
            rc.c.kind.in_([sa.literal("open", sa.String), sa.literal("rr", sa.String)]),
            sa.and_(
                rc.c.kind == "day",
                rc.c.scope.in_([sa.bindparam(f"day_{k}", type_=sa.String) for k in range(3)]),
            ),
        )
    ),
    sa.select(
        sa.literal("winsum"), rc.c.scope, _WINDOW_REP, sa.cast(sa.func.sum(rc.c.value), sa.Float)
    )
    .where(rc.c.kind == "win", rc.c.key >= sa.bindparam("since"))
    .group_by(rc.c.scope, _WINDOW_REP),
)


def prefetch_params(now: datetime, *, window_days: int) -> dict[str, Any]:
    """The parameters of ``PREFETCH_QUERY`` for a decision at ``now``: the UTC days around
    it and the first UTC day of a ``window_days`` fairness window ending on ``now``'s day
    (the router's ``since``)."""
    today = now.astimezone(UTC).date()
    days = [today + timedelta(days=k) for k in (-1, 0, 1)]
    since = today - timedelta(days=window_days - 1)
    names = [d.isoformat() for d in days]
    return {
        "days": names,
        **{f"day_{k}": name for k, name in enumerate(names)},
        "since": since.isoformat(),
    }


_SCOPE_QUERY = sa.select(rc.c.key, rc.c.value).where(
    rc.c.kind == sa.bindparam("kind"), rc.c.scope == sa.bindparam("scope")
)


# SQLite: bumped by every write of routing counters, in the same statement, so a process
# that holds the counter rows as of generation g may use them while the stored generation is
# still g (``store.intake.CounterCache``). Not one of the rows PREFETCH_QUERY reads. Not on
# PostgreSQL: intakes of different pools run side by side there (per-pool locks), and one
# row every counter write updates would queue their commits one behind the other.
GENERATION_KEY = ("meta", "", "counters")
_BUMP: dict[str, object] = dict(
    zip(("kind", "scope", "key", "value"), (*GENERATION_KEY, 1.0), strict=True)
)
GENERATION = (
    sa.select(rc.c.value)
    .where(
        rc.c.kind == GENERATION_KEY[0],
        rc.c.scope == GENERATION_KEY[1],
        rc.c.key == GENERATION_KEY[2],
    )
    .scalar_subquery()
)


# PostgreSQL: a generation per routing-lock pool key (kind "meta", scope "gen", key
# ``generation_key(pool)``), bumped by every counter write of a transaction that holds that
# key, and one for ALL_POOLS, bumped by every counter write that holds no pool key (the
# exclusive form: the worker, events, roster changes; an intake's fallback owner, assigned
# outside its keys: ``policy.lock_scope``) and by every policy activation (which pools guard
# a rep's counters follows the policy, and a rolled-back policy's version comes back). Why per
# key: a row every write bumped would queue the commits of intakes of different pools one
# behind the other (see GENERATION); a pool's row is only written under that pool's key,
# which serialises those writes anyway. What it buys: every writer of a rep's counters holds
# all of the rep's pool keys or bumps ALL_POOLS, so an intake holding keys K may use counters
# its process holds while the stored generations of K and of ALL_POOLS are those it holds
# them at (``store.intake.PoolCounterCache``), instead of reading ~460 rows for 100 reps.
# Every replica must run code that bumps them: see the README's upgrade note.
POOL_GENERATION_SCOPE = "gen"
ALL_POOLS = "all"  # pool keys are stored as "pool:<key>", so no pool key can be it
POOL_GENERATIONS = sa.select(rc.c.key, rc.c.value).where(
    rc.c.kind == "meta", rc.c.scope == POOL_GENERATION_SCOPE
)


def generation_key(pool_key: str) -> str:
    """The generation row's key of the routing-lock pool key ``pool_key``."""
    return f"pool:{pool_key}"


def generation_bumps(keys: Iterable[str]) -> list[dict[str, object]]:
    """The increments that bump the generations of ``keys`` (``generation_key``s or
    ``ALL_POOLS``; PostgreSQL)."""
    return [
        {"kind": "meta", "scope": POOL_GENERATION_SCOPE, "key": key, "value": 1.0}
        for key in sorted(keys)
    ]


_BUMPS = "leadpilot_generation_bumps"  # conn.info: (transaction, bumps written in it)


def bumped_keys(conn: sa.Connection) -> frozenset[str]:
    """The generations a counter write in ``conn``'s transaction bumps (PostgreSQL): those
    of the pool keys it holds, or ``ALL_POOLS`` when it holds none. Call it once per bump
    written: ``generation_writes`` counts them."""
    held = pool_keys_held(conn)
    _note_bump(conn)
    return frozenset(map(generation_key, held)) if held else frozenset({ALL_POOLS})


def bump_generations(conn: LockedConn, keys: Iterable[str]) -> None:
    """Bump the generations of ``keys`` (``generation_key``s or ``ALL_POOLS``; PostgreSQL):
    a counter write outside the keys the transaction holds (an intake's fallback owner) and
    a policy activation bump ``ALL_POOLS``."""
    _note_bump(conn)
    conn.execute(_UPSERTS[(conn.dialect.name, True)], generation_bumps(keys))


def _note_bump(conn: sa.Connection) -> None:
    transaction = conn.get_transaction()
    noted = conn.info.get(_BUMPS)
    count = noted[1] + 1 if noted is not None and noted[0] is transaction else 1
    conn.info[_BUMPS] = (transaction, count)


def generation_writes(conn: sa.Connection) -> int:
    """How many statements of ``conn``'s transaction bumped pool generations: an intake
    that knows its one bump moved each held key by exactly 1 checks it is 1."""
    noted = conn.info.get(_BUMPS)
    return int(noted[1]) if noted is not None and noted[0] is conn.get_transaction() else 0


def _counts_change(rows: Sequence[dict[str, object]]) -> bool:
    # "meta" rows (the roster version, the readiness probe, generations) are not counters
    # a decision reads
    return any(row["kind"] != "meta" for row in rows)


def with_generation(increments: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """``increments`` plus the bump of the counters' generation (SQLite, see
    ``GENERATION_KEY``)."""
    return [*increments, _BUMP]


def upsert_counters(
    conn: LockedConn, rows: Sequence[dict[str, object]], *, increment: bool
) -> None:
    """Add to (``increment``, never below 0) or set many routing counters in one round
    trip (on SQLite their generation is bumped too)."""
    _upsert(conn, rows, increment=increment)


def apply_effects(
    conn: LockedConn, credits: Sequence[dict[str, object]], increments: Sequence[dict[str, object]]
) -> None:
    """Write a decision's counter effects (``decision_effects``): set the ``credits``, add
    the ``increments`` (on SQLite the generation bumped once, with them): two statements."""
    if credits:
        execute_insert(conn, _UPSERTS[(conn.dialect.name, False)], list(credits))
        if conn.dialect.name != "sqlite" and not _counts_change(increments):
            conn.execute(_UPSERTS[(conn.dialect.name, True)], generation_bumps(bumped_keys(conn)))
    _upsert(conn, increments, increment=True)


def release_open_lead(conn: LockedConn, rep_id: str) -> None:
    """One of the rep's open leads closed or moved to someone else."""
    _add(conn, "open", "", rep_id, -1)


def _upsert(conn: sa.Connection, rows: Sequence[dict[str, object]], *, increment: bool) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect != "sqlite":
        bumps = generation_bumps(bumped_keys(conn)) if _counts_change(rows) else []
        if increment:
            conn.execute(_UPSERTS[(dialect, True)], [*rows, *bumps])
            return
        conn.execute(_UPSERTS[(dialect, False)], list(rows))
        if bumps:
            conn.execute(_UPSERTS[(dialect, True)], bumps)
    elif increment:
        execute_insert(conn, _UPSERTS[(dialect, True)], with_generation(rows))
    else:
        execute_insert(conn, _UPSERTS[(dialect, False)], list(rows))
        execute_insert(conn, _UPSERTS[(dialect, True)], [_BUMP])


def _add(conn: sa.Connection, kind: str, scope: str, key: str, delta: float) -> None:
    """Add ``delta`` to a counter (created when missing); counters never go below 0."""
    _upsert(
        conn, [{"kind": kind, "scope": scope, "key": key, "value": float(delta)}], increment=True
    )


@dataclass(frozen=True, eq=True)
class Prefetched:
    """``PREFETCH_QUERY``'s rows read with ``prefetch_params``, parsed as the router asks
    for them (``DbRoutingState.adopt``): open counts, round-robin credits per pool, the daily
    counts of the days around the decision and each rep's fairness-window total per pool
    since ``since`` (a zero total is left out, as none). Never changed once built: the
    ``after`` of a write is a new one sharing the dicts it leaves alone.

    ``tallies``: per roster (the router's ids tuple), these counts as arrays
    (``policy.tally.Tally``, see ``DbRoutingState.tally``), built on first use and carried
    to ``after``'s counters moved by the decision, so an intake reads them with numpy
    instead of a call per rep, as the in-process router does; not part of equality."""

    open: dict[str, int]
    rotations: dict[str, dict[str, float]]
    days: dict[date, dict[str, int]]
    window_sums: dict[str, dict[str, int]]
    since: date
    tallies: dict[int, tuple[_TallyReads, Tally]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def parse(cls, rows: Iterable[Any], params: Mapping[str, Any]) -> Prefetched:
        """The rows of ``PREFETCH_QUERY`` run with ``params``, parsed."""
        days: dict[date, dict[str, int]] = {date.fromisoformat(d): {} for d in params["days"]}
        open_: dict[str, int] = {}
        rotations: dict[str, dict[str, float]] = {}
        sums: dict[str, dict[str, int]] = {}
        for kind, scope, key, value in rows:
            if kind == "open":
                open_[key] = int(value)
            elif kind == "rr":
                rotations.setdefault(scope, {})[key] = float(value)
            elif kind == "day":
                days[date.fromisoformat(scope)][key] = int(value)
            elif kind == "winsum" and value:
                sums.setdefault(scope, {})[key] = int(value)
        return cls(open_, rotations, days, sums, date.fromisoformat(params["since"]))

    def after(
        self, credits: Sequence[dict[str, object]], increments: Sequence[dict[str, object]]
    ) -> Prefetched | None:
        """These counters once ``credits`` are set and ``increments`` added (a decision's
        ``decision_effects``), as a fresh read would parse them: the same arithmetic as
        ``_upsert``'s statements and the window sums. ``None`` when a negative increment
        makes it unknowable here (a missing row takes the delta, a stored 0 stays 0, and
        a parse cannot tell them apart): read them again then."""
        rotations = dict(self.rotations)
        for row in credits:
            if row["kind"] != "rr":
                return None
            scope = str(row["scope"])
            rotations[scope] = {**rotations.get(scope, {}), str(row["key"]): float(row["value"])}  # type: ignore[arg-type]
        open_, days, sums = self.open, dict(self.days), dict(self.window_sums)
        fresh: set[object] = set()  # the dicts copied already (the old ones stay as they are)

        def own(table: dict[Any, Any], name: Any) -> dict[str, Any]:
            if name not in fresh:
                fresh.add(name)
                table[name] = dict(table.get(name, {}))
            return table[name]

        for row in increments:
            kind, scope, key = str(row["kind"]), str(row["scope"]), str(row["key"])
            delta = float(row["value"])  # type: ignore[arg-type]
            if delta < 0 or kind == "rr":  # never a decision's (credits are set, not added)
                return None
            if kind == "open":
                if "open" not in fresh:
                    fresh.add("open")
                    open_ = dict(open_)
                open_[key] = int(open_.get(key, 0) + delta)
            elif kind == "day" and date.fromisoformat(scope) in days:
                counts = own(days, date.fromisoformat(scope))
                counts[key] = int(counts.get(key, 0) + delta)
            elif kind == "win":
                day_text, _, rep = key.partition("|")
                if date.fromisoformat(day_text) >= self.since:
                    totals = own(sums, scope)
                    total = int(totals.get(rep, 0) + delta)
                    if total:
                        totals[rep] = total
        return Prefetched(
            open_, rotations, days, sums, self.since, _moved_tallies(self.tallies, increments)
        )

    def tally(self, ids: tuple[str, ...], state: DbRoutingState) -> Tally:
        """These counts of the reps ``ids`` as a ``Tally``, reading what it has not built yet
        (a day or window first asked for) through ``state``, which adopted them."""
        found = self.tallies.get(id(ids))
        if found is None or found[1].ids is not ids:
            if len(self.tallies) >= 4:  # rosters come and go with roster versions
                self.tallies.clear()
            reads = _TallyReads(state)
            found = self.tallies[id(ids)] = (
                reads,
                Tally(ids, reads.daily_count, reads.window_counts, reads.open_count),
            )
        found[0].state = state
        return found[1]


class _TallyReads:
    """A tally's reads, through the state of the transaction that asked for it last."""

    def __init__(self, state: DbRoutingState) -> None:
        self.state = state

    def daily_count(self, rep_id: str, day: date) -> int:
        return self.state.daily_count(rep_id, day)

    def window_counts(self, scope: str, since: date) -> Mapping[str, int]:
        return self.state.window_counts(scope, since)

    def open_count(self, rep_id: str) -> int:
        return self.state.open_count(rep_id, datetime.min)


def _moved_tallies(
    tallies: dict[int, tuple[_TallyReads, Tally]], increments: Sequence[dict[str, object]]
) -> dict[int, tuple[_TallyReads, Tally]]:
    """``tallies`` moved by a decision's ``increments`` (``decision_effects``: +1 on one
    rep's day and open leads, and on its pool's window and segment scope on the UTC date
    decided), each a copy (``Tally.add``, as the in-process state moves its own); none
    (built afresh when asked) for increments of any other shape."""
    if not tallies:
        return {}
    reps: set[str] = set()
    days: list[date] = []
    decided: set[date] = set()
    scopes: list[str] = []
    opened = 0
    for row in increments:
        kind, scope, key = row["kind"], str(row["scope"]), str(row["key"])
        if row["value"] != 1.0:
            return {}
        if kind == "open":
            opened += 1
            reps.add(key)
        elif kind == "day":
            days.append(date.fromisoformat(scope))
            reps.add(key)
        elif kind == "win":
            day_text, _, rep = key.partition("|")
            decided.add(date.fromisoformat(day_text))
            scopes.append(scope)
            reps.add(rep)
        else:
            return {}
    if opened != 1 or len(days) != 1 or len(reps) != 1 or len(decided) > 1:
        return {}
    (rep,) = reps
    on = next(iter(decided)) if decided else date.min  # no pool: no window moves
    moved = {}
    for key_id, (reads, tally) in tallies.items():
        copy = tally.copy()
        copy.add(rep, days[0], tuple(scopes), on)
        moved[key_id] = (reads, copy)
    return moved


class DbRoutingState:
    """``RoutingState`` backed by ``routing_counters`` on one connection (one transaction).

    Reads work on any connection; ``commit`` and ``release`` write, and raise
    ``RuntimeError`` unless the connection is in ``engine.routing_transaction`` (a run-time
    check: the connection is held, not passed, so the type checker cannot see it)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._days: dict[date, dict[str, int]] = {}
        self._open: dict[str, int] | None = None
        self._windows: dict[str, list[tuple[date, str, int]]] = {}
        self._rotations: dict[str, dict[str, float]] = {}
        self._all_rotations = False
        # Per pool, each rep's window total since ``_window_since`` (from a prefetch).
        self._window_sums: dict[str, dict[str, int]] = {}
        self._window_since: date | None = None
        self._prefetched: Prefetched | None = None  # adopted, and nothing written since

    def prefetch(self, now: datetime, *, window_days: int = 28) -> None:
        """Read everything a decision at ``now`` is likely to ask for in one round trip:
        open counts, rotation credits, the days around ``now`` (any timezone's local day is
        within one day of UTC) and each rep's total in the ``window_days`` fairness window
        ending on ``now``'s UTC day (other windows are read when asked for)."""
        params = prefetch_params(now, window_days=window_days)
        self.load_prefetched(self.conn.execute(PREFETCH_QUERY, params).all(), params)

    def load_prefetched(self, rows: Iterable[Any], params: Mapping[str, Any]) -> None:
        """Take the rows of ``PREFETCH_QUERY`` run with ``params`` (``prefetch_params``)
        as this transaction's reads, e.g. when they came back with other reads."""
        self.adopt(Prefetched.parse(rows, params))

    def adopt(self, counters: Prefetched) -> None:
        """Take ``counters`` (``PREFETCH_QUERY``'s rows, parsed) as this transaction's
        reads. They are shared, not copied: this object never changes their inner dicts
        (a write or ``invalidate`` rebinds its own)."""
        self._days = dict(counters.days)
        self._open = counters.open
        self._rotations = dict(counters.rotations)
        self._windows = {}
        self._window_sums = dict(counters.window_sums)
        self._all_rotations = True
        self._window_since = counters.since
        self._prefetched = counters

    def tally(self, ids: tuple[str, ...]) -> Tally | None:
        """The counts of the reps ``ids`` as arrays (``policy.tally.Tally``, what the router
        reads instead of a call per rep), kept with the adopted counters (``Prefetched``);
        ``None`` when none were adopted or something was written since."""
        counters = self._prefetched
        return counters.tally(ids, self) if counters is not None else None

    def _scope(self, kind: str, scope: str) -> list[tuple[str, float]]:
        rows = self.conn.execute(_SCOPE_QUERY, {"kind": kind, "scope": scope})
        return [(k, float(v)) for k, v in rows]

    def daily_count(self, rep_id: str, day: date) -> int:
        """Leads assigned to ``rep_id`` on its local calendar ``day``."""
        if day not in self._days:
            self._days[day] = {k: int(v) for k, v in self._scope("day", day.isoformat())}
        return self._days[day].get(rep_id, 0)

    def open_count(self, rep_id: str, now: datetime) -> int:
        """Leads assigned to ``rep_id`` and not yet closed or moved away."""
        del now  # open leads are released by events, not by time
        if self._open is None:
            self._open = {k: int(v) for k, v in self._scope("open", "")}
        return self._open.get(rep_id, 0)

    def window_counts(self, pool: str, since_day: date) -> Mapping[str, int]:
        """Per rep, leads assigned through ``pool`` on UTC dates from ``since_day``."""
        if since_day == self._window_since:
            return self._window_sums.get(pool, {})
        if pool not in self._windows:
            entries = []
            for key, value in self._scope("win", pool):
                day_text, rep_id = key.split("|", 1)
                entries.append((date.fromisoformat(day_text), rep_id, int(value)))
            self._windows[pool] = entries
        total: Counter[str] = Counter()
        for day, rep_id, n in self._windows[pool]:
            if day >= since_day and n:
                total[rep_id] += n
        return total

    def rotation(self, pool: str) -> Mapping[str, float]:
        """The pool's round-robin credits."""
        if pool not in self._rotations and not self._all_rotations:
            self._rotations[pool] = dict(self._scope("rr", pool))
        return self._rotations.get(pool, {})

    def commit(self, decision: Decision) -> None:
        """Apply a decision's effects (see ``RoutingState.commit``) in this transaction."""
        conn = locked(self.conn)
        apply_effects(conn, *decision_effects(decision))
        self.invalidate()

    def release(self, rep_id: str) -> None:
        """One of the rep's open leads closed or moved to someone else."""
        release_open_lead(locked(self.conn), rep_id)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget cached reads (after a write)."""
        # Rebound, not cleared: they may be a ``Prefetched``'s, which other intakes share.
        self._days = {}
        self._open = None
        self._windows = {}
        self._rotations = {}
        self._all_rotations = False
        self._window_sums = {}
        self._window_since = None
        self._prefetched = None


def decision_effects(
    decision: Decision,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The counter rows a decision writes: ``(credits, increments)``, the round-robin credits
    to set and the counts to add 1 to (day, open, fairness window). Empty without a rep."""
    rep = decision.rep_id
    if rep is None:
        return [], []
    day = decision.rep_local_day or decision.decided_at.date()
    increments: list[dict[str, object]] = [
        {"kind": "day", "scope": day.isoformat(), "key": rep, "value": 1.0},
        {"kind": "open", "scope": "", "key": rep, "value": 1.0},
    ]
    credits: list[dict[str, object]] = []
    if decision.pool is not None:
        key = f"{decision.decided_at.date()}|{rep}"
        increments.append({"kind": "win", "scope": decision.pool, "key": key, "value": 1.0})
        if decision.segment is not None:  # development shares counted on segments
            scope = segment_scope(decision.pool, decision.segment)
            increments.append({"kind": "win", "scope": scope, "key": key, "value": 1.0})
        credits = [
            {"kind": "rr", "scope": decision.pool, "key": rep_id, "value": float(credit)}
            for rep_id, credit in decision.rotation_update.items()
        ]
    return credits, increments


def rep_load(conn: sa.Connection, rep: Rep, now: datetime) -> tuple[int, int]:
    """A rep's open leads and leads assigned on its current local day."""
    state = DbRoutingState(conn)
    return state.open_count(rep.rep_id, now), state.daily_count(rep.rep_id, local_day(rep, now))


def bump_roster_version(conn: sa.Connection) -> None:
    """Note that reps or their availability changed (processes reload their roster)."""
    # A cache key, not a count the router decides by: roster writes (reps, out of office)
    # may run in a plain write transaction. They exclude routing until they commit: a rep's
    # pools decide which pool locks guard its counters (see policy.lock_scope).
    exclude_routing(conn)
    _add(conn, "meta", "", "roster", 1)


def roster_version(conn: sa.Connection) -> int:
    """How many times the roster changed (cache key of the in-process roster)."""
    value = conn.execute(
        sa.select(rc.c.value).where(rc.c.kind == "meta", rc.c.scope == "", rc.c.key == "roster")
    ).scalar()
    return int(value or 0)


def probe_write(conn: sa.Connection) -> None:
    """A harmless write (a counter no decision reads): readiness checks that it commits."""
    _add(conn, "meta", "", "ready_probe", 1)
