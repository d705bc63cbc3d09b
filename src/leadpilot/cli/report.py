"""``leadpilot report``: the shadow-mode report and the holdout / switchback lift report,
read from the service's decision log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from leadpilot.cli._common import (
    LLM_MODEL_OPTION,
    console,
    json_on_stdout,
    json_out_option,
    json_switch,
    llm_url_option,
)
from leadpilot.cli.db import DB_OPTION, database_url
from leadpilot.errors import DataValidationError, StoreError

_SINCE = typer.Option(
    None, "--since", help="Only leads decided on or after this date (YYYY-MM-DD or ISO time, UTC)."
)
_OUT = typer.Option(None, "--out", help="Write a self-contained HTML report.")
_JSON = json_switch("the figures")
_JSON_OUT = json_out_option("the figures")
_MD = typer.Option(None, "--markdown", help="Write the report as Markdown.")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataValidationError(
            f"--since {text!r} is not a date", hint="give e.g. --since 2026-03-01"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _read(db: str | None, mode: str, since: datetime | None) -> tuple[list[Any], dict[str, Any]]:
    """The measured leads of ``mode`` and the stored policies, parsed by version."""
    import sqlalchemy as sa

    from leadpilot.evaluate.lift import policies_by_version
    from leadpilot.store.engine import make_engine
    from leadpilot.store.measurement import measured_leads, policy_texts

    engine = make_engine(database_url(db))
    try:
        with engine.connect() as conn:
            outcomes = measured_leads(conn, mode=mode, since=since)
            texts = policy_texts(conn)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        raise StoreError(
            f"cannot read the decision log: {getattr(exc, 'orig', exc)}",
            hint="check --db / LEADPILOT_DATABASE_URL and run `leadpilot db upgrade`",
        ) from None
    finally:
        engine.dispose()
    return outcomes, policies_by_version(texts)


def _poor_fit(db: str | None, since: datetime | None) -> dict[str, bool]:
    """Reps' latest fit rating of each lead since ``since`` (True: poor fit)."""
    from leadpilot.store.engine import make_engine
    from leadpilot.store.feedback import feedback_rows

    engine = make_engine(database_url(db))
    try:
        with engine.connect() as conn:
            rows = feedback_rows(conn, since=since)
    finally:
        engine.dispose()
    return {str(r["lead_id"]): r["fit"] == "poor" for r in rows}


def _write(
    document: dict[str, Any],
    html: str,
    markdown: str,
    out: Path | None,
    json_out: Path | None,
    md_out: Path | None,
) -> None:
    with json_on_stdout(True):  # file notices never mix into a JSON stdout
        _write_files(document, html, markdown, out, json_out, md_out)


def _write_files(
    document: dict[str, Any],
    html: str,
    markdown: str,
    out: Path | None,
    json_out: Path | None,
    md_out: Path | None,
) -> None:
    if json_out is not None:
        json_out.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
        console.print(f"JSON: {json_out}")
    if out is not None:
        out.write_text(html, encoding="utf-8")
        console.print(f"HTML report: {out}")
    if md_out is not None:
        md_out.write_text(markdown, encoding="utf-8")
        console.print(f"Markdown: {md_out}")


def _show(markdown: str, document: dict[str, Any], as_json: bool) -> None:
    """The report as Markdown on the console, or as JSON on stdout with ``--json``."""
    with json_on_stdout(as_json):
        console.print(markdown, markup=False, highlight=False)
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))


def _prepare(*paths: tuple[Path | None, str]) -> None:
    from leadpilot.outputs import prepare_output_file

    for path, option in paths:
        if path is not None:
            prepare_output_file(path, option=option)


