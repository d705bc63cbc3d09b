"""``leadpilot sync hubspot|salesforce [--since]``: pull CRM outcomes into leadpilot events."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from leadpilot.cli._common import console
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add the ``sync`` command."""

    @app.command("sync")
    def sync_cmd(
        crm: str = typer.Argument(..., help="hubspot or salesforce"),
        since: str | None = typer.Option(
            None,
            "--since",
            help="ISO date/time to sync from (default: where the last sync stopped).",
        ),
        db: str | None = DB_OPTION,
    ) -> None:
        """Record CRM outcomes (first touch, meeting booked, opportunity, won / lost) as
        events of the matching leads, once each; the cursor is stored.

        Example: leadpilot sync hubspot --since 2026-03-01
        """
        from leadpilot.crm.config import load_crm_settings
        from leadpilot.service.app import create_app
        from leadpilot.service.crm_sync import sync_hubspot, sync_salesforce
        from leadpilot.settings import load_settings

        if crm not in ("hubspot", "salesforce"):
            raise ConfigError(f"unknown CRM {crm!r}", hint="use hubspot or salesforce")
        start = None
        if since is not None:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                raise ConfigError(
                    f"--since {since!r} is not an ISO date or date-time",
                    hint="e.g. --since 2026-03-01 or --since 2026-03-01T09:00:00Z",
                ) from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        settings = load_settings(database_url=database_url(db), worker_enabled=False)
        crm_settings = load_crm_settings()
        app = create_app(settings, crm=crm_settings)
        connector = app.state.crm_connectors.get(crm)
        if connector is None:
            raise ConfigError(
                f"no {crm} credentials are set",
                hint=f"run leadpilot crm check {crm} to see which variables are missing",
            )
        sync = sync_hubspot if crm == "hubspot" else sync_salesforce
        report = sync(app.state.ctx.service, connector, start)
        console.print(
            f"{crm}: {report.records} changed records, {len(report.recorded)} events "
            f"recorded, {report.already} already known, {report.unknown} not leadpilot leads"
        )
        for lead_id, kind in report.recorded:
            console.print(f"  {lead_id}: {kind}")
        for line in report.refused:
            console.print(f"  [yellow]refused[/] {line}")
        if report.cursor:
            console.print(f"next sync starts at {report.cursor}")
