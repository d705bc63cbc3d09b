"""Lead-to-account matching for ownership holds: by company domain, then company name.

Built once per account list and queried per lead on the routing hot path: the exact steps are
dictionary look-ups; only a lead that misses both runs the fuzzy step (rapidfuzz over the
normalised company-name keys of all accounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from rapidfuzz import fuzz, process

from leadpilot.errors import ConfigError
from leadpilot.ingest.identity import (
    FREE_MAIL_DOMAINS,
    company_domain,
    domain_from_url,
    normalize_company_name,
)
from leadpilot.schema import Account, Lead

__all__ = ["LINK_COLUMNS", "AccountMatch", "AccountMatcher", "MatchMethod", "link_accounts"]

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
        Minimum similarity (0-100) for a fuzzy match, required both of the whole normalised
        names (rapidfuzz ``token_sort_ratio``) and of every word with its closest word in
        the other name (``ratio``); the score is the smaller of the two. 90 accepts a typo
        in a medium-length name ("Initech Systms" vs "Initech Systems": 96.6 and 92.3) and
        rejects different companies that share words ("Acme Robotics" vs "Acme Logistics":
        74.1; "Clearfield Networks" vs "Clearfield Works": whole 91.4 but "networks" /
        "works" 76.9).

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
        # Shortlist by whole-name similarity (C speed), then require every word to have a
        # close counterpart: generic words dominate whole-name scores ("Clearfield Networks"
        # vs "Clearfield Works": 91.4) while the odd word tells companies apart ("networks"
        # vs "works": 76.9).
        shortlist = process.extract(
            key,
            self._fuzzy_keys,
            scorer=fuzz.token_sort_ratio,
            processor=None,
            score_cutoff=self.fuzzy_threshold,
            limit=5,
        )
        best: tuple[str, float, float, str] | None = None
        for candidate, whole, _index in shortlist:
            word_score, weakest = _weakest_word(key, candidate)
            score = min(float(whole), word_score)
            if score >= self.fuzzy_threshold and (best is None or score > best[1]):
                best = (candidate, score, word_score, weakest)
        if best is None:
            return None
        best_key, score, word_score, weakest = best
        account = self._by_key[best_key]
        return AccountMatch(
            account,
            "company_fuzzy",
            score,
            f"company {company!r} is similar to account {_label(account)} "
            f"(keys {key!r} / {best_key!r}: whole name "
            f"{fuzz.token_sort_ratio(key, best_key):.1f}, weakest word {weakest} "
            f"{word_score:.1f}, both >= {self.fuzzy_threshold:g})",
        )


def _weakest_word(a: str, b: str) -> tuple[float, str]:
    """The lowest, over the words of both names, of a word's best ``ratio`` to a word of the
    other name, with the pair that gives it ("'networks'/'works'")."""
    wa, wb = a.split(), b.split()
    worst, pair = 100.0, ""
    for words, others in ((wa, wb), (wb, wa)):
        for word in words:
            match, score, _ = process.extractOne(word, others, scorer=fuzz.ratio)
            if score < worst or not pair:
                worst, pair = float(score), f"{word!r}/{match!r}"
    return worst, pair


def _lead_domain(domain: str | None, email: str | None) -> str | None:
    if domain:
        parsed = domain_from_url(domain)
        if parsed and parsed not in FREE_MAIL_DOMAINS:
            return parsed
    return company_domain(email)


def _label(account: Account) -> str:
    return f"{account.name} ({account.account_id})" if account.name else account.account_id


LINK_COLUMNS = ("lead_id", "account_id", "method", "score", "explanation")


def link_accounts(
    leads: pd.DataFrame, accounts: Sequence[Account], *, fuzzy_threshold: float = 90.0
) -> pd.DataFrame:
    """Match every lead of a canonical frame to an account.

    Returns one row per lead with ``lead_id, account_id, method, score, explanation``
    (``account_id``/``method`` empty, ``score`` NaN, when no account fits).
    """
    matcher = AccountMatcher(accounts, fuzzy_threshold=fuzzy_threshold)
    rows: list[tuple[object, ...]] = []
    columns = {c: leads[c].tolist() if c in leads else [None] * len(leads) for c in _LEAD_COLS}
    for lead_id, domain, email, company in zip(*columns.values(), strict=True):
        found = matcher.match_fields(
            domain=_text(domain), email=_text(email), company=_text(company)
        )
        if found is None:
            rows.append((lead_id, None, None, float("nan"), None))
        else:
            rows.append(
                (lead_id, found.account.account_id, found.method, found.score, found.explanation)
            )
    return pd.DataFrame(rows, columns=list(LINK_COLUMNS))


_LEAD_COLS = ("lead_id", "domain", "email", "company")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
