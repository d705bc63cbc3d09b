"""The intake's statements sent as driver SQL, bound by SQLAlchemy's own processors.

Why: each ``conn.execute`` of a compiled statement builds its parameters through
SQLAlchemy's execution context (``construct_params``, a processor call per column, the
compiled-cache look-up, result set-up); for the five or six writes of a new lead that was
about a fifth of an intake's CPU on SQLite (py-spy). A statement is compiled once per
column set, keeping its SQL and the same bind processors SQLAlchemy would apply (the same
stored text for dates, JSON and booleans on SQLite, the same values on PostgreSQL).
A statement it cannot bind this way (a Python-side column default to compute, a parameter
it does not know, an expanding IN) runs through ``conn.execute`` as before.

The bound statement goes to the driver's cursor itself (sqlite3; psycopg for the intake's
read and its one write statement on PostgreSQL), not through ``Connection.exec_driver_sql``,
whose execution context (statement and parameter bookkeeping, the cursor-result set-up,
the events' dispatch) cost about as much as SQLite's own work for these statements (~5 us
of ~7 us per statement, micro-benchmark), and on PostgreSQL SQLAlchemy's rows of the
intake's read of every counter (some 460 at 100 reps) and the parameters of its one write
(~60) were about a third of the intake's store CPU. What that path does is kept: a
driver error goes through ``Connection``'s own error handling (wrapped as SQLAlchemy's
``IntegrityError`` or ``OperationalError``, the engine's ``handle_error`` listeners run, a
dead connection invalidated), rows go through their types' result processors as
SQLAlchemy's result would (by the driver's type of each column), and when anything listens
to statements (``before/after_cursor_execute``, ``before/after_execute``, the dialect's
``do_execute*``, e.g. a profiler) or the engine echoes SQL, the statement goes through
SQLAlchemy as before, so they still see it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadpilot.store.types import UTCDateTime

__all__ = ["execute_insert", "insert_returning", "select_rows"]

# SQL, per placeholder (name, processor, from the row, constant), positional (else named),
# the types of the columns it returns
# and the result processors of those columns per driver types of them (filled by _rows)
_Binder = tuple[
    str,
    tuple[tuple[str, Callable[[Any], Any] | None, bool, Any], ...],
    bool,
    tuple[Any, ...],
    dict[tuple[Any, ...], list[Any]],
]
# By statement (built once at import, never freed), back end (SQLite's statements are not
# psycopg's: placeholders, casts) and the keys of the rows bound.
_CACHE: dict[tuple[Any, ...], _Binder | None] = {}
_CACHE_LOCK = threading.Lock()
_SQL_LOG = logging.getLogger("sqlalchemy.engine.Engine")
_MAX_CACHED = 256


def _binder(stmt: Any, dialect: sa.Dialect, keys: tuple[str, ...]) -> _Binder | None:
    """The positional SQL of ``stmt`` for rows with ``keys`` and, per placeholder in order,
    (name, processor, from the row, constant), whether they are positional and the types of
    the columns it returns; ``None`` when it cannot be bound here."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None  # Python-side defaults are computed by the execution context
    # SQLite's placeholders are positional (?), psycopg's named (%(name)s)
    names = (
        compiled.positiontup
        if compiled.positional
        else list(dict.fromkeys(compiled.bind_names.values()))
    )
    if names is None:
        return None
    processors = compiled._bind_processors
    slots = []
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None or bind.expanding or getattr(bind, "literal_execute", False):
            return None
        processor = processors.get(name)
        if name in keys:
            if processor is not None and isinstance(bind.type, UTCDateTime):
                processor = _dates_once(processor, dialect.name)
            slots.append((name, processor, True, None))
        elif bind.callable is None and bind.value is not None and not bind.required:
            value = bind.value
            slots.append((name, None, False, processor(value) if processor else value))
        else:
            return None
    # SELECT or RETURNING: the column types, whose processors _rows applies as SQLAlchemy
    # does (by the driver's type of each column)
    types = tuple(column.type for column in compiled._result_columns)
    return compiled.string, tuple(slots), compiled.positional, types, {}


