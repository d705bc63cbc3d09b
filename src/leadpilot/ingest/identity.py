"""Identity normalisation shared by intake, dedupe and account matching.

Emails are lower-cased and trimmed; company domains come from emails or websites, except
free-mail providers (a gmail.com address says nothing about the company); company names are
reduced to a comparable key (case, punctuation and legal suffixes removed).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = [
    "FREE_MAIL_DOMAINS",
    "company_domain",
    "domain_from_email",
    "domain_from_url",
    "normalize_company_name",
    "normalize_email",
    "normalize_external_id",
]

# Consumer mail providers: their domains never identify a company. Kept short and explicit;
# unknown providers are treated as company domains (the conservative error for account holds
# is a missed match, not a false merge between two companies on the same provider).
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "t-online.de",
        "libero.it",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "rediffmail.com",
    }
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LEGAL_SUFFIXES = (
    "incorporated",
    "corporation",
    "company",
    "limited",
    "inc",
    "corp",
    "co",
    "llc",
    "ltd",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "spa",
    "srl",
    "pty",
    "pte",
    "kk",
    "lp",
    "llp",
    "group",
    "holdings",
)
_SUFFIX_RE = re.compile(r"(?:\s+(?:" + "|".join(_LEGAL_SUFFIXES) + r"))+$")


def normalize_email(value: object) -> str | None:
    """Return a trimmed, lower-cased email, or ``None`` if the value is not an email."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("<>").lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    return text if _EMAIL.match(text) else None


def domain_from_email(value: object) -> str | None:
    """Return the domain part of an email address (free-mail domains included)."""
    email = normalize_email(value)
    return email.rsplit("@", 1)[1] if email else None


def domain_from_url(value: object) -> str | None:
    """Return the host of a website or URL without ``www.``, lower-cased.

    >>> domain_from_url("https://www.Acme.com/pricing")
    'acme.com'
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if "@" in text and "://" not in text:
        return domain_from_email(text)
    host = urlsplit(text if "://" in text else f"//{text}").hostname
    if not host or "." not in host:
        return None
    return host[4:] if host.startswith("www.") else host


def company_domain(email: object = None, website: object = None) -> str | None:
    """Return the company domain from a website, else from a non-free-mail email."""
    domain = domain_from_url(website)
    if domain and domain not in FREE_MAIL_DOMAINS:
        return domain
    domain = domain_from_email(email)
    if domain and domain not in FREE_MAIL_DOMAINS:
        return domain
    return None


def normalize_company_name(value: object) -> str | None:
    """Return a comparison key for a company name: ASCII, lower case, no punctuation or
    legal suffix. ``"ACME, Inc."`` and ``"Acme Incorporated"`` give the same key ``"acme"``."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    text = re.sub(r"&", " and ", text.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    text = _SUFFIX_RE.sub("", text).strip()
    if text.startswith("the "):
        text = text[4:]
    return text or None


def normalize_external_id(value: object) -> str | None:
    """Return a CRM record id as a trimmed string (case kept: Salesforce ids are
    case-sensitive), ``"1234"`` for a float ``1234.0`` read from a spreadsheet, else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None
