"""Value normalisation: booleans, numbers, company sizes and dates, with property tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadpilot.ingest.values import (
    FALSE_TOKENS,
    TRUE_TOKENS,
    parse_bool,
    parse_bool_column,
    parse_company_size,
    parse_date_column,
    parse_number,
    parse_number_column,
)
from leadpilot.schema import SIZE_BANDS, size_band_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("N", False),
        ("TRUE", True),
        ("0", False),
        ("Won", True),
        ("lost", False),
        (" y ", True),
        ("", None),
        ("N/A", None),
    ],
)
def test_parse_bool(text: str, expected: bool | None) -> None:
    assert parse_bool(text) is expected


def test_parse_bool_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="'Maybe' is not a yes/no value"):
        parse_bool("Maybe")
    parsed = parse_bool_column(pd.Series(["yes", "Maybe", "", "NO"]))
    assert parsed.bad.tolist() == [False, True, False, False]
    assert parsed.values.tolist() == [True, pd.NA, pd.NA, False]


@given(
    token=st.sampled_from(sorted(TRUE_TOKENS | FALSE_TOKENS)),
    flips=st.lists(st.booleans(), min_size=20, max_size=20),
    pad=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_bool_tokens_any_case_and_padding(token: str, flips: list[bool], pad: str) -> None:
    cased = "".join(c.upper() if f else c for c, f in zip(token, flips, strict=False))
    assert parse_bool(pad + cased + pad) is (token in TRUE_TOKENS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", 1234.0),
        ("1.234.567", 1234567.0),
        ("1 234,5", 1234.5),
        ("$1,200.50", 1200.5),
        ("(1,200)", -1200.0),
        ("-$5", -5.0),
        ("12,5", 12.5),
        ("EUR 1.200,00", 1200.0),
        ("1.2M", 1_200_000.0),
        ("3k", 3000.0),
        ("85%", 85.0),
        ("1e3", 1000.0),
        ("", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "12..5", "$"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_number(text)


def test_decimal_comma_is_decided_per_column() -> None:
    eu = parse_number_column(pd.Series(["€ 3.000", "12,5", "1.200,50"]))
    assert eu.values.tolist() == [3000.0, 12.5, 1200.5]
    us = parse_number_column(pd.Series(["3.000", "1,234"]))
    assert us.values.tolist() == [3.0, 1234.0]


@given(
    number=st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
    currency=st.sampled_from(["", "$", "€ ", "USD "]),
)
def test_number_round_trip_with_thousands_separators(number: object, currency: str) -> None:
    value = float(number)  # type: ignore[arg-type]
    sign = "-" if value < 0 else ""
    text = f"{sign}{currency}{abs(value):,.2f}"
    parsed = parse_number(text)
    assert parsed == pytest.approx(value, abs=1e-6)
    european = f"{abs(value):,.2f}".replace(",", " ").replace(".", ",")
    column = parse_number_column(pd.Series([sign + european]))
    assert column.values.iloc[0] == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "employees", "band"),
    [
        ("51-200", 125.5, "51-200"),
        ("1000+", 2000.0, "1001-5000"),
        ("10,001+", 20002.0, "5000+"),
        ("5000+", 10000.0, "5000+"),
        ("1 to 10", 5.5, "1-10"),
        ("<10", 5.0, "1-10"),
        ("201 - 500 employees", 350.5, "201-500"),
        ("1,500", 1500.0, "1001-5000"),
        ("7", 7.0, "1-10"),
        ("", None, None),
    ],
)
def test_company_size(text: str, employees: float | None, band: str | None) -> None:
    assert parse_company_size(text) == (employees, band)


def test_company_size_rejects_words() -> None:
    with pytest.raises(ValueError, match="neither an employee count nor a band"):
        parse_company_size("Small")


@given(st.integers(min_value=1, max_value=200_000))
def test_count_lands_in_its_canonical_band(count: int) -> None:
    employees, band = parse_company_size(f"{count:,}")
    assert employees == count
    label, low, high, _mid = next(b for b in SIZE_BANDS if b[0] == band)
    assert low <= count <= high
    assert band == size_band_of(count) == label


def _dates(values: list[str], **kwargs: object) -> tuple[list[object], list[bool], str, bool]:
    parsed, how = parse_date_column(pd.Series(values), **kwargs)  # type: ignore[arg-type]
    return parsed.values.tolist(), parsed.bad.tolist(), how.order, how.ambiguous


def test_day_first_decided_from_the_column() -> None:
    values, bad, order, ambiguous = _dates(["03/04/2024", "13/04/2024"])
    assert order == "day-first"
    assert not ambiguous
    assert values[0] == pd.Timestamp("2024-04-03", tz="UTC")
    assert bad == [False, False]


def test_month_first_decided_from_the_column() -> None:
    values, _bad, order, _ = _dates(["03/04/2024", "04/13/2024", "3/5/24"])
    assert order == "month-first"
    assert values[0] == pd.Timestamp("2024-03-04", tz="UTC")
    assert values[2] == pd.Timestamp("2024-03-05", tz="UTC")


def test_ambiguous_column_defaults_to_us_and_says_so() -> None:
    values, _bad, order, ambiguous = _dates(["03/04/2024", "05/06/2024"])
    assert (order, ambiguous) == ("month-first", True)
    assert values[0] == pd.Timestamp("2024-03-04", tz="UTC")
    forced, _, order, _ = _dates(["03/04/2024"], dayfirst=True)
    assert order == "day-first"
    assert forced[0] == pd.Timestamp("2024-04-03", tz="UTC")


def test_value_contradicting_the_column_order_is_an_error() -> None:
    values, bad, order, _ = _dates(["03/04/2024", "13/04/2024", "25/04/2024", "04/13/2024"])
    assert order == "day-first"
    assert bad == [False, False, False, True]
    assert pd.isna(values[3])


def test_iso_zones_and_words() -> None:
    values, bad, _order, _ = _dates(
        ["2024-03-05T10:00:00Z", "2024-03-05T12:00:00+02:00", "Mar 5, 2024", "25.12.2023", "x"]
    )
    assert values[0] == values[1] == pd.Timestamp("2024-03-05 10:00", tz="UTC")
    assert values[2] == pd.Timestamp("2024-03-05", tz="UTC")
    assert bad == [False, False, False, False, True]


def test_eu_dotted_timestamps() -> None:
    values, _bad, order, _ = _dates(["25.12.2023 14:30", "01.02.2024 09:00"])
    assert order == "day-first"
    assert values[1] == pd.Timestamp("2024-02-01 09:00", tz="UTC")


def test_number_column_cleans_only_what_does_not_read_as_it_is() -> None:
    """The currency and grouping cleaning runs only on the values that do not read as a
    number as they are: every spelling still reads as by hand."""
    from leadpilot.ingest.values import parse_number_column

    texts = ["12.5", "$1,200", "1,234", "usd 5", "n/a", "(1,200)", "1e3", "", "€7", "-3",
             "inf", "abc", "1,234.50", "+4"]  # fmt: skip
    parsed = parse_number_column(pd.Series(texts, dtype=object))
    got = parsed.values.tolist()
    want = [12.5, 1200.0, 1234.0, 5.0, None, -1200.0, 1000.0, None, 7.0, -3.0,
            None, None, 1234.5, 4.0]  # fmt: skip
    for g, w, t in zip(got, want, texts, strict=True):
        assert np.isnan(g) if w is None else g == w, t
    assert parsed.bad.tolist() == [t in ("inf", "abc") for t in texts]
    # a decimal-comma column is still told apart (both of its spellings hold a comma)
    comma = parse_number_column(pd.Series(["12,5", "3.000", "7"], dtype=object))
    assert comma.values.tolist() == [12.5, 3000.0, 7.0]


def test_zoned_is_the_zone_regex() -> None:
    """``_zoned`` decides by the last character where it can; it agrees with searching
    ``_HAS_ZONE`` in every value."""
    from leadpilot.ingest.values import _HAS_ZONE, _zoned

    texts = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00z", "2024-01-01 10:00 UTC",
             "2024-01-01 10:00 gmt", "2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00-0500",
             "2024-01-01", "03/04/2024", "", "Mar 5, 2024", "10:00 CET", "2024-01-01T10:00 ",
             "UTC", "x+12:00", "Liz", "at"]  # fmt: skip
    series = pd.Series(texts, dtype=object)
    want = series.str.contains(_HAS_ZONE, na=False).to_numpy()
    assert _zoned(series).tolist() == want.tolist()
    assert want.tolist()[:6] == [True] * 6
    assert not want[6]
