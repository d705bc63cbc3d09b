"""The CLI starts instantly: building the app and printing any command's help load none of the
scientific, database or web libraries (they load inside the commands that use them).

No timing assertion (timings belong to ``benchmarks/``): the import set is what makes start-up
fast on every machine, and it is checked exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import leadpilot

# Each of these costs 0.1-3 s of import; none is needed to parse arguments or print help.
HEAVY = (
    "alembic",
    "fastapi",
    "httpx",
    "jinja2",
    "lightgbm",
    "numpy",
    "openpyxl",
    "pandas",
    "psycopg",
    "pydantic",
    "rapidfuzz",
    "recordlinkage",
    "scipy",
    "sklearn",
    "sqlalchemy",
    "uvicorn",
    "yaml",
)

# Commands a user has today; a lazy-loading change must not lose any (new ones may be added).
KNOWN_COMMANDS = {
    "analyze",
    "db",
    "dedupe",
    "demo",
    "evaluate",
    "load",
    "policy",
    "route",
    "route-batch",
    "serve",
    "simulate",
    "synth",
    "token",
    "train",
    "validate",
}

# Runs in a fresh interpreter. A meta-path hook records, for the first import of each heavy
# package, the innermost leadpilot frame that asked for it, so a failure names the line to fix.
_PROBE = r"""
import json, sys, traceback

HEAVY = set(json.loads(sys.argv[1]))
culprits = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in HEAVY and root not in culprits:
            frames = [f for f in traceback.extract_stack() if "leadpilot" in f.filename]
            where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "outside leadpilot"
            culprits[root] = where
        return None

sys.meta_path.insert(0, Spy())
from typer.main import get_command
from typer.testing import CliRunner
import leadpilot.cli.main as cli

app = cli.build_app()
after_build = dict(culprits)
group = get_command(app)
names = sorted(group.commands)
helps = {}
for args in [["--help"]] + [[name, "--help"] for name in names]:
    helps[" ".join(args)] = CliRunner().invoke(app, args, terminal_width=200).output
print(json.dumps({"after_build": after_build, "after_help": culprits, "commands": names,
                  "helps": helps}))
"""


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    """What a fresh interpreter imports to build the CLI and print every help."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    src = str(Path(leadpilot.__file__).parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_building_the_cli_and_every_help_load_no_heavy_library(probe: dict[str, object]) -> None:
    hint = "move the import inside the command that needs it (type-only: under TYPE_CHECKING)"
    assert probe["after_build"] == {}, f"building the CLI imports {probe['after_build']}: {hint}"
    assert probe["after_help"] == {}, f"printing help imports {probe['after_help']}: {hint}"


def test_help_lists_every_command(probe: dict[str, object]) -> None:
    commands = set(probe["commands"])  # type: ignore[call-overload]
    assert commands >= KNOWN_COMMANDS, f"commands lost: {KNOWN_COMMANDS - commands}"
    helps: dict[str, str] = probe["helps"]  # type: ignore[assignment]
    # rows of the Commands panel look like "│ route-batch  Route a file of leads ..."
    first_words = [line.strip("│ ").split()[:1] for line in helps["--help"].splitlines()]
    listed = {words[0] for words in first_words if words and words[0] in commands}
    assert listed == commands
    for name in commands:
        assert "Usage: " in helps[f"{name} --help"], name


def test_help_time_constants_equal_the_library_ones() -> None:
    # The CLI spells these so that --help needs no SQLAlchemy / LightGBM; they must not drift.
    from leadpilot.analyze.core import TARGETS as AUDIT_TARGETS
    from leadpilot.cli.simulate import DEFAULT_CLIP
    from leadpilot.cli.token import ROLES
    from leadpilot.evaluate.replay import DEFAULT_CLIP as REPLAY_CLIP
    from leadpilot.model import TARGETS as MODEL_TARGETS
    from leadpilot.schema import TARGETS
    from leadpilot.store.tokens import ROLES as STORE_ROLES

    assert ROLES == STORE_ROLES
    assert DEFAULT_CLIP == REPLAY_CLIP
    assert TARGETS == MODEL_TARGETS == AUDIT_TARGETS
