"""Output paths checked before any work is done, so a typo costs no minutes of computing.

Every command that writes a file (``--out``, ``--json``, ``--markdown``, ``--links-out``) calls
:func:`prepare_output_file` (or :func:`prepare_output_folder`) first: a folder given where a
file is expected, or a parent that cannot be created, becomes a ``ConfigError`` naming the
option and the path (exit code 2 in the CLI), never an ``OSError`` at the very end.
"""

from __future__ import annotations

from pathlib import Path

from leadpilot.errors import ConfigError

__all__ = ["prepare_output_file", "prepare_output_folder"]


def prepare_output_file(path: str | Path, *, option: str = "the output path") -> Path:
    """Check that ``path`` can be written as a file; create its missing parent folders."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"{option} {target} is a folder, not a file",
            hint=f"give {option} a file name, e.g. {target / 'out'}{target.suffix or '.csv'}",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{option} {target}: cannot create its folder {target.parent} ({exc.strerror})",
            hint=f"choose a path in a folder you can write to for {option}",
        ) from None
    return target


def prepare_output_folder(path: str | Path, *, option: str = "the output folder") -> Path:
    """Check that ``path`` is (or can become) a folder; create it."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ConfigError(
            f"{option} {target} is a file, not a folder",
            hint=f"give {option} a new or existing folder, e.g. {target.with_suffix('')}-dir",
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{option} {target}: cannot create this folder ({exc.strerror})",
            hint=f"choose a folder you can write to for {option}",
        ) from None
    return target