# A UTCDateTime's bound value per back end and datetime (SQLite's text, PostgreSQL's UTC
# datetime): an intake stores the same moment several times (the lead's received_at, its
# decision's decided_at, its timers' created_at), and SQLAlchemy's processing of one (as_utc,
# then on SQLite a %-format of nine fields) is ~3 us.
_DATES: dict[tuple[str, datetime, timedelta | None], Any] = {}
_MAX_DATES = 64


def _dates_once(processor: Callable[[Any], Any], backend: str) -> Callable[[Any], Any]:
    """``processor`` of a ``UTCDateTime`` bind on ``backend``, its value of a datetime
    remembered. Two equal datetimes are one instant (aware ones compare in UTC; a naive one
    is never equal to an aware one), and the bound value is that instant in UTC, so they
    bind the same value."""

    def process(value: Any) -> Any:
        if type(value) is not datetime:
            return processor(value)
        # the offset too: in a zone's repeated hour two datetimes an hour apart (fold 0
        # and 1) compare and hash equal
        key = (backend, value, value.utcoffset())
        bound = _DATES.get(key)
        if bound is None:
            bound = processor(value)
            if len(_DATES) >= _MAX_DATES:
                _DATES.clear()
            _DATES[key] = bound
        return bound

    return process


def _named(slots: Sequence[tuple[str, Any, bool, Any]], row: Mapping[str, Any]) -> dict[str, Any]:
    """``_bound`` for a driver with named placeholders (psycopg)."""
    return dict(zip([slot[0] for slot in slots], _bound(slots, row), strict=True))


