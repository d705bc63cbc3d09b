"""Lead-to-account matching for ownership holds: by company domain, then company name.

Built once per account list and queried per lead on the routing hot path: the exact steps are
dictionary look-ups; only a lead that misses both runs the fuzzy step (rapidfuzz over the
normalised company-name keys of all accounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from leadpilot.errors import ConfigError
from leadpilot.ingest.identity import (
    FREE_MAIL_DOMAINS,
    company_domain,
    domain_from_url,
    normalize_company_name,
)
from leadpilot.schema import Account, Lead

__all__ = ["AccountMatch", "AccountMatcher", "MatchMethod"]

MatchMethod = Literal["domain", "company_exact", "company_fuzzy"]

# Keys shorter than this never match fuzzily: one changed letter in "ibm" or "acme" is a
# different company far more often than a typo, and holds must not grab foreign leads.
_MIN_FUZZY_KEY_LENGTH = 5


@dataclass(frozen=True, slots=True)
class AccountMatch:
    """The account a lead belongs to, how it was found, and why.

    ``score`` is 100 for the exact methods and the rapidfuzz similarity (0-100) for
    ``company_fuzzy``.
    """

    account: Account
    method: MatchMethod
    score: float
    explanation: str


def _domain_candidates(domain: str) -> list[str]:
    """``mail.eu.acme.com`` -> [``mail.eu.acme.com``, ``eu.acme.com``, ``acme.com``]: a lead
    on a subdomain belongs to the account of the parent domain."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


class AccountMatcher:
    """Find the account of a lead: domain first, then exact company key, then fuzzy name.

    Parameters
    ----------
    accounts:
        The known accounts. When two accounts share a domain or a name key, the first one in
        the given order wins (put the owned / strategic account first if that matters).
    fuzzy_threshold:
        Minimum rapidfuzz ``token_sort_ratio`` (0-100) between normalised company names for a
        fuzzy match. 90 accepts a typo or two in a medium-length name ("Initech Systms" vs
        "Initech Systems": 96.6) and rejects different companies that share a word
        ("Acme Robotics" vs "Acme Logistics": 74.1).

    Example
    -------
    >>> from leadpilot.schema import Account, Lead
    >>> m = AccountMatcher([Account("a1", name="Acme Corp", domain="acme.com")])
    >>> m.match(Lead("l1", email="jo@acme.com")).method
    'domain'
    """

    def __init__(self, accounts: Sequence[Account], *, fuzzy_threshold: float = 90.0) -> None:
        if not 0.0 <= fuzzy_threshold <= 100.0:
            raise ConfigError(
                f"fuzzy_threshold must lie between 0 and 100, got {fuzzy_threshold}",
                hint="use e.g. 90 (strict) or 85 (looser); 100 disables fuzzy name matching",
            )
        self.fuzzy_threshold = float(fuzzy_threshold)
        self._by_domain: dict[str, Account] = {}
        self._by_key: dict[str, Account] = {}
        for account in accounts:
            domain = domain_from_url(account.domain) if account.domain else None
            if domain and domain not in FREE_MAIL_DOMAINS:
                self._by_domain.setdefault(domain, account)
            key = normalize_company_name(account.name)
            if key:
                self._by_key.setdefault(key, account)
        self._fuzzy_keys: list[str] = [k for k in self._by_key if len(k) >= _MIN_FUZZY_KEY_LENGTH]

    def match(self, lead: Lead) -> AccountMatch | None:
        """Return the lead's account match, or ``None`` when no account fits."""
        return self.match_fields(domain=lead.domain, email=lead.email, company=lead.company)

    def match_fields(
        self, *, domain: str | None = None, email: str | None = None, company: str | None = None
    ) -> AccountMatch | None:
        """Same as :meth:`match` from loose fields (e.g. a row of a frame or a raw payload)."""
        lead_domain = _lead_domain(domain, email)
        if lead_domain is not None and self._by_domain:
            for candidate in _domain_candidates(lead_domain):
                account = self._by_domain.get(candidate)
                if account is not None:
                    via = "" if candidate == lead_domain else f" (parent of {lead_domain})"
                    return AccountMatch(
                        account,
                        "domain",
                        100.0,
                        f"domain {candidate}{via} equals account {_label(account)}'s domain",
                    )
        key = normalize_company_name(company)
        if key is None:
            return None
        account = self._by_key.get(key)
        if account is not None:
            return AccountMatch(
                account,
                "company_exact",
                100.0,
                f"company {company!r} has the same name key {key!r} as account {_label(account)}",
            )
        if len(key) < _MIN_FUZZY_KEY_LENGTH or not self._fuzzy_keys:
            return None
        best = process.extractOne(
            key,
            self._fuzzy_keys,
            scorer=fuzz.token_sort_ratio,
            processor=None,
            score_cutoff=self.fuzzy_threshold,
        )
        if best is None:
            return None
        best_key, score, _index = best
        account = self._by_key[best_key]
        return AccountMatch(
            account,
            "company_fuzzy",
            float(score),
            f"company {company!r} is similar to account {_label(account)} "
            f"(token_sort_ratio {score:.1f} >= {self.fuzzy_threshold:g} on keys "
            f"{key!r} / {best_key!r})",
        )


def _lead_domain(domain: str | None, email: str | None) -> str | None:
    if domain:
        parsed = domain_from_url(domain)
        if parsed and parsed not in FREE_MAIL_DOMAINS:
            return parsed
    return company_domain(email)


def _label(account: Account) -> str:
    return f"{account.name} ({account.account_id})" if account.name else account.account_id
