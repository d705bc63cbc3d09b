"""Suite-wide set-up: where the shared real data sets live, and the ``shared_data`` marker.

The public CRM data sets are not in this repository: they sit in ``shared/data`` beside the
clone (``../shared/data``, each with a README naming its source and license). Point
``LEADPILOT_DATA_DIR`` elsewhere if yours live elsewhere. A test marked
``@pytest.mark.shared_data("maven-crm-sales-opportunities")`` skips with a reason when the data
set is missing, and fails when ``LEADPILOT_REQUIRE_SHARED_DATA=1`` (as CI sets it), the way
PostgreSQL and chromium tests do. ``LEADPILOT_DATA_DIR`` is resolved here, before test modules
are imported, so every test and benchmark reads the same folder.

Every ``browser`` test is also ``slow``: a headless Chromium costs seconds of CPU per page, so the
developer loop (``pytest -m "not slow"``) leaves the screenshots to CI, which runs everything.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

if "LEADPILOT_DATA_DIR" not in os.environ:
    os.environ["LEADPILOT_DATA_DIR"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")

# One BLAS/OpenMP thread per test process. The tests' matrices are small, and OpenBLAS's
# threads spin while they wait: on a busy 2-core machine ``analyze`` on 4,000 leads took
# 6.2 s of CPU with 2 threads and 0.44 s with 1. The variables reach subprocesses (the CLI and
# server tests); threadpoolctl covers a numpy a plugin may have imported before this file.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
threadpool_limits(limits=1)

# The CLI's Rich console wraps at the terminal's width (COLUMNS, else 80 off a terminal), and
# the CLI tests look for tmp paths in its output: one fixed width wide enough for any tmp path
# (pytest-xdist's are longer) makes them independent of the terminal they run in.
os.environ["COLUMNS"] = "240"

DATA_DIR = Path(os.environ["LEADPILOT_DATA_DIR"])
REQUIRE_SHARED_DATA = os.environ.get("LEADPILOT_REQUIRE_SHARED_DATA") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, give each worker its own PostgreSQL database (see below)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get("LEADPILOT_TEST_POSTGRES_URL")
    if worker and base:
        os.environ["LEADPILOT_TEST_POSTGRES_URL"] = _worker_database(base, worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _WORKER_DATABASE:
        _drop_database(*_WORKER_DATABASE)


# Each PostgreSQL test already works in its own schema, but PostgreSQL's advisory locks (the
# routing lock, the one-trainer lease) are per database: two workers on one database would
# see each other's locks, and a test that finds the retrain lease taken would skip its job.
# So each worker runs in a database of its own, ``<database>_<worker>_<run>`` (e.g.
# test_gw0_3f2a9c1d: the run's id keeps two runs on one server apart), created at the
# worker's start and dropped at its end; every test of the worker (and every server it
# starts) reads it from LEADPILOT_TEST_POSTGRES_URL.
_WORKER_DATABASE: list[str] = []


def _worker_database(base: str, worker: str) -> str:
    import sqlalchemy as sa

    url = sa.engine.make_url(base)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]
    name = f"{url.database}_{worker}_{run}"
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
    except sa.exc.OperationalError:
        # Unreachable: leave the URL alone, so that the tests fail saying so
        # (tests/service/conftest.py: postgres_url_or_skip).
        return base
    _WORKER_DATABASE[:] = [base, name]
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_database(base: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every chromium test ``slow`` (see the module docstring)."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


# FastAPI memoises "is this dependency a generator/coroutine?" in lru_caches of 4,096 entries
# keyed by the callable itself. fastapi_offline gives every app its own docs closures, which
# hold the app: so every app a test process ever built (with its service, scorer and caches,
# ~5,000 objects) stayed alive, and each app start's full gc.collect() (service/app.py) scanned
# them all: a service test took 0.26 s alone and 1.24 s late in a serial run. Emptying the
# caches after each test lets finished apps go; getattr because they are FastAPI's internals.
_FASTAPI_CALLABLE_CACHES = (
    "_is_gen_callable_cached",
    "_is_async_gen_callable_cached",
    "_is_coroutine_callable_cached",
)


class _GcForTests:
    """What the service's lifespan sees as ``gc`` in tests. The lifespan runs a full
    ``gc.collect()``, then ``gc.freeze()`` so that the cyclic GC stops scanning the long-lived
    app, and ``gc.unfreeze()`` at shutdown. A test process starts hundreds of apps: each full
    collection scanned the whole process (pandas, LightGBM, worlds: ~270,000 objects, 0.1-0.2 s
    of CPU a time, about a third of a service test's CPU), and each shutdown's unfreeze handed
    everything back to the full collections. Here all three are no-ops: the suite freezes what
    every test process keeps (its imports and collected tests) once, after collection
    (``pytest_collection_finish`` below), and an app's objects are collected like any other."""

    def __getattr__(self, name: str) -> object:
        return getattr(gc, name)

    @staticmethod
    def collect(generation: int = 2) -> int:
        return 0

    @staticmethod
    def freeze() -> None:
        return None

    @staticmethod
    def unfreeze() -> None:
        return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze the modules and collected tests out of the cyclic GC: they live as long as the
    process, and each full collection scanned them all. Refcounting still frees frozen
    objects; only cycles among them are never collected. The young generation is also
    collected every 20,000 net allocations instead of 700: a test builds data frames, worlds
    and apps by the hundred thousand objects, and most die by refcount before any scan."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@pytest.fixture(autouse=True)
def _release_finished_apps() -> Iterator[None]:
    app_module = sys.modules.get("leadpilot.service.app")
    if app_module is not None and getattr(app_module, "gc", None) is gc:
        app_module.gc = _GcForTests()  # type: ignore[attr-defined]
    yield
    models = sys.modules.get("fastapi.dependencies.models")
    for name in _FASTAPI_CALLABLE_CACHES:
        cache = getattr(models, name, None)
        if cache is not None:
            cache.cache_clear()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, when required, fail) a test whose shared data sets are missing."""
    names = [name for mark in item.iter_markers("shared_data") for name in mark.args]
    missing = [name for name in names if not (DATA_DIR / name).exists()]
    if not missing:
        return
    what = ", ".join(missing)
    if REQUIRE_SHARED_DATA:
        pytest.fail(
            f"shared data set {what} is required (LEADPILOT_REQUIRE_SHARED_DATA=1) but not "
            f"found under {DATA_DIR}"
        )
    pytest.skip(
        f"shared data set {what} not found under {DATA_DIR}: put the shared/data folder "
        "beside the clone or set LEADPILOT_DATA_DIR (see the README's Development section)"
    )
