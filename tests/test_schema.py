"""Size bands and record contracts."""

from __future__ import annotations

import math

import pytest

from leadpilot.schema import SIZE_BANDS, Lead, size_band_midpoint, size_band_of


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (1, "1-10"),
        (10, "1-10"),
        (11, "11-50"),
        (200, "51-200"),
        (201, "201-500"),
        (1000, "501-1000"),
        (1001, "1001-5000"),
        (5000, "1001-5000"),
        (5001, "5000+"),
        (250_000, "5000+"),
        (0, None),
        (None, None),
        (math.nan, None),
    ],
)
def test_size_band_boundaries(employees: float | None, band: str | None) -> None:
    assert size_band_of(employees) == band


def test_every_band_midpoint_lies_in_its_band() -> None:
    for label, low, high, mid in SIZE_BANDS:
        assert low <= mid <= high
        assert size_band_of(mid) == label
        assert size_band_midpoint(label) == mid


def test_unknown_band_lists_allowed_values() -> None:
    with pytest.raises(ValueError, match="allowed: 1-10, 11-50"):
        size_band_midpoint("huge")


def test_lead_get_reads_fields_and_attributes() -> None:
    lead = Lead(lead_id="L1", industry="Software", attributes={"demo_request": True})
    assert lead.get("industry") == "Software"
    assert lead.get("demo_request") is True
    assert lead.get("missing") is None
