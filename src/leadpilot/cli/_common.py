"""Helpers shared by the command modules: consoles and option conventions.

The ``--json`` convention, the same in every command: ``--json`` is a switch that prints the
command's result as JSON to stdout (tables, progress and messages go to stderr, so
``leadpilot X --json > out.json`` is valid JSON); ``--json-out PATH`` writes it to a file
(commands that write report files). The older ``--json PATH`` of ``analyze``, ``simulate``
and ``report`` still works: ``legacy_json_args`` rewrites it to ``--json-out PATH``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

__all__ = [
    "LLM_MODEL_OPTION",
    "console",
    "err_console",
    "json_on_stdout",
    "json_out_option",
    "json_switch",
    "legacy_json_args",
    "llm_url_option",
]

console = Console()
err_console = Console(stderr=True)

# Commands whose --json once took a path.
_LEGACY_JSON_PATH = frozenset({"analyze", "simulate", "report"})


def json_switch(what: str = "the result") -> Any:
    """The ``--json`` switch: ``what`` as JSON on stdout."""
    return typer.Option(
        False, "--json", help=f"Print {what} as JSON to stdout (everything else to stderr)."
    )


def json_out_option(what: str = "the figures") -> Any:
    """The ``--json-out PATH`` option: ``what`` as a JSON file."""
    return typer.Option(None, "--json-out", help=f"Write {what} as JSON to this file.")


def llm_url_option(what: str = "the computed JSON") -> Any:
    """``--llm-url``: an OpenAI-compatible endpoint for an optional narrative."""
    return typer.Option(
        None,
        "--llm-url",
        help=f"OpenAI-compatible endpoint for an optional narrative (sends {what}, never "
        "rows; shown marked as generated). Goes with --llm-model. API key: "
        "LEADPILOT_LLM_API_KEY.",
    )


LLM_MODEL_OPTION: Any = typer.Option(None, "--llm-model", help="Model name for --llm-url.")


@contextmanager
def json_on_stdout(enabled: bool) -> Iterator[None]:
    """While ``enabled``, the shared ``console`` writes to stderr, so stdout holds only the
    JSON the command prints."""
    if not enabled:
        yield
        return
    console.file = sys.stderr
    try:
        yield
    finally:
        console.file = None  # type: ignore[assignment]  # back to the current sys.stdout


def legacy_json_args(args: list[str]) -> list[str]:
    """``--json PATH`` -> ``--json-out PATH`` and ``--json -`` -> ``--json`` for the
    commands where ``--json`` once took a path (there a word after the switch was its
    path); other args unchanged."""
    if not args or args[0] not in _LEGACY_JSON_PATH:
        return args
    out: list[str] = []
    i = 0
    while i < len(args):
        arg, nxt = args[i], args[i + 1] if i + 1 < len(args) else None
        if arg == "--json" and nxt == "-":
            out.append("--json")
            i += 2
            continue
        if arg == "--json" and nxt is not None and not nxt.startswith("-"):
            err_console.print(f"Note: --json {nxt} is now written --json-out {nxt}.")
            out += ["--json-out", nxt]
            i += 2
            continue
        if arg.startswith("--json=") and arg != "--json=-":
            out.append("--json-out=" + arg.removeprefix("--json="))
        else:
            out.append("--json" if arg == "--json=-" else arg)
        i += 1
    return out
