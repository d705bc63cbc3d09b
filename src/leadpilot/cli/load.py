"""``leadpilot load``: fill the service's database from reps, accounts or history files."""

from __future__ import annotations

from pathlib import Path

import typer

from leadpilot.cli._common import console
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import DataValidationError

KINDS = ("reps", "accounts", "history")
# Column names as ``header_key`` spells them (lower case, letters and digits only).
_REP_MARKERS = {"maxleadsperday", "workinghours", "pool", "timezone", "backuprepid"}
_ACCOUNT_MARKERS = {"accountid", "ownerrepid", "hasopenopportunity"}


def detect_kind(path: Path) -> str:
    """``reps``, ``accounts`` or ``history`` from a file's column names."""
    from leadpilot.ingest.presets import header_key
    from leadpilot.ingest.readers import read_table

    table = read_table(path)
    columns = {header_key(str(c)) for c in table.frame.columns}
    if "repid" in columns and columns & _REP_MARKERS and "leadid" not in columns:
        return "reps"
    if columns & _ACCOUNT_MARKERS and "leadid" not in columns:
        return "accounts"
    return "history"


def register(app: typer.Typer) -> None:
    """Add the ``load`` command."""

    @app.command("load")
    def load_cmd(
        files: list[Path] = typer.Argument(..., exists=True, help="CSV/.xlsx files to load."),
        kind: str | None = typer.Option(
            None, "--kind", help="reps, accounts or history (default: detected from columns)."
        ),
        db: str | None = DB_OPTION,
    ) -> None:
        """Load reps, accounts or lead history into the database (upsert by id).

        The kind of each file is detected from its columns: rep_id with pool/caps/hours is a
        roster, account_id/owner is an account list, anything else is lead history.

        Example: leadpilot load reps.csv accounts.csv history.csv
        """
        from leadpilot.ingest.history import read_history
        from leadpilot.ingest.roster import (
            accounts_from_frame,
            leads_from_frame,
            read_accounts,
            read_reps,
            reps_from_frame,
        )
        from leadpilot.store.accounts import upsert_accounts
        from leadpilot.store.engine import make_engine, write_transaction
        from leadpilot.store.history import load_history_leads
        from leadpilot.store.migrate import check_current
        from leadpilot.store.reps import upsert_reps

        if kind is not None and kind not in KINDS:
            raise DataValidationError(
                f"unknown --kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}"
            )
        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            for path in files:
                what = kind or detect_kind(path)
                if what == "reps":
                    roster = reps_from_frame(read_reps(path))
                    with write_transaction(engine) as conn:
                        n = upsert_reps(conn, roster)
                    console.print(f"{path}: {n} reps loaded")
                elif what == "accounts":
                    items = accounts_from_frame(read_accounts(path))
                    with write_transaction(engine) as conn:
                        n = upsert_accounts(conn, items)
                    console.print(f"{path}: {n} accounts loaded")
                else:
                    result = read_history(path, on_error="skip")
                    with write_transaction(engine) as conn:
                        added, skipped = load_history_leads(conn, leads_from_frame(result.frame))
                    console.print(
                        f"{path}: {added} history leads loaded, {skipped} already stored, "
                        f"{len(result.rejects)} rows rejected"
                        + (f" (see {result.rejects_path})" if result.rejects_path else "")
                    )
        finally:
            engine.dispose()
