"""Where a report comes from: when it was generated, from which file (name, rows, checksum)
and by which version, so a number quoted in a deck can be traced to its data."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from leadpilot import __version__
from leadpilot.ingest.history import IngestResult

__all__ = ["DATA_SUFFIXES", "file_sha256", "provenance", "provenance_line"]

DATA_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".xlsx", ".xls"})
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (read in 1 MiB chunks, so big exports stay cheap)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    """The export itself, or every data file of an export folder (e.g. the maven preset)."""
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
        )
    return [path] if path.is_file() else []


def provenance(
    frame: pd.DataFrame, ingest: IngestResult | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The report's provenance: ``generated_at`` (UTC, ISO 8601), ``leadpilot_version`` and
    ``source`` (name, reader format, rows read and used, and each file's size and SHA-256).
    Without a file (a frame handed in directly) the checksum is that of the frame written
    as CSV, and the source says so."""
    generated = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    path = ingest.path if ingest is not None else None
    files = [
        {"name": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in (_files(path) if path is not None else [])
    ]
    source: dict[str, Any] = {
        "name": path.name if path is not None else "a data frame (no file)",
        "format": ingest.format if ingest is not None else None,
        "rows_read": ingest.n_read if ingest is not None else len(frame),
        "files": files,
    }
    if not files:
        text = frame.to_csv(index=False).encode("utf-8")
        source["frame_sha256"] = hashlib.sha256(text).hexdigest()
    return {"generated_at": generated, "leadpilot_version": __version__, "source": source}


def provenance_line(prov: dict[str, Any]) -> str:
    """One sentence for a report's header: when, by which version, from which file(s)."""
    src = prov["source"]
    when = prov["generated_at"].replace("T", " ").replace("+00:00", " UTC")
    files = src["files"]
    if files:
        sums = "; ".join(f"{f['name']} SHA-256 {f['sha256'][:12]}…" for f in files)
        origin = f"{src['name']} ({src['rows_read']:,} rows read; {sums})"
    else:
        origin = (
            f"{src['name']} ({src['rows_read']:,} rows; SHA-256 of the rows as CSV "
            f"{src['frame_sha256'][:12]}…)"
        )
    return f"Generated {when} by leadpilot {prov['leadpilot_version']} from {origin}."
