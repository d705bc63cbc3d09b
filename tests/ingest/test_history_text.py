"""``read_history``'s text cleaning: the one-pass readings of a column of text are pandas'
string methods' (``str.strip``, and the missing tokens after ``str.lower``), cell for cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadpilot.ingest.history import _stripped, _text

TEXTS = ["  Retail ", "NA", "na", " n/a", "NULL", "", "   ", "Nan", "\u00a0Acme\u2003", "none",
         "unknown", "#N/A", "x\t", "\nSaaS\n", "N.A."]  # fmt: skip


def _pandas_text(series: pd.Series, tokens: frozenset[str]) -> pd.Series:
    stripped = series.str.strip()
    missing = stripped.str.lower().isin(tokens)
    return stripped.where(~missing, None).astype(object)


def _same(a: pd.Series, b: pd.Series) -> bool:
    return a.index.equals(b.index) and all(
        (x is y) or (type(x) is type(y) and x == y)
        for x, y in zip(a.tolist(), b.tolist(), strict=True)
    )


@pytest.mark.parametrize("keep_na", [False, True])
def test_text_of_a_text_column_is_pandas_reading(keep_na: bool) -> None:
    series = pd.Series(TEXTS, index=np.arange(10, 10 + len(TEXTS)), dtype=object)
    tokens = frozenset({"", "nan", "null", "n/a", "#n/a", "na"} | {"unknown"})
    got = _text(series, frozenset({"unknown"}), keep_na=keep_na)
    want = _pandas_text(series, tokens - {"na"} if keep_na else tokens)
    assert _same(got, want)
    # by hand: blanks and tokens are None, the rest trimmed (unicode spaces too)
    assert got.iloc[0] == "Retail"
    assert got.iloc[8] == "Acme"
    assert (got.iloc[1] == "NA") is keep_na
    assert got.iloc[10] is None
    assert got.iloc[14] == "N.A."


def test_a_column_with_missing_cells_reads_as_before() -> None:
    """Not all text (a NaN, a number): pandas' own path, NaN where it gives NaN."""
    series = pd.Series([" a ", np.nan, 5, "NA"], dtype=object)
    got = _text(series, frozenset())
    assert got.iloc[0] == "a"
    assert np.isnan(got.iloc[1])
    assert np.isnan(got.iloc[2])
    assert got.iloc[3] is None
    assert _same(_stripped(series).iloc[[0, 3]], series.str.strip().iloc[[0, 3]])


def test_stripped_is_str_strip() -> None:
    series = pd.Series(TEXTS, dtype=object)
    assert _same(_stripped(series), series.str.strip())
