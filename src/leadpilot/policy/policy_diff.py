"""A unified diff of two stored policy versions' YAML text (the API and the CLI agree)."""

from __future__ import annotations

import difflib

__all__ = ["policy_text_diff"]


def policy_text_diff(old: str, new: str, from_version: str, to_version: str) -> str:
    """The unified diff from ``old`` to ``new`` (empty when the texts are equal)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"policy@{from_version}",
        tofile=f"policy@{to_version}",
    )
    return "".join(lines)
