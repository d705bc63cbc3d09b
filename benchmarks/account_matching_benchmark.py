"""Speed of lead-to-account matching: microseconds per lead with 1,000 accounts.

Run: ``python benchmarks/account_matching_benchmark.py [--accounts 1000] [--leads 20000]``
"""

from __future__ import annotations

import argparse
import random
import string
import time

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


if __name__ == "__main__":
    main()
