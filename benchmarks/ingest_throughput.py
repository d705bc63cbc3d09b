"""Intake throughput: seconds and rows per second of ``read_history`` (+ quality report).

Run:  python benchmarks/ingest_throughput.py [--rows 200000] [--data /work/shared/data]

Reads each real public data set found under ``--data`` and a generated canonical CSV of
``--rows`` rows (dates with zones, emails, size bands, US-formatted numbers), best of 3 runs.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _figures import record

from leadpilot.ingest import quality_report, read_history

SETS = {
    "maven-crm (folder)": "maven-crm-sales-opportunities",
    "olist (folder)": "olist-marketing-funnel",
    "x-education": "x-education-lead-scoring/Leads.csv",
    "bank-marketing": "uci-bank-marketing/bank-additional-full.csv",
}


def _generated(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 700, rows), unit="D"
    )
    bands = np.array(["1-10", "11-50", "51-200", "201-500", "1000+", "10,001+"])
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{i:07d}" for i in range(rows)],
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "email": [f"User{i}@Company{i % 5000}.com" for i in range(rows)],
            "source": rng.choice(["web", "event", "referral", "paid"], rows),
            "industry": rng.choice(["SaaS", "Fintech", "Retail", "Health"], rows),
            "company_size": rng.choice(bands, rows),
            "annual_revenue": [f"${v:,.0f}" for v in rng.lognormal(15, 1, rows)],
            "rep_id": rng.choice([f"r{i}" for i in range(40)], rows),
            "time_to_contact_hours": rng.exponential(5, rows).round(2),
            "converted": rng.choice(["Yes", "No"], rows, p=[0.2, 0.8]),
        }
    )
    frame.to_csv(path, index=False)


def _time(source: Path, repeat: int = 3) -> tuple[float, int]:
    best = float("inf")
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = read_history(source)
        quality_report(result.frame, ingest=result)
        best = min(best, time.perf_counter() - start)
        rows = result.n_read
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    print(f"{'source':<28}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    for name, rel in SETS.items():
        source = args.data / rel
        if not source.exists():
            continue
        seconds, rows = _time(source)
        print(f"{name:<28}{rows:>10,}{seconds:>10.2f}{rows / seconds:>12,.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.csv"
        _generated(path, args.rows)
        seconds, rows = _time(path, repeat=1)
        print(f"{'generated canonical':<28}{rows:>10,}{seconds:>10.2f}{rows / seconds:>12,.0f}")
        record(
            f"intake throughput, {rows:,} generated canonical rows (read + quality report)",
            rows / seconds,
            "rows/s",
            note=f"{seconds:.1f} s wall",
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
