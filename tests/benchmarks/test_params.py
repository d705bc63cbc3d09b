"""The benchmark scripts' ``name=value`` model parameters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_literal_params_keep_python_types_and_split_at_the_first_equals() -> None:
    spec = importlib.util.spec_from_file_location("_params", BENCH / "_params.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    got = module.literal_params(["bags=10", "refit_all=False", "span=(1, 2.5)", "name='a=b'"])
    assert got == {"bags": 10, "refit_all": False, "span": (1, 2.5), "name": "a=b"}
    assert isinstance(got["bags"], int)
    assert module.literal_params([]) == {}
