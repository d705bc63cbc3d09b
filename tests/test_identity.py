"""Identity normalisation: emails, domains, company-name keys."""

from __future__ import annotations

import pytest

from leadpilot.ingest.identity import (
    company_domain,
    domain_from_url,
    normalize_company_name,
    normalize_email,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jane.Doe@ACME.com ", "jane.doe@acme.com"),
        ("mailto:a@b.io", "a@b.io"),
        ("not an email", None),
        ("a@b", None),
        (None, None),
        (3.0, None),
    ],
)
def test_normalize_email(raw: object, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/pricing", "acme.com"),
        ("acme.co.uk", "acme.co.uk"),
        ("http://sub.acme.com:8080/x", "sub.acme.com"),
        ("localhost", None),
        ("", None),
    ],
)
def test_domain_from_url(raw: str, expected: str | None) -> None:
    assert domain_from_url(raw) == expected


def test_company_domain_skips_free_mail() -> None:
    assert company_domain(email="bob@gmail.com") is None
    assert company_domain(email="bob@initech.com") == "initech.com"
    assert company_domain(email="bob@gmail.com", website="www.initech.com") == "initech.com"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME, Inc.", "Acme Incorporated"),
        ("The Widget Co", "widget company"),
        ("Smith & Sons Ltd", "Smith and Sons"),
        ("Müller GmbH", "Muller"),
    ],
)
def test_company_keys_match(a: str, b: str) -> None:
    assert normalize_company_name(a) == normalize_company_name(b)
    assert normalize_company_name(a)
