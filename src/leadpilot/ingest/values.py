"""Value normalisation: booleans, numbers, dates, company sizes, from the text of CRM exports.

Each ``parse_*_column`` takes a Series of strings (``""`` = missing) and returns a
:class:`Parsed`: the typed values plus a mask of the cells that could not be read and why.
Single-value helpers (``parse_bool``, ``parse_number``, ``parse_company_size``) serve the API.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.schema import SIZE_BANDS, size_band_midpoint, size_band_of

__all__ = [
    "FALSE_TOKENS",
    "MISSING_TOKENS",
    "TRUE_TOKENS",
    "DateColumn",
    "Parsed",
    "is_missing",
    "parse_bool",
    "parse_bool_column",
    "parse_company_size",
    "parse_date_column",
    "parse_number",
    "parse_number_column",
    "parse_size_column",
]

# Text that means "no value" in typed columns (case-insensitive, after trimming).
MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "nil", "-", "--", "#n/a", "(blank)", "unknown"}
)
TRUE_TOKENS: frozenset[str] = frozenset(
    {"yes", "y", "true", "t", "1", "1.0", "won", "closed won", "closed-won", "converted", "x"}
    # French, German/Dutch, Spanish/Italian, Portuguese exports
    | {"oui", "ja", "si", "sí", "sim"}
)
FALSE_TOKENS: frozenset[str] = frozenset(
    {"no", "n", "false", "f", "0", "0.0", "lost", "closed lost", "closed-lost", "not converted"}
    | {"non", "nein", "nee", "não", "nao"}
)
_BOOL_MAP: dict[str, bool] = {
    **dict.fromkeys(TRUE_TOKENS, True),
    **dict.fromkeys(FALSE_TOKENS, False),
}


@dataclass(frozen=True)
class Parsed:
    """Typed values of one column, the mask of unreadable cells, and what was expected."""

    values: pd.Series
    bad: NDArray[np.bool_]
    expected: str
    note: str | None = None


def is_missing(series: pd.Series) -> NDArray[np.bool_]:
    """Mask of cells that hold no value (empty or a token such as ``N/A``)."""
    return series.str.strip().str.lower().isin(MISSING_TOKENS).to_numpy()


# ---------------------------------------------------------------- booleans


def parse_bool(value: object) -> bool | None:
    """Parse ``Yes/No/Y/N/true/false/1/0/Won/Lost`` (any case); ``None`` when missing.

    Raises ``ValueError`` for anything else.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in MISSING_TOKENS:
        return None
    if text in _BOOL_MAP:
        return _BOOL_MAP[text]
    raise ValueError(f"{value!r} is not a yes/no value")


def parse_bool_column(series: pd.Series) -> Parsed:
    """Parse a column of yes/no text into pandas' nullable ``boolean``."""
    text = series.str.strip().str.lower()
    missing = text.isin(MISSING_TOKENS).to_numpy()
    mapped = text.map(_BOOL_MAP)
    bad = mapped.isna().to_numpy() & ~missing
    values = pd.array(mapped.where(~bad & ~missing, None).tolist(), dtype="boolean")
    return Parsed(pd.Series(values, index=series.index), bad, "yes/no (Yes, No, true, 1, Won...)")


# ---------------------------------------------------------------- numbers

_CURRENCY = re.compile(r"(?i)^(?:usd|eur|gbp|chf|cad|aud|brl|inr|jpy|r\$|us\$|[$€£¥₹])\s*")
_CURRENCY_END = re.compile(r"(?i)\s*(?:usd|eur|gbp|chf|cad|aud|brl|inr|jpy|[$€£¥₹])$")
_SUFFIX = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}
_NUMBER_BODY = re.compile(r"^[+-]?(?:\d+(?:[.,]\d+)*|\d*[.,]\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:[,.' \u00a0\u202f]\d{3})+$")


