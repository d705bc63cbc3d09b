"""Write a synthetic world as canonical CSV files plus ``truth.json`` (byte-reproducible)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError
from leadpilot.synth.world import World

__all__ = ["WORLD_FILES", "write_world"]

WORLD_FILES: tuple[str, ...] = (
    "history.csv",
    "reps.csv",
    "accounts.csv",
    "new_leads.csv",
    "truth.json",
)
# Whole-number columns are written without a trailing ".0".
_WHOLE = ("company_size", "annual_revenue", "engagement_score", "deal_value",
          "max_leads_per_day", "max_open_leads")  # fmt: skip


def write_world(world: World, out_dir: str | Path) -> list[Path]:
    """Write ``history.csv, reps.csv, accounts.csv, new_leads.csv, truth.json`` to ``out_dir``
    (created if needed) and return their paths. Canonical CSV: ISO-8601 UTC timestamps
    (``2025-03-04T10:15:00Z``), ISO dates, booleans ``true``/``false``, empty for unknown,
    ';'-separated lists in reps.csv. ``source_row`` is not written (it is the line number)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create output folder {str(out)!r}: {exc.strerror}",
            hint="pass --out a folder you can write to",
        ) from None
    frames = {
        "history.csv": world.history.drop(columns=["source_row"]),
        "reps.csv": world.reps,
        "accounts.csv": world.accounts,
        "new_leads.csv": world.new_leads.drop(columns=["source_row"]),
    }
    paths = []
    for name, frame in frames.items():
        path = out / name
        _format(frame).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        paths.append(path)
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(world.truth.to_dict(), indent=1) + "\n", encoding="utf-8")
    paths.append(truth_path)
    return paths


def _format(frame: pd.DataFrame) -> pd.DataFrame:
    """Render every column as text in the canonical CSV conventions."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            # numpy's C formatter: much faster than strftime on a million rows.
            raw = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
            text = np.char.add(np.datetime_as_string(raw, unit="s"), "Z").astype(object)
            out[col] = np.where(s.notna().to_numpy(), text, "")
        elif isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
            b = s.astype("boolean")
            out[col] = b.map({True: "true", False: "false"}).astype(object).where(b.notna(), "")
        elif col in _WHOLE:
            out[col] = s.astype("Float64").round().astype("Int64").astype("string").fillna("")
        elif col == "start_date":
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        else:
            out[col] = s
    return out
