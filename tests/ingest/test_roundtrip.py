"""Property: whatever the delimiter, encoding and line ending, a canonical table written as
CSV comes back from read_history with the same values."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadpilot.ingest import read_history

_TEXT = (
    st.text(
        alphabet=st.characters(
            codec="cp1252", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\x00"
        ),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(lambda t: t.lower() not in {"", "nan", "null", "n/a", "#n/a", "na"})
)

_ROW = st.tuples(
    _TEXT,  # source (may hold , ; | quotes and accents)
    st.one_of(st.none(), st.booleans()),  # converted
    st.one_of(st.none(), st.integers(min_value=1, max_value=100_000)),  # company_size
    st.one_of(
        st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 2))
    ),  # deal_value
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_ROW, min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    thousands=st.booleans(),
)
def test_csv_round_trip(
    rows: list[tuple[str, bool | None, int | None, float | None]],
    delimiter: str,
    encoding: str,
    newline: str,
    thousands: bool,
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(["lead_id", "source", "converted", "company_size", "deal_value"])
    for i, (source, converted, size, value) in enumerate(rows):
        writer.writerow(
            [
                f"L{i}",
                source,
                "" if converted is None else ("Yes" if converted else "No"),
                "" if size is None else (f"{size:,}" if thousands else str(size)),
                "" if value is None else f"${value:,.2f}",
            ]
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(buffer.getvalue().encode(encoding))
        frame = read_history(path).frame
    assert frame["lead_id"].tolist() == [f"L{i}" for i in range(len(rows))]
    assert frame["source"].tolist() == [r[0] for r in rows]
    assert [None if pd.isna(v) else bool(v) for v in frame["converted"]] == [r[1] for r in rows]
    assert [None if pd.isna(v) else v for v in frame["company_size"]] == [r[2] for r in rows]
    assert [None if pd.isna(v) else v for v in frame["deal_value"]] == [r[3] for r in rows]
