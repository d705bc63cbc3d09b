"""Suite-wide set-up: where the shared real data sets live.

CI clones the repository with ``shared/`` beside it; a developer's checkout may sit
elsewhere. ``LEADPILOT_DATA_DIR`` is resolved once here, before test modules are imported,
so every test and benchmark reads the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "data",
    Path("/work/shared/data"),
)

if "LEADPILOT_DATA_DIR" not in os.environ:
    found = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
    os.environ["LEADPILOT_DATA_DIR"] = str(found)
