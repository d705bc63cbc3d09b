"""Suite-wide set-up: where the shared real data sets live, and the ``shared_data`` marker.

The public CRM data sets are not in this repository: they sit in ``shared/data`` beside the
clone (``../shared/data``, each with a README naming its source and license). Point
``LEADPILOT_DATA_DIR`` elsewhere if yours live elsewhere. A test marked
``@pytest.mark.shared_data("maven-crm-sales-opportunities")`` skips with a reason when the data
set is missing, and fails when ``LEADPILOT_REQUIRE_SHARED_DATA=1`` (as CI sets it), the way
PostgreSQL and chromium tests do. ``LEADPILOT_DATA_DIR`` is resolved here, before test modules
are imported, so every test and benchmark reads the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if "LEADPILOT_DATA_DIR" not in os.environ:
    os.environ["LEADPILOT_DATA_DIR"] = str(Path(__file__).resolve().parents[2] / "shared" / "data")

DATA_DIR = Path(os.environ["LEADPILOT_DATA_DIR"])
REQUIRE_SHARED_DATA = os.environ.get("LEADPILOT_REQUIRE_SHARED_DATA") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, when required, fail) a test whose shared data sets are missing."""
    names = [name for mark in item.iter_markers("shared_data") for name in mark.args]
    missing = [name for name in names if not (DATA_DIR / name).exists()]
    if not missing:
        return
    what = ", ".join(missing)
    if REQUIRE_SHARED_DATA:
        pytest.fail(
            f"shared data set {what} is required (LEADPILOT_REQUIRE_SHARED_DATA=1) but not "
            f"found under {DATA_DIR}"
        )
    pytest.skip(
        f"shared data set {what} not found under {DATA_DIR}: put the shared/data folder "
        "beside the clone or set LEADPILOT_DATA_DIR (see the README's Development section)"
    )
