"""``name=value`` options that pass model parameters to a benchmark script."""

from __future__ import annotations

import ast
from typing import Any


def literal_params(items: list[str]) -> dict[str, Any]:
    """``["refit_all=False", "bags=10"]`` -> ``{"refit_all": False, "bags": 10}``: each value
    a Python literal, so numbers, booleans, tuples and strings keep their types."""
    params: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        params[key] = ast.literal_eval(value)
    return params
