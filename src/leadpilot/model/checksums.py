"""Checksums of a saved model's files: what the registry records, and the check before a
registered version is loaded (a file edited, swapped or truncated since it was registered
refuses to load, naming the file)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from leadpilot.errors import ModelError
from leadpilot.model.value_artifacts import VALUE_FILES

__all__ = ["artifact_checksums", "verify_checksums"]

_MODEL_JSON = "model.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_checksums(directory: Path) -> dict[str, str]:
    """SHA-256 of ``model.json``, of every model file it lists and of the deal-value model
    saved beside it, when there is one (``model.value_artifacts``)."""
    doc = json.loads((directory / _MODEL_JSON).read_text())
    names = [_MODEL_JSON, *(str(n) for n in doc.get("boosters", []))]
    names += [name for name in VALUE_FILES if (directory / name).is_file()]
    return {name: _sha256(directory / name) for name in names}


def verify_checksums(directory: Path, expected: Mapping[str, str], *, version: str) -> None:
    """Raise ``ModelError`` unless every file of ``expected`` is in ``directory`` with the
    recorded SHA-256 (and ``model.json`` lists no file the registry does not know)."""
    hint = (
        f"restore the files of {version} from a backup, or retrain with `leadpilot retrain` "
        "(`leadpilot model list` shows the versions that still load)"
    )
    if not expected:
        raise ModelError(
            f"model {version} has no recorded checksums, so its files cannot be trusted",
            hint=hint,
            details={"path": str(directory)},
        )
    for name, digest in sorted(expected.items()):
        path = directory / name
        if not path.is_file():
            raise ModelError(
                f"model {version}: file {name} is missing from {directory}",
                hint=hint,
                details={"path": str(path)},
            )
        actual = _sha256(path)
        if actual != digest:
            raise ModelError(
                f"model {version}: {name} in {directory} was changed after it was registered "
                f"(SHA-256 {actual[:12]}..., registered {digest[:12]}...); refusing to load it",
                hint=hint,
                details={"path": str(path)},
            )
    try:
        listed = set(artifact_checksums(directory))
    except (OSError, ValueError):
        listed = set()
    if listed - set(expected):
        raise ModelError(
            f"model {version}: {directory} lists model files the registry does not know "
            f"({', '.join(sorted(listed - set(expected)))})",
            hint=hint,
            details={"path": str(directory)},
        )
