"""``leadpilot crm check hubspot|salesforce``: is the CRM connection set up?"""

from __future__ import annotations

import typer

from leadpilot.cli._common import console
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import ConfigError

_NEEDS = {
    "hubspot": (
        ("hubspot_access_token", "LEADPILOT_HUBSPOT_ACCESS_TOKEN", "reads contacts, sets owners"),
        ("hubspot_client_secret", "LEADPILOT_HUBSPOT_CLIENT_SECRET", "verifies webhooks"),
    ),
    "salesforce": (
        ("salesforce_instance_url", "LEADPILOT_SALESFORCE_INSTANCE_URL", "the org's API host"),
        ("salesforce_access_token", "LEADPILOT_SALESFORCE_ACCESS_TOKEN", "sets Lead owners"),
        (
            "salesforce_organization_id",
            "LEADPILOT_SALESFORCE_ORGANIZATION_ID",
            "verifies Outbound Messages",
        ),
    ),
}
_OWNER_COLUMN = {"hubspot": "hubspot_owner_id", "salesforce": "salesforce_user_id"}


def register(app: typer.Typer) -> None:
    """Add the ``crm`` command group."""
    crm_app = typer.Typer(help="Check the HubSpot / Salesforce connection.", no_args_is_help=True)

    @crm_app.command("check")
    def check_cmd(
        crm: str = typer.Argument(..., help="hubspot or salesforce"),
        db: str | None = DB_OPTION,
    ) -> None:
        """Check settings, API access and permissions, and the roster's owner ids; says
        exactly what is missing. Exit code 2 when anything is.

        Example: leadpilot crm check hubspot
        """
        from leadpilot.crm.config import load_crm_settings
        from leadpilot.service.crm_worker import build_connectors

        if crm not in _NEEDS:
            raise ConfigError(f"unknown CRM {crm!r}", hint="use hubspot or salesforce")
        settings = load_crm_settings()
        problems = 0
        for attr, env, why in _NEEDS[crm]:
            present = getattr(settings, attr) is not None
            problems += not present
            mark = "[green]ok[/]" if present else "[red]missing[/]"
            console.print(f"{mark}  {env} ({why})")
        connector = build_connectors(settings).get(crm)
        if connector is not None:
            for what, ok, detail in connector.check():
                problems += not ok
                console.print(f"{'[green]ok[/]' if ok else '[red]failed[/]'}  {what}: {detail}")
        problems += _check_roster(crm, db)
        if problems:
            raise ConfigError(
                f"{crm}: {problems} check(s) failed (above)",
                hint="see the README section 'Connect HubSpot / Salesforce'",
            )
        console.print(f"{crm}: every check passed")

    app.add_typer(crm_app, name="crm")


def _check_roster(crm: str, db: str | None) -> int:
    """Reps without the CRM owner id column: their leads cannot be written back."""
    from leadpilot.store.engine import make_engine
    from leadpilot.store.migrate import check_current
    from leadpilot.store.reps import list_reps

    engine = make_engine(database_url(db))
    try:
        check_current(engine)
        with engine.connect() as conn:
            reps = list_reps(conn)
    finally:
        engine.dispose()
    column = _OWNER_COLUMN[crm]
    missing = [r.rep_id for r in reps if r.active and not r.attributes.get(column)]
    if not reps:
        console.print("[red]failed[/]  roster: no reps loaded (leadpilot load reps ...)")
        return 1
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        console.print(
            f"[red]failed[/]  roster: {len(missing)} of {len(reps)} active reps have no "
            f"{column} column value: {shown}"
        )
        return 1
    console.print(f"[green]ok[/]  roster: all {len(reps)} reps have a {column}")
    return 0
