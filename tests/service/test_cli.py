"""The service's commands: db upgrade, token create, load (kind detected from columns)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from leadpilot.cli.load import detect_kind
from leadpilot.cli.main import build_app
from leadpilot.store.engine import make_engine
from leadpilot.store.tables import accounts, leads, reps
from leadpilot.store.tokens import lookup_token
from leadpilot.synth import generate_world, write_world

runner = CliRunner()


def test_db_upgrade_token_and_load_a_synthetic_world(tmp_path: Path) -> None:
    world = generate_world(n_leads=300, n_reps=6, n_new_leads=20, seed=3)
    write_world(world, tmp_path / "w")
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    app = build_app()
    assert runner.invoke(app, ["token", "create", "--role", "admin", "--db", url]).exit_code == 2
    result = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert "migrated from empty" in result.output
    assert "already at" in runner.invoke(app, ["db", "upgrade", "--db", url]).output

    created = runner.invoke(app, ["token", "create", "--role", "reader", "--json", "--db", url])
    token = json.loads(created.output)["token"]
    assert len(token) > 40
    engine = make_engine(url)
    with engine.connect() as conn:
        info = lookup_token(conn, token)
        assert info is not None
        assert info.role == "reader"

    files = [tmp_path / "w" / n for n in ("reps.csv", "accounts.csv", "history.csv")]
    assert [detect_kind(f) for f in files] == ["reps", "accounts", "history"]
    result = runner.invoke(app, ["load", *map(str, files), "--db", url])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reps)).scalar() == 6
        n_accounts = conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar()
        assert n_accounts == len(world.accounts)
        statuses = conn.execute(sa.select(leads.c.status).distinct()).scalars().all()
        assert statuses == ["history"]
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar() == 300
    again = runner.invoke(app, ["load", str(files[2]), "--db", url])
    assert "300 already stored" in " ".join(again.output.split())
    bad = runner.invoke(app, ["load", str(files[0]), "--kind", "people", "--db", url])
    assert bad.exit_code == 2
    engine.dispose()


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.db'}"
    result = runner.invoke(build_app(), ["serve", "--workers", "2", "--db", url])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output