def register(app: typer.Typer) -> None:
    """Add the ``report`` command group."""
    report_app = typer.Typer(
        help="Reports from the decision log: shadow mode, holdout lift, the weekly review.",
        no_args_is_help=True,
    )

    @report_app.command("shadow")
    def shadow_cmd(
        since: str | None = _SINCE,
        db: str | None = DB_OPTION,
        out: Path | None = _OUT,
        as_json: bool = _JSON,
        json_out: Path | None = _JSON_OUT,
        md_out: Path | None = _MD,
    ) -> None:
        """Shadow mode: agreement, conversion when agreed vs not, the estimated lift of
        following the recommendations, and go / no-go.

        Example: leadpilot report shadow --since 2026-03-01 --out shadow.html
        """
        from leadpilot.evaluate.report_pages import render_shadow_html, render_shadow_markdown
        from leadpilot.evaluate.shadow import shadow_report

        _prepare((out, "--out"), (json_out, "--json-out"), (md_out, "--markdown"))
        start = _since(since)
        outcomes, policies = _read(db, "shadow", start)
        poor_fit = _poor_fit(db, start)
        document = shadow_report(outcomes, policies, since=start, poor_fit=poor_fit).as_dict()
        markdown = render_shadow_markdown(document)
        _write(document, render_shadow_html(document), markdown, out, json_out, md_out)
        _show(markdown, document, as_json)

    @report_app.command("lift")
    def lift_cmd(
        since: str | None = _SINCE,
        db: str | None = DB_OPTION,
        out: Path | None = _OUT,
        as_json: bool = _JSON,
        json_out: Path | None = _JSON_OUT,
        md_out: Path | None = _MD,
    ) -> None:
        """Predictive vs holdout: conversion, meetings and pipeline with intervals and
        p-values, the sample needed, the running estimate, for the design in the policy.

        Example: leadpilot report lift --since 2026-03-01 --out lift.html --json-out lift.json
        """
        from leadpilot.evaluate.lift import lift_report
        from leadpilot.evaluate.report_pages import render_lift_html, render_lift_markdown

        _prepare((out, "--out"), (json_out, "--json-out"), (md_out, "--markdown"))
        start = _since(since)
        outcomes, policies = _read(db, "live", start)
        document = lift_report(outcomes, policies, since=start).as_dict()
        markdown = render_lift_markdown(document)
        _write(document, render_lift_html(document), markdown, out, json_out, md_out)
        _show(markdown, document, as_json)

    @report_app.command("weekly")
    def weekly_cmd(
        until: str | None = typer.Option(
            None, "--until", help="End of the week to review (default: now; YYYY-MM-DD, UTC)."
        ),
        db: str | None = DB_OPTION,
        out: Path | None = _OUT,
        as_json: bool = _JSON,
        json_out: Path | None = _JSON_OUT,
        md_out: Path | None = _MD,
        llm_url: str | None = llm_url_option(
            "the computed review: KPIs, model figures, alert counts"
        ),
        llm_model: str | None = LLM_MODEL_OPTION,
    ) -> None:
        """The weekly review: KPIs against targets and last week, model health, alerts, the
        most misrouted leads, and the changes worth making, each backed by a number.
        Targets come from the policy's targets: section (and alerts.<rule>.target).

        Example: leadpilot report weekly --out weekly.html --markdown weekly.md
        """
        from leadpilot.llm_narrative import narrative_requested, narrative_section
        from leadpilot.service.weekly import weekly_report
        from leadpilot.service.weekly_pages import render_weekly_html, render_weekly_markdown
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current

        wants_narrative = narrative_requested(llm_url, llm_model)
        _prepare((out, "--out"), (json_out, "--json-out"), (md_out, "--markdown"))
        end = _since(until) or datetime.now(UTC)
        engine = make_engine(database_url(db))
        try:
            check_current(engine)
            with engine.connect() as conn:
                document = weekly_report(conn, until=end)
        finally:
            engine.dispose()
        if wants_narrative and llm_url and llm_model:
            from leadpilot.service.weekly_narrative import request_weekly_narrative

            # As the audit: a failing endpoint stops with exit 2 before any file is written.
            with console.status("Asking the language model for a narrative..."):
                narrative = request_weekly_narrative(document, url=llm_url, model=llm_model)
            document["narrative"] = narrative_section(narrative)
        markdown = render_weekly_markdown(document)
        _write(document, render_weekly_html(document), markdown, out, json_out, md_out)
        _show(markdown, document, as_json)

    app.add_typer(report_app, name="report")
