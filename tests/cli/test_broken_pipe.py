"""A reader that leaves early (``leadpilot ... | head``) is not a bug report."""

from __future__ import annotations

import shlex
import subprocess
import sys


def test_a_reader_that_leaves_early_ends_quietly() -> None:
    command = f"{shlex.quote(sys.executable)} -m leadpilot.cli.main synth --help | head -20"
    for _ in range(3):  # `head` leaving mid-write is a race: give it a few chances to show
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
        assert done.stdout.strip()
        assert "Unexpected error" not in done.stderr
        assert "bug in leadpilot" not in done.stderr
