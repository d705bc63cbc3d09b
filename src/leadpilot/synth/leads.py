"""Companies and inbound leads with realistic fields, drawn with vectorised numpy.

Leads come from a shared pool of companies (so several leads share an account), with
people's emails on the company domain or on free-mail, sources, products, engagement and
intent signals (``demo_request``, ``pricing_page_visit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadpilot.synth.catalog import (
    COMPANY_HEADS,
    COMPANY_KINDS,
    COMPANY_TAILS,
    COUNTRIES,
    FIRST_NAMES,
    FREE_MAIL,
    INDUSTRIES,
    LAST_NAMES,
    LEGAL_SUFFIXES,
    PRODUCTS,
    SOURCES,
    TITLES,
)
from leadpilot.synth.truth import size_bands_of

__all__ = ["Companies", "draw_leads", "make_companies"]

FREE_MAIL_SHARE = 0.12
# Company pool cap: well under the smallest industry's name space (64 x 64 x 6 = 24,576
# names) times its share, so distinct names can always be drawn.
MAX_COMPANIES = 80_000


@dataclass(frozen=True)
class Companies:
    """Company pool: one entry per company, arrays of shape ``(n_companies,)``."""

    name: np.ndarray
    domain: np.ndarray
    industry: np.ndarray
    size: np.ndarray  # employees
    revenue: np.ndarray  # USD
    country: np.ndarray
    state: np.ndarray
    weight: np.ndarray  # probability that a lead comes from this company


def make_companies(rng: np.random.Generator, n: int) -> Companies:
    """Draw ``n`` distinct companies (at most ``MAX_COMPANIES``)."""
    n = int(min(max(n, 1), MAX_COMPANIES))
    ind_names = list(INDUSTRIES)
    ind_p = np.array([INDUSTRIES[i][0] for i in ind_names])
    ind_code = rng.choice(len(ind_names), n, p=ind_p / ind_p.sum())
    industry = np.array(ind_names, dtype=object)[ind_code]
    # Distinct (head, tail, kind) triples within each industry; kinds never overlap between
    # industries, so names are distinct overall.
    heads = np.empty(n, dtype=object)
    tails = np.empty(n, dtype=object)
    kinds = np.empty(n, dtype=object)
    n_ht = len(COMPANY_HEADS) * len(COMPANY_TAILS)
    for j, ind in enumerate(ind_names):
        rows = np.flatnonzero(ind_code == j)
        kind_list = COMPANY_KINDS[ind]
        code = rng.choice(n_ht * len(kind_list), len(rows), replace=False)
        ht, k = np.divmod(code, len(kind_list))
        h, t = np.divmod(ht, len(COMPANY_TAILS))
        heads[rows] = np.array(COMPANY_HEADS, dtype=object)[h]
        tails[rows] = np.array(COMPANY_TAILS, dtype=object)[t]
        kinds[rows] = np.array(kind_list, dtype=object)[k]
    stem = heads + tails
    country_names = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][1] for c in country_names])
    country = np.array(country_names, dtype=object)[
        rng.choice(len(country_names), n, p=shares / shares.sum())
    ]
    tld = np.array([COUNTRIES[c][3] for c in country], dtype=object)
    domain = stem + np.char.lower(kinds.astype(str)).astype(object) + "." + tld
    suffix = np.empty(n, dtype=object)
    for c, options in LEGAL_SUFFIXES.items():
        mask = country == c
        suffix[mask] = np.array(options, dtype=object)[rng.integers(0, len(options), mask.sum())]
    name = np.char.capitalize(stem.astype(str)).astype(object) + " " + kinds
    name = np.where(suffix != "", name + " " + suffix, name)
    state = np.full(n, None, dtype=object)
    for c, (_region, _share, _lang, _tld, states) in COUNTRIES.items():
        mask = country == c
        if states and mask.any():
            state[mask] = np.array(states, dtype=object)[rng.integers(0, len(states), mask.sum())]
    size = np.clip(np.round(rng.lognormal(np.log(90.0), 1.9, n)), 1, 250_000)
    revenue = np.round(size * rng.lognormal(np.log(160_000.0), 0.5, n), -3)
    # Popularity: a few companies send many leads (bigger ones a bit more often).
    weight = rng.pareto(1.6, n) + 1.0
    weight *= np.log10(size + 10.0)
    return Companies(name, domain, industry, size, revenue, country, state, weight / weight.sum())


def draw_leads(
    rng: np.random.Generator, companies: Companies, created_at: pd.Series
) -> pd.DataFrame:
    """One lead per ``created_at`` value, with person, company and marketing fields.

    Returns the canonical lead columns that describe the lead (no outcome or rep) plus
    ``demo_request``, ``pricing_page_visit`` and ``company_index`` (internal).
    """
    n = len(created_at)
    comp = rng.choice(len(companies.weight), n, p=companies.weight)
    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    free = rng.random(n) < FREE_MAIL_SHARE
    company_domain = companies.domain[comp]
    mail_domain = np.where(
        free, np.array(FREE_MAIL, dtype=object)[rng.integers(0, len(FREE_MAIL), n)], company_domain
    )
    local = first + "." + last
    # Free-mail addresses carry a number, as real ones do; keeps different people apart.
    number = rng.integers(1, 10_000, n).astype(str).astype(object)
    local = np.where(free, local + number, local)
    # Two different people with the same name at one company get distinct addresses.
    key = pd.Series(local + "@" + mail_domain)
    repeat = key.duplicated().to_numpy()  # hash-based: rare, so count only among repeats
    clash = np.zeros(n, dtype=np.int64)
    clash[repeat] = key[repeat].groupby(key[repeat]).cumcount().to_numpy() + 1
    local = np.where(clash > 0, local + clash.astype(str).astype(object), local)
    email = pd.Series(local + "@" + mail_domain)

    src_names = list(SOURCES)
    src_p = np.array([SOURCES[s][0] for s in src_names])
    source = np.array(src_names, dtype=object)[rng.choice(len(src_names), n, p=src_p / src_p.sum())]
    size = companies.size[comp]
    # Big companies more often look at the automation suite.
    prod_names = list(PRODUCTS)
    big = np.log10(size) > 3
    p_small = np.array([PRODUCTS[p][0] for p in prod_names])
    p_big = p_small * np.array([0.7, 1.0, 1.8])
    product = np.where(
        big,
        np.array(prod_names, dtype=object)[rng.choice(3, n, p=p_big / p_big.sum())],
        np.array(prod_names, dtype=object)[rng.choice(3, n, p=p_small / p_small.sum())],
    )
    warm = np.isin(source, ["Referral", "Partner", "Event", "Webinar"])
    engagement = np.round(100 * rng.beta(2.0 + warm, 3.0, n))
    demo = rng.random(n) < 1 / (1 + np.exp(-(-3.0 + 0.06 * (engagement - 45))))
    pricing = rng.random(n) < 1 / (1 + np.exp(-(-1.4 + 0.04 * (engagement - 45))))
    country = companies.country[comp]
    region = np.array([COUNTRIES[c][0] for c in COUNTRIES], dtype=object)
    lang = np.array([COUNTRIES[c][2] for c in COUNTRIES], dtype=object)
    cidx = pd.Categorical(country, categories=list(COUNTRIES)).codes
    return pd.DataFrame(
        {
            "created_at": created_at,
            "email": email.to_numpy(dtype=object),
            "company": companies.name[comp],
            "domain": np.where(free, np.array(None, dtype=object), company_domain),
            "source": source,
            "industry": companies.industry[comp],
            "company_size": size.astype(np.float64),
            "size_band": size_bands_of(size.astype(np.float64)),
            "annual_revenue": companies.revenue[comp].astype(np.float64),
            "region": region[cidx],
            "country": country,
            "state": companies.state[comp],
            "product": product,
            "engagement_score": engagement.astype(np.float64),
            "title": np.array(TITLES, dtype=object)[rng.integers(0, len(TITLES), n)],
            "language": lang[cidx],
            "demo_request": demo,
            "pricing_page_visit": pricing,
            "company_index": comp,
        }
    )
