"""Finding Debian's chromium and Playwright for the browser tests, in one place.

Under ``LEADPILOT_REQUIRE_CHROMIUM=1`` (CI) a missing browser or Playwright fails the test;
otherwise it skips with the reason.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LEADPILOT_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("LEADPILOT_REQUIRE_CHROMIUM") == "1"


def chromium_path() -> str:
    """The chromium executable; fails or skips (see the module doc) when there is none."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        if REQUIRED:
            pytest.fail(
                f"chromium is required (LEADPILOT_REQUIRE_CHROMIUM=1) but {CHROMIUM} is missing"
            )
        pytest.skip("Debian's chromium is not installed")
    return found


def playwright_api() -> Any:
    """Playwright's sync API; the "required" check comes before any skip."""
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        if REQUIRED:
            pytest.fail(
                "playwright is required (LEADPILOT_REQUIRE_CHROMIUM=1) but not installed: "
                "pip install -e '.[dev]'"
            )
        pytest.skip("playwright is not installed")
