"""Lead-to-account matching: domain, exact company key, fuzzy company name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from leadpilot.errors import ConfigError
from leadpilot.ingest.identity import normalize_company_name
from leadpilot.ingest.matching import AccountMatcher
from leadpilot.schema import Account, Lead

ACME = Account("acc-1", name="Acme Corp", domain="https://www.acme.com", owner_rep_id="rep-1")
INITECH = Account("acc-2", name="Initech Systems", domain="initech.io", owner_rep_id="rep-2")
GLOBEX = Account("acc-3", name="Globex Corporation", domain=None, owner_rep_id="rep-3")
GMAIL_SHOP = Account("acc-4", name="Tiny Shop", domain="gmail.com", owner_rep_id="rep-4")
ACCOUNTS = [ACME, INITECH, GLOBEX, GMAIL_SHOP]


@pytest.fixture(scope="module")
def matcher() -> AccountMatcher:
    return AccountMatcher(ACCOUNTS)


def test_domain_from_email(matcher: AccountMatcher) -> None:
    m = matcher.match(Lead("l1", email="Jo@ACME.com", company="Something Else"))
    assert m is not None
    assert (m.account.account_id, m.method, m.score) == ("acc-1", "domain", 100.0)
    assert m.explanation == "domain acme.com equals account Acme Corp (acc-1)'s domain"


def test_lead_domain_field_wins_over_email(matcher: AccountMatcher) -> None:
    m = matcher.match(Lead("l1", email="jo@acme.com", domain="www.initech.io"))
    assert m is not None
    assert m.account.account_id == "acc-2"


def test_subdomain_matches_parent(matcher: AccountMatcher) -> None:
    m = matcher.match(Lead("l1", email="jo@eu.mail.acme.com"))
    assert m is not None
    assert m.account is ACME
    assert "parent of eu.mail.acme.com" in m.explanation


def test_free_mail_never_matches_by_domain(matcher: AccountMatcher) -> None:
    # the account that (wrongly) lists gmail.com as its domain must not capture gmail leads
    assert matcher.match(Lead("l1", email="someone@gmail.com")) is None
    assert matcher.match(Lead("l1", domain="gmail.com")) is None


def test_free_mail_falls_through_to_company(matcher: AccountMatcher) -> None:
    m = matcher.match(Lead("l1", email="bob@gmail.com", company="ACME, Inc."))
    assert m is not None
    assert (m.account.account_id, m.method, m.score) == ("acc-1", "company_exact", 100.0)
    assert "'acme'" in m.explanation


def test_fuzzy_company_match_with_score(matcher: AccountMatcher) -> None:
    m = matcher.match(Lead("l1", email="x@hotmail.com", company="Initech Systms"))
    assert m is not None
    assert m.method == "company_fuzzy"
    assert m.account is INITECH
    # whole names 96.55, weakest word pair 'systms'/'systems' 92.31: the score is the lower
    assert fuzz.token_sort_ratio("initech systms", "initech systems") == pytest.approx(96.55, 1e-3)
    assert m.score == pytest.approx(fuzz.ratio("systms", "systems"))
    assert m.score == pytest.approx(92.31, abs=0.01)
    assert "weakest word 'systms'/'systems' 92.3" in m.explanation


@pytest.mark.parametrize(
    "company",
    [
        "Acme Robotics",  # shares a word with Acme Corp but is another company
        "Initech Networks",  # whole name close to Initech Systems? no: 'networks'/'systems'
        "Globex Corporation Europe",
        "Acne Corp",  # key 'acne' is too short for a fuzzy match
        "Globex Industry Partners",
        "",
        None,
    ],
)
def test_no_false_matches(matcher: AccountMatcher, company: str | None) -> None:
    assert matcher.match(Lead("l1", email="x@yahoo.com", company=company)) is None


def test_first_account_wins_on_shared_domain() -> None:
    a = Account("a", name="Acme US", domain="acme.com")
    b = Account("b", name="Acme EU", domain="acme.com")
    m = AccountMatcher([a, b]).match(Lead("l", email="x@acme.com"))
    assert m is not None
    assert m.account is a


def test_threshold_is_respected() -> None:
    strict = AccountMatcher([INITECH], fuzzy_threshold=98)
    assert strict.match(Lead("l", company="Initech Systms")) is None
    loose = AccountMatcher([INITECH], fuzzy_threshold=80)
    assert loose.match(Lead("l", company="Initech Systms")) is not None


def test_bad_threshold_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="between 0 and 100"):
        AccountMatcher([], fuzzy_threshold=120)


def test_empty_matcher_matches_nothing() -> None:
    assert AccountMatcher([]).match(Lead("l", email="a@acme.com", company="Acme")) is None


@given(st.text(min_size=1, max_size=30))
def test_exact_name_always_finds_its_account(name: str) -> None:
    key = normalize_company_name(name)
    account = Account("x", name=name)
    m = AccountMatcher([account]).match(Lead("l", company=name))
    if key is None:
        assert m is None
    else:
        assert m is not None
        assert (m.account, m.method) == (account, "company_exact")


def test_odd_word_keeps_similar_names_apart() -> None:
    matcher = AccountMatcher([Account("a", name="Clearfield Works GmbH")])
    # whole names 91.4 (>= 90) but 'networks' / 'works' only 76.9
    assert fuzz.token_sort_ratio("clearfield networks", "clearfield works") > 90
    assert matcher.match(Lead("l", company="Clearfield Networks Corp")) is None
    m = matcher.match(Lead("l", company="Clearfeld Works"))
    assert m is not None
    assert m.method == "company_fuzzy"


def test_link_accounts_on_a_synthetic_world() -> None:
    # ground truth of the synthetic world: a lead belongs to an account when it works at
    # that company (same company name, or same domain). Every link must be right, and
    # every lead of an account company with a company domain or name must be linked.
    from leadpilot.ingest.matching import link_accounts
    from leadpilot.synth import generate_world

    world = generate_world(n_leads=2_000, n_reps=8, n_new_leads=400, seed=5)
    accounts = [
        Account(str(r.account_id), name=str(r.name), domain=str(r.domain))
        for r in world.accounts.itertuples(index=False)
    ]
    leads = world.new_leads
    links = link_accounts(leads, accounts)
    by_id = {a.account_id: a for a in accounts}
    name_of = {a.name: a.account_id for a in accounts}
    linked = links.dropna(subset=["account_id"])
    assert len(linked) > 50
    for lead_company, account_id in zip(
        leads.set_index("lead_id").loc[linked.lead_id, "company"], linked.account_id, strict=True
    ):
        assert normalize_company_name(lead_company) == normalize_company_name(
            by_id[account_id].name
        )
    expected = leads.company.map(name_of).notna()
    assert links.account_id.notna().to_numpy().tolist() == expected.to_numpy().tolist()
