"""Router tests import their shared helpers (routing_helpers.py) from this folder; fixtures
they share."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def without_fairness_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard fairness guard switched off: for tests of the prices' own work, whose
    one-slot rep (equal shares) can never reach the band's bottom, so the guard would hand
    her the lead whatever the prices say."""
    from leadpilot.policy.strategies import predictive

    monkeypatch.setattr(predictive, "FAIRNESS_GUARD", False)