def parse_number(value: object, *, decimal_comma: bool = False) -> float | None:
    """Parse a number written by a person or a spreadsheet; ``None`` when missing.

    Accepts thousands separators (``1,234,567`` / ``1.234.567`` / ``1 234``), a decimal comma
    (``12,5``), currency signs or codes (``$1,200``, ``1.200 EUR``), percent signs, accounting
    negatives ``(1,200)`` and ``k``/``M``/``bn`` suffixes. Raises ``ValueError`` otherwise.
    A lone ``1.234`` is read as a decimal unless ``decimal_comma`` says the column writes
    decimals with a comma (then it is 1234, and ``1,234`` is 1.234).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text.lower() in MISSING_TOKENS:
        return None
    original = text
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text.startswith("-") and len(text) > 1 and not text[1].isdigit():
        negative, text = True, text[1:].strip()  # "-$1,200"
    text = _CURRENCY.sub("", text)
    text = _CURRENCY_END.sub("", text).strip()
    text = text.removesuffix("%").strip()
    scale = 1.0
    match = re.match(r"^(.*?)(?i:\s*(k|mm|m|bn|b))$", text)
    if match and re.search(r"\d", match.group(1)):
        text, scale = match.group(1), _SUFFIX[match.group(2).lower()]
    if decimal_comma and re.fullmatch(r"[+-]?[\d. \u00a0\u202f']*(,\d+)?", text):
        number = float(re.sub(r"[. \u00a0\u202f']", "", text).replace(",", "."))
    elif _GROUPED.match(text):
        # 1,234 / 1.234.567 / 1 234: a separator before exactly three digits, repeated.
        # A single "1.234" is ambiguous; English exports mean a decimal point there.
        if re.fullmatch(r"[+-]?\d{1,3}\.\d{3}", text):
            number = float(text)
        else:
            number = float(re.sub(r"[,.' \u00a0\u202f]", "", text))
    else:
        text = re.sub(r"[' \u00a0\u202f]", "", text)
        if not _NUMBER_BODY.match(text):
            raise ValueError(f"{original!r} is not a number")
        if "," in text and "." in text:
            decimal = "," if text.rfind(",") > text.rfind(".") else "."
            thousands = "." if decimal == "," else ","
            text = text.replace(thousands, "").replace(decimal, ".")
        elif "," in text:
            if text.count(",") > 1:
                raise ValueError(f"{original!r} is not a number")
            text = text.replace(",", ".")
        elif text.count(".") > 1:
            raise ValueError(f"{original!r} is not a number")
        number = float(text)
    number *= scale
    return -number if negative else number


_LEADING_CURRENCY = re.compile(r"^([+-]?)\s*(?:[$€£¥₹]|(?i:usd|eur|gbp)\s)\s*")
_US_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"^[^,.]*\d,\d{1,2}$|\d\.\d{3},\d")


def parse_number_column(series: pd.Series, *, minimum: float | None = None) -> Parsed:
    """Parse a column of numbers; values below ``minimum`` count as unreadable.

    Whether the column writes decimals with a comma (``12,5``, ``1.200,00``) is decided once
    for the column, so that ``3.000`` in such a column is three thousand.
    """
    stripped = series.str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS).to_numpy()
    # Both spellings of _DECIMAL_COMMA hold a comma: only values with one are searched.
    comma = stripped.str.contains(",", regex=False, na=False)
    decimal_comma = bool(comma.any()) and bool(
        stripped[comma].str.contains(_DECIMAL_COMMA, na=False).any()
    )
    if decimal_comma:
        values = np.full(len(series), np.nan)
    else:
        # Vectorised first pass for the common spellings ("$1,234.50", "1,200"); only what
        # it cannot read goes through parse_number one value at a time. A value that reads
        # as a number as it is has no currency sign nor comma, so the cleaning leaves it as
        # it is: only the others are cleaned (the regexes cost most of the column's time).
        plain = pd.to_numeric(stripped.where(~missing, None), errors="coerce")
        rest = (plain.isna().to_numpy() & ~missing).nonzero()[0]
        cleaned = stripped.copy()
        if len(rest):
            part = stripped.iloc[rest].str.replace(_LEADING_CURRENCY, r"\1", regex=True)
            grouped = part.str.fullmatch(_US_GROUPED, na=False)
            part = part.where(~grouped, part.str.replace(",", "", regex=False))
            cleaned.iloc[rest] = part
        fast = pd.to_numeric(cleaned.where(~missing, None), errors="coerce")
        values = fast.to_numpy(dtype=float, na_value=np.nan).copy()
    slow = np.flatnonzero(np.isnan(values) & ~missing)
    bad = np.zeros(len(series), dtype=bool)
    texts = stripped.to_numpy()
    for i in slow.tolist():
        try:
            parsed = parse_number(texts[i], decimal_comma=decimal_comma)
        except ValueError:
            bad[i] = True
            continue
        values[i] = np.nan if parsed is None else parsed
    infinite = np.isinf(values)
    bad |= infinite
    expected = "a number"
    if minimum is not None:
        below = ~np.isnan(values) & (values < minimum)
        bad |= below
        values[below] = np.nan
        expected = f"a number >= {minimum:g}"
    values[bad] = np.nan
    return Parsed(pd.Series(values, index=series.index, dtype="float64"), bad, expected)


# ---------------------------------------------------------------- company size

_BAND = re.compile(
    r"^\s*([\d][\d,.\s]*?)\s*(?:-|–|—|to)\s*([\d][\d,.\s]*?)\s*(?:employees)?\s*$", re.I
)
_OPEN_BAND = re.compile(
    r"^\s*(?:>=?\s*|over\s+|more than\s+)?([\d][\d,.\s]*?)\s*\+?\s*(?:employees)?\s*$", re.I
)
_UNDER = re.compile(
    r"^\s*(?:<|under|less than|fewer than)\s*([\d][\d,.\s]*?)\s*(?:employees)?$", re.I
)
_CANONICAL_BANDS = {label for label, *_ in SIZE_BANDS}


def parse_company_size(value: object) -> tuple[float | None, str | None]:
    """Return ``(employees, size_band)`` from a head count or a band.

    A band's midpoint stands for the count (``51-200`` -> 125.5); an open band ``N+`` is
    represented by ``2 N`` (so ``5000+`` -> 10,000, the canonical top-band midpoint) and
    ``<N`` by ``N / 2``. The band is always the canonical ``SIZE_BANDS`` label of that count.

    >>> parse_company_size("10,001+")
    (20002.0, '5000+')
    """
    if value is None:
        return None, None
    text = str(value).strip()
    if text.lower() in MISSING_TOKENS:
        return None, None
    if text in _CANONICAL_BANDS:
        mid = size_band_midpoint(text)
        return mid, text
    employees: float | None
    match = _BAND.match(text)
    if match:
        low, high = parse_number(match.group(1)), parse_number(match.group(2))
        if low is None or high is None or high < low:
            raise ValueError(f"{value!r} is not a company size band")
        employees = (low + high) / 2
    elif text.endswith("+") or re.match(r"^\s*(?:>|over|more than)", text, re.I):
        match = _OPEN_BAND.match(text)
        low = parse_number(match.group(1)) if match else None
        if low is None:
            raise ValueError(f"{value!r} is not a company size band")
        employees = 2 * low
    elif _UNDER.match(text):
        high = parse_number(_UNDER.match(text).group(1))  # type: ignore[union-attr]
        if high is None:
            raise ValueError(f"{value!r} is not a company size band")
        employees = high / 2
    else:
        try:
            employees = parse_number(text)
        except ValueError:
            raise ValueError(f"{value!r} is neither an employee count nor a band") from None
    if employees is None or employees < 0:
        raise ValueError(f"{value!r} is not a valid employee count")
    return employees, size_band_of(employees)


def parse_size_column(series: pd.Series) -> tuple[Parsed, pd.Series]:
    """Parse company sizes; returns the employee counts and the canonical bands."""
    employees = np.full(len(series), np.nan)
    bands: list[str | None] = [None] * len(series)
    bad = np.zeros(len(series), dtype=bool)
    cache: dict[str, tuple[float | None, str | None] | None] = {}
    for i, text in enumerate(series.tolist()):
        if text not in cache:
            try:
                cache[text] = parse_company_size(text)
            except ValueError:
                cache[text] = None
        result = cache[text]
        if result is None:
            bad[i] = True
            continue
        count, band = result
        employees[i] = np.nan if count is None else count
        bands[i] = band
    parsed = Parsed(
        pd.Series(employees, index=series.index, dtype="float64"),
        bad,
        "an employee count or a band like 51-200, 1000+ or '1 to 10'",
    )
    return parsed, pd.Series(bands, index=series.index, dtype=object)


# ---------------------------------------------------------------- dates

_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
_HAS_ZONE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|\b(?:UTC|GMT))\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DateColumn:
    """How a date column was read: ``order`` is ``"iso"``, ``"month-first"`` or ``"day-first"``;
    ``ambiguous`` is true when no value settled the order (every day <= 12)."""

    order: str
    ambiguous: bool = False


def _decide_order(text: pd.Series, dayfirst: bool | None) -> DateColumn:
    parts = text.str.extract(_NUMERIC_DATE).dropna()
    if parts.empty:
        return DateColumn("iso")
    first, second = parts[0].astype(int), parts[1].astype(int)
    if dayfirst is not None:
        return DateColumn("day-first" if dayfirst else "month-first")
    day_first_evidence = bool((first > 12).any())
    month_first_evidence = bool((second > 12).any())
    if day_first_evidence and not month_first_evidence:
        return DateColumn("day-first")
    if month_first_evidence and not day_first_evidence:
        return DateColumn("month-first")
    if day_first_evidence and month_first_evidence:
        # Both orders appear: follow the majority; the minority become row errors below.
        return DateColumn(
            "day-first" if (first > 12).sum() >= (second > 12).sum() else "month-first"
        )
    return DateColumn("month-first", ambiguous=True)


def _parse_dates(text: pd.Series, how: DateColumn) -> pd.Series:
    if how.order == "iso":
        values = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        retry = values.isna().to_numpy()
        if retry.any():  # a mix, e.g. "Mar 5, 2024": read the rest one by one
            values[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
        return values
    values = pd.to_datetime(
        text, format="mixed", dayfirst=how.order == "day-first", errors="coerce", utc=True
    )
    # dateutil silently swaps day and month when the chosen order is impossible ("13/01"
    # read month-first); such values contradict the column's order and are errors.
    parts = text.str.extract(_NUMERIC_DATE)
    nums = parts[[0, 1]].apply(pd.to_numeric, errors="coerce")
    month_pos = 1 if how.order == "day-first" else 0
    values = values.mask((nums[month_pos] > 12).to_numpy())
    return values


def _zoned(text: pd.Series) -> NDArray[np.bool_]:
    """``text.str.contains(_HAS_ZONE, na=False)``: a value ending in ``z`` matches (the ``Z``
    alternative, any case) and one ending in a character no alternative ends with cannot;
    only the rest (ending in a digit, ``c``/``t`` of UTC/GMT, or space) is searched, which
    in an ISO column (every value ``...Z``) is none."""
    out = np.zeros(len(text), dtype=bool)
    undecided = []
    for i, value in enumerate(text.tolist()):
        if not isinstance(value, str) or not value:
            continue
        last = value[-1]
        if last in "zZ":
            out[i] = True
        elif last.isdigit() or last in "cCtT" or last.isspace():
            undecided.append(i)
    if undecided:
        out[undecided] = text.iloc[undecided].str.contains(_HAS_ZONE, na=False).to_numpy()
    return out


def parse_date_column(
    series: pd.Series, *, dayfirst: bool | None = None, timezone: str = "UTC"
) -> tuple[Parsed, DateColumn]:
    """Parse a column of dates / timestamps to UTC.

    ISO 8601 is read as is. For numeric dates like ``03/04/2024`` the day/month order is
    decided once for the whole column from the data (a first number > 12 means day-first, a
    second number > 12 month-first); when no value settles it, month-first (US) is assumed and
    ``DateColumn.ambiguous`` says so. ``dayfirst`` forces the order. Values with a zone
    (``Z``, ``+02:00``) are converted to UTC; naive values are taken in ``timezone``.
    """
    text = series.str.strip()
    missing = text.str.lower().isin(MISSING_TOKENS).to_numpy()
    how = _decide_order(text[~missing], dayfirst)
    zoned = _zoned(text)
    values = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    # Zoned and naive values are parsed apart: pandas reads a naive value in a mixed column
    # with the offset of its zoned neighbours.
    for subset in (zoned & ~missing, ~zoned & ~missing):
        if subset.any():
            values[subset] = _parse_dates(text[subset], how)
    if timezone != "UTC":
        naive = ~zoned & values.notna().to_numpy()
        if naive.any():
            local = (
                values[naive]
                .dt.tz_localize(None)
                .dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
            )
            values[naive] = local.dt.tz_convert("UTC")
    values = values.astype("datetime64[ns, UTC]")
    bad = values.isna().to_numpy() & ~missing
    expected = {
        "iso": "a date (ISO like 2024-03-05, or 03/05/2024)",
        "month-first": "a month-first date like 03/25/2024 (the column's order)",
        "day-first": "a day-first date like 25/03/2024 (the column's order)",
    }[how.order]
    return Parsed(values, bad, expected), how