def _bound(slots: Sequence[tuple[str, Any, bool, Any]], row: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    for name, processor, from_row, constant in slots:
        if from_row:
            value = row[name]  # processors take None too (JSON's is "null")
            out.append(processor(value) if processor is not None else value)
        else:
            out.append(constant)
    return tuple(out)


def _listened(conn: sa.Connection) -> bool:
    """Whether a statement on ``conn`` must go through SQLAlchemy's execution: something
    listens to statements, or the engine logs them."""
    dispatch = conn.dispatch
    dialect = conn.dialect.dispatch
    return bool(
        conn.engine.echo
        # SQL logging switched on by logging's configuration rather than ``echo``
        or _SQL_LOG.isEnabledFor(logging.INFO)
        or dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or dispatch.before_execute
        or dispatch.after_execute
        or dialect.do_execute
        or dialect.do_executemany
        or dialect.do_execute_no_params
    )


def _cursor_execute(conn: sa.Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run driver SQL on ``conn``'s sqlite3 connection; the cursor. A driver error is
    handled by ``conn`` as ``exec_driver_sql`` handles it (wrapped, ``handle_error``,
    invalidation); ``_handle_dbapi_exception`` is the method that path calls."""
    cursor = None
    try:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except Exception as exc:
        conn._handle_dbapi_exception(exc, sql, params, cursor, None)
    return cursor


def _binder_for(conn: sa.Connection, stmt: Any, keys: tuple[str, ...]) -> _Binder | None:
    dialect = conn.dialect
    version = getattr(dialect, "server_version_info", None)
    key = (id(stmt), dialect.name, dialect.driver, dialect.paramstyle, version, keys)
    try:
        return _CACHE[key]
    except KeyError:
        binder = _binder(stmt, conn.dialect, keys)
        with _CACHE_LOCK:
            if len(_CACHE) >= _MAX_CACHED:
                _CACHE.clear()
            _CACHE[key] = binder
        return binder


def execute_insert(
    conn: sa.Connection, stmt: Any, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> None:
    """``conn.execute(stmt, rows)`` for an INSERT (or upsert) ``stmt`` built once at import,
    without RETURNING: one row, or many with the same keys (``executemany``); on SQLite
    sent as driver SQL (see the module docstring)."""
    if conn.dialect.name != "sqlite":
        conn.execute(stmt, rows)
        return
    if isinstance(rows, Mapping):
        many, first, listed = False, rows, [rows]
    else:
        listed = list(rows)
        if not listed:
            conn.execute(stmt, listed)
            return
        many, first = True, listed[0]
    keys = tuple(first)
    binder = _binder_for(conn, stmt, keys)
    if binder is None or (many and any(tuple(r) != keys for r in listed)):
        conn.execute(stmt, listed if many else first)
        return
    sql, slots = binder[:2]
    params: Any = [_bound(slots, r) for r in listed] if many else _bound(slots, first)
    if _listened(conn):
        conn.exec_driver_sql(sql, params)
    else:
        _cursor_execute(conn, sql, params, many=many).close()


def insert_returning(conn: sa.Connection, stmt: Any, row: Mapping[str, Any]) -> Any:
    """The one value a statement built once at import returns for ``row`` (an INSERT ...
    RETURNING, or PostgreSQL's one statement of a new lead, ``store.record``), as
    ``conn.execute(stmt, row).scalar_one()``; on SQLite and on PostgreSQL through psycopg
    sent as driver SQL (see the module docstring)."""
    if conn.dialect.driver in _CURSOR_DRIVERS:
        binder = _binder_for(conn, stmt, tuple(row))
        if binder is not None and not _listened(conn):
            sql, slots, positional = binder[:3]
            bound = _bound(slots, row) if positional else _named(slots, row)
            cursor = _cursor_execute(conn, sql, bound)
            try:
                rows = _rows(conn, cursor, binder)
            finally:
                cursor.close()
            if len(rows) != 1:  # as scalar_one()
                if not rows:
                    raise sa.exc.NoResultFound("No row was found when one was required")
                raise sa.exc.MultipleResultsFound("Multiple rows were found when one was required")
            return rows[0][0]
    return conn.execute(stmt, row).scalar_one()


def _rows(conn: sa.Connection, cursor: Any, binder: _Binder) -> list[Any]:
    """The cursor's rows as SQLAlchemy reads them: each column through its type's result
    processor for the driver's type of the column (``cursor.description``), as SQLAlchemy's
    result does; none (most: text, numbers) leaves the driver's tuples as they are."""
    rows = cursor.fetchall()
    types, known = binder[3], binder[4]
    codes = tuple(column[1] for column in cursor.description or ())
    if len(codes) != len(types):
        raise RuntimeError("the statement returned other columns than it was compiled with")
    processors = known.get(codes)
    if processors is None:
        processors = known[codes] = [
            kind._cached_result_processor(conn.dialect, code)
            for kind, code in zip(types, codes, strict=True)
        ]
    if not any(processors):
        return list(rows)
    return [
        tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True))
        for row in rows
    ]


def select_rows(conn: sa.Connection, stmt: Any, params: Mapping[str, Any]) -> list[Any]:
    """``conn.execute(stmt, params).all()`` for a SELECT built once at import whose
    columns need no result processing (the driver's values are the values: text, numbers,
    NULL); on SQLite and on PostgreSQL through psycopg sent as driver SQL (see the module
    docstring), its rows as the driver's tuples. On PostgreSQL that is the intake's read of
    every counter (some 460 rows at 100 reps), where SQLAlchemy's rows and execution were
    ~0.2 ms of an intake's ~1 ms read."""
    if conn.dialect.driver in _CURSOR_DRIVERS and not _listened(conn):
        binder = _binder_for(conn, stmt, tuple(params))
        if binder is not None:
            sql, slots, positional = binder[:3]
            bound = _bound(slots, params) if positional else _named(slots, params)
            cursor = _cursor_execute(conn, sql, bound)
            try:
                return _rows(conn, cursor, binder)
            finally:
                cursor.close()
    return list(conn.execute(stmt, params).all())


# The drivers whose cursors select_rows uses directly (SQLite's and psycopg 3).
_CURSOR_DRIVERS = frozenset({"pysqlite", "psycopg"})
