"""Fixtures of the model-lifecycle tests: a small synthetic world loaded into a migrated
SQLite store, and a registry holding two versions (a champion and a later candidate)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
from leadpilot.lifecycle.retrain import RetrainOptions, retrain
from leadpilot.store.engine import make_engine, write_transaction
from leadpilot.store.history import load_history_leads
from leadpilot.store.migrate import upgrade
from leadpilot.store.reps import upsert_reps
from leadpilot.synth import generate_world

# Fewer bags and trees than the defaults: behaviour tests need a working model, not the best.
FAST: dict[str, Any] = {"n_bags": 2, "n_estimators": 40, "early_stopping_rounds": 10}
NOW = datetime(2026, 7, 1, tzinfo=UTC)  # after the world's 18 months of history


@dataclass
class Registry:
    """A store with two registered versions: ``first`` (champion, from the history up to
    ``NOW - 60 days``) and ``second`` (candidate, from all of it)."""

    url: str
    store: Path
    first: str
    second: str

    def engine(self) -> sa.Engine:
        return make_engine(self.url)


def load_world(url: str, world: Any) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps_from_frame(world.reps))
        load_history_leads(conn, leads_from_frame(world.history))
    return engine


@pytest.fixture(scope="session")
def small_world() -> Any:
    return generate_world(n_leads=3_000, n_reps=6, n_new_leads=100, seed=11)


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory, small_world: Any) -> Registry:
    root = tmp_path_factory.mktemp("registry")
    url = f"sqlite:///{root / 'lp.db'}"
    engine = load_world(url, small_world)
    store = root / "models"
    # Forced: these tests are about the registry, not the model's quality (on this small
    # world's first 11 months the model can lose to the logistic baseline, and retrain then
    # rightly refuses to make it champion).
    options = RetrainOptions(params=FAST, min_holdout=100, force=True)
    first = retrain(engine, store, options, now=NOW - timedelta(days=200))
    assert first.action == "first_champion"
    second = retrain(engine, store, RetrainOptions(params=FAST, min_holdout=100, force=True),
                     now=NOW)  # fmt: skip
    assert second.challenger != first.challenger
    with write_transaction(engine) as conn:  # back to the first as champion, second a candidate
        from leadpilot.store.models import set_champion
        from leadpilot.store.tables import models

        if second.action in ("promoted", "forced"):
            conn.execute(models.update().where(models.c.version == second.challenger)
                         .values(active=False, status="candidate"))  # fmt: skip
            set_champion(conn, first.challenger, reason="fixture", actor="test")
    engine.dispose()
    return Registry(url=url, store=store, first=first.challenger, second=second.challenger)


@pytest.fixture
def registry(registry_template: Registry, tmp_path: Path) -> Registry:
    """A private copy (database file and model folders) a test may change."""
    src_db = Path(registry_template.url.removeprefix("sqlite:///"))
    shutil.copy(src_db, tmp_path / "lp.db")
    shutil.copytree(registry_template.store, tmp_path / "models")
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    engine = make_engine(url)
    # The rows point at the template's folders: point them at the copy.
    from leadpilot.store.tables import models

    with write_transaction(engine) as conn:
        for row in conn.execute(sa.select(models.c.version)).all():
            conn.execute(
                models.update()
                .where(models.c.version == row.version)
                .values(path=str(tmp_path / "models" / row.version))
            )
    engine.dispose()
    return Registry(url=url, store=tmp_path / "models", first=registry_template.first,
                    second=registry_template.second)  # fmt: skip
