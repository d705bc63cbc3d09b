"""``route`` takes at most 6 parameters (imports, cycles and private names are checked for
the whole package by ``tests/test_import_structure.py``)."""

from __future__ import annotations

import inspect

from leadpilot.policy import route


def test_route_takes_at_most_six_parameters() -> None:
    assert list(inspect.signature(route).parameters) == [
        "lead",
        "inputs",
        "state",
        "now",
        "rng",
        "declined",
    ]
