"""Lead-to-account matching: microseconds per lead with 1,000 accounts, and the precision
of each match method on synthetic worlds whose companies are known.

Run: ``python benchmarks/account_matching_benchmark.py [--accounts 1000] [--leads 20000]``
"""

from __future__ import annotations

import argparse
import random
import string
import time

from _figures import record

from leadpilot.ingest.matching import AccountMatcher
from leadpilot.schema import Account, Lead


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(7)
    names = [f"{_word(rng).title()} {_word(rng).title()} Inc" for _ in range(args.accounts)]
    accounts = [
        Account(f"a{i}", name=n, domain=f"{n.split()[0].lower()}{i}.com")
        for i, n in enumerate(names)
    ]
    t0 = time.perf_counter()
    matcher = AccountMatcher(accounts)
    build_ms = (time.perf_counter() - t0) * 1e3

    def typo(name: str) -> str:
        i = rng.randrange(len(name))
        return name[:i] + name[i + 1 :]

    cases = {
        "domain": [Lead("l", email=f"x@{a.domain}") for a in accounts],
        "company_exact": [Lead("l", email="x@gmail.com", company=a.name) for a in accounts],
        "company_fuzzy": [Lead("l", email="x@gmail.com", company=typo(n)) for n in names],
        "miss": [
            Lead("l", email="x@gmail.com", company=f"{_word(rng)} {_word(rng)}") for _ in accounts
        ],
    }
    print(f"accounts={args.accounts}  build={build_ms:.1f} ms")
    print(f"{'path':<15}{'µs/lead':>10}{'matched':>10}")
    for path, leads in cases.items():
        reps = max(1, args.leads // len(leads))
        t0 = time.perf_counter()
        hits = 0
        for _ in range(reps):
            for lead in leads:
                hits += matcher.match(lead) is not None
        per = (time.perf_counter() - t0) / (reps * len(leads)) * 1e6
        print(f"{path:<15}{per:>10.1f}{hits / (reps * len(leads)):>10.1%}")
        record(f"account matching per lead, {path} path ({args.accounts:,} accounts)", per, "µs")
    synthetic_quality()


def synthetic_quality(seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)) -> None:
    """Precision of each link method on ``leadpilot synth`` worlds, whose companies are
    known: a link is right when the lead works at the account's company (same name). The
    synthetic names carry no typos, so every fuzzy link there is a false one: their count
    measures the fuzzy step's false-link rate on similar-looking company names."""
    from leadpilot.ingest.identity import normalize_company_name
    from leadpilot.ingest.matching import link_accounts
    from leadpilot.synth import generate_world

    totals: dict[str, list[int]] = {}
    missed = expected_total = 0
    for seed in seeds:
        world = generate_world(n_leads=2_000, n_reps=10, n_new_leads=2_000, seed=seed)
        accounts = [
            Account(str(r.account_id), name=str(r.name), domain=str(r.domain))
            for r in world.accounts.itertuples(index=False)
        ]
        names = {a.account_id: normalize_company_name(a.name) for a in accounts}
        keys = set(names.values())
        links = link_accounts(world.new_leads, accounts)
        lead_keys = world.new_leads["company"].map(normalize_company_name).tolist()
        for key, account, method in zip(lead_keys, links.account_id, links.method, strict=True):
            if isinstance(method, str):
                right = names[account] == key
                totals.setdefault(method, [0, 0])[0] += right
                totals[method][1] += 1
            elif key in keys:
                missed += 1
        expected_total += sum(k in keys for k in lead_keys)
    print(f"\nsynthetic worlds (seeds {seeds}, 2,000 new leads each, ~300 accounts)")
    print(f"{'method':<15}{'links':>8}{'correct':>10}{'precision':>11}")
    for method, (right, n) in sorted(totals.items()):
        print(f"{method:<15}{n:>8}{right:>10}{right / n:>11.1%}")
    print(f"leads of account companies left unlinked: {missed} of {expected_total}")


if __name__ == "__main__":
    main()
