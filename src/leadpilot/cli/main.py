"""Entry point of the ``leadpilot`` command: builds the Typer app and translates errors.

Every module of ``leadpilot.cli`` that defines ``register(app)`` adds its commands, so a new
command group is one new module and no edit here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.exceptions import TyperException

import leadpilot.cli
from leadpilot import __version__
from leadpilot.cli._common import legacy_json_args
from leadpilot.errors import LeadpilotError

if TYPE_CHECKING:
    from typer._click import core as _click_core

err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadpilot {__version__}")
        raise typer.Exit()


class _ErrorTranslatingGroup(TyperGroup):
    """Turns a ``LeadpilotError`` from any command into a message and exit code 2.

    Done in the group (not around ``app()``) so that Typer's test runner sees the same
    behaviour as a user at a terminal.
    """

    def parse_args(self, ctx: _click_core.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, legacy_json_args(list(args)))

    def invoke(self, ctx: _click_core.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LeadpilotError as exc:
            err_console.print(f"[bold red]Error:[/] {exc.message}", highlight=False)
            if exc.hint:
                err_console.print(f"[yellow]How to fix:[/] {exc.hint}", highlight=False)
            raise typer.Exit(2) from None
        except (TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader left (``leadpilot synth --help | head``): not a bug. Point stdout at
            # /dev/null so the interpreter's final flush does not fail again (Python's
            # documented recipe for SIGPIPE).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(1) from None
        except Exception as exc:
            # A bug, not bad input: still no traceback for the user unless they ask for it.
            if os.environ.get("LEADPILOT_DEBUG"):
                raise
            err_console.print(
                f"[bold red]Unexpected error:[/] {type(exc).__name__}: {exc}", highlight=False
            )
            err_console.print(
                "This is a bug in leadpilot; please report it with the command you ran. "
                "Set LEADPILOT_DEBUG=1 to see the traceback.",
                highlight=False,
            )
            raise typer.Exit(1) from None


def _unset_flags_without_pydantic() -> None:
    """Let an unset boolean flag (the ``--help`` every command has) skip Typer's coercion set-up.

    Typer 0.29 builds a Pydantic ``TypeAdapter`` for a parameter the first time it processes
    a value that is not already the right type, and an unset ``--help`` arrives as ``None``:
    so every command paid the import of ``typer._adapters`` and Pydantic (~130 ms of CPU,
    a quarter of ``leadpilot route --help``) only to turn ``None`` into ``None``. The pass-
    through coercion Typer uses for non-adapter types returns ``None`` unchanged and checks
    a bool as a bool; it is given only to boolean flags without an environment variable (the
    one source of text for a flag). Private API, so any mismatch leaves Typer as it is.
    """
    try:
        from typer._coercion import PassThroughRuntimeParam
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - another Typer: nothing to do
        return
    original = TyperOption.process_value
    if getattr(original, "_leadpilot_unset_flags", False):
        return

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        descriptor: Any = getattr(self, "type_descriptor", None)
        if (
            value is None
            and getattr(self, "_runtime_param", True) is None
            and getattr(descriptor, "annotation", None) is bool
            and not getattr(self, "envvar", None)
        ):
            self._runtime_param = PassThroughRuntimeParam(
                annotation=bool, parameter_info=descriptor.parameter_info
            )
        return original(self, ctx, value)

    process_value._leadpilot_unset_flags = True  # type: ignore[attr-defined]
    TyperOption.process_value = process_value  # type: ignore[method-assign]


def build_app() -> typer.Typer:
    """Return the CLI app with every command group registered."""
    _unset_flags_without_pydantic()
    app = typer.Typer(
        cls=_ErrorTranslatingGroup,
        name="leadpilot",
        help=(
            "Predictive lead routing for RevOps: audit your routing history, learn who "
            "converts what, route each new lead to the best eligible rep, and prove the lift.\n\n"
            "Start with:  leadpilot demo"
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        """leadpilot command line."""

    for info in sorted(pkgutil.iter_modules(leadpilot.cli.__path__), key=lambda m: m.name):
        if info.name in {"main"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"leadpilot.cli.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a ``LeadpilotError`` becomes a red message and exit code 2."""
    build_app()(args=argv, prog_name="leadpilot")


if __name__ == "__main__":  # pragma: no cover
    main()
