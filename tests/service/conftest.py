"""Fixtures of the service tests: a migrated temp-file SQLite (and PostgreSQL when asked),
an app with an injected clock and no background thread, and tokens of each role."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leadpilot.schema import Rep
from leadpilot.service.app import create_app
from leadpilot.settings import Settings
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.store.tokens import create_token

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 15:00 UTC


@dataclass
class Clock:
    """A settable clock for the app."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Api:
    """A test client with one token per role."""

    client: TestClient
    engine: sa.Engine
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "writer", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def post(self, path: str, json: object, role: str = "writer", **headers: str):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers=self.headers(role, **headers))

    def get(self, path: str, role: str = "reader", **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, params=params, headers=self.headers(role))

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.ctx.service  # type: ignore[attr-defined]


def make_reps(n: int = 4, *, cap: int | None = 100, pool: str = "sdr") -> list[Rep]:
    return [
        Rep(
            rep_id=f"rep-{i:02d}",
            name=f"Rep {i}",
            pool=pool,
            max_leads_per_day=cap,
            max_open_leads=None,
            timezone="UTC",
        )
        for i in range(1, n + 1)
    ]


_SQLITE_TEMPLATE: list[Path] = []  # one migrated database file per test process


def migrated_engine(url: str) -> sa.Engine:
    """An engine on ``url`` migrated to head. A new SQLite file is a copy of one migrated
    once per process (Alembic costs ~0.06 s of CPU per upgrade, and hundreds of tests start
    from an empty database)."""
    target = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if target is None or target.exists() or str(target) == ":memory:":
        engine = make_engine(url)
        upgrade(engine)
        return engine
    if not _SQLITE_TEMPLATE:
        folder = tempfile.mkdtemp(prefix="lp-template-")
        # A plain function (tests call it outside fixtures), so no tmp_path_factory: the
        # folder goes when the process ends instead of piling up in /tmp, one per process.
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Path(folder) / "migrated.db"
        seed = make_engine(f"sqlite:///{template}")
        upgrade(seed)
        seed.dispose()
        _SQLITE_TEMPLATE.append(template)
    shutil.copyfile(_SQLITE_TEMPLATE[0], target)
    return make_engine(url)


def build_api(engine: sa.Engine, reps: list[Rep], clock: Clock | None = None) -> Api:
    clock = clock or Clock()
    tokens = {}
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps)
        for role in ("admin", "writer", "reader"):
            tokens[role], _ = create_token(conn, role=role, name=f"test-{role}")
    settings = Settings(environment="development", worker_enabled=False)
    app = create_app(settings, engine=engine, clock=clock, seed=7)
    client = TestClient(app, raise_server_exceptions=False)
    return Api(client=client, engine=engine, clock=clock, tokens=tokens)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lp.db'}"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[sa.Engine]:
    eng = migrated_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def api(engine: sa.Engine) -> Iterator[Api]:
    a = build_api(engine, make_reps())
    with a.client:
        yield a


def postgres_url_or_skip() -> str:
    """The test server's URL; skip when unset, FAIL when set but unreachable."""
    url = os.environ.get("LEADPILOT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("LEADPILOT_TEST_POSTGRES_URL is not set")
    try:
        eng = make_engine(url)
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
    except Exception as exc:
        pytest.fail(f"LEADPILOT_TEST_POSTGRES_URL is set but the server is unreachable: {exc}")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the test server for one test, dropped afterwards."""
    base = postgres_url_or_skip()
    schema = f"lp_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
