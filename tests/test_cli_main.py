"""The CLI entry point: help, version, and translation of library errors."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from leadpilot import __version__
from leadpilot.cli.main import build_app
from leadpilot.errors import DataValidationError

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"leadpilot {__version__}"


def test_library_error_becomes_message_and_exit_2() -> None:
    app = build_app()

    @app.command("boom")
    def _boom() -> None:
        raise DataValidationError("column 'Lead_Source' is missing", hint="add the column")

    result = runner.invoke(app, ["boom"])
    assert result.exit_code == 2
    assert "column 'Lead_Source' is missing" in result.output
    assert "How to fix: add the column" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, DataValidationError)
    assert isinstance(typer.Typer, type)


def test_unexpected_error_is_reported_without_traceback(monkeypatch: object) -> None:
    app = build_app()

    @app.command("bug")
    def _bug() -> None:
        raise ZeroDivisionError("division by zero")

    result = runner.invoke(app, ["bug"])
    assert result.exit_code == 1
    assert "Unexpected error: ZeroDivisionError: division by zero" in result.output
    assert "LEADPILOT_DEBUG=1" in result.output
    assert "Traceback" not in result.output


def test_usage_errors_keep_typer_exit_code() -> None:
    result = runner.invoke(build_app(), ["synth", "--leads", "nope", "--out", "x"])
    assert result.exit_code == 2
    assert "Unexpected error" not in result.output
