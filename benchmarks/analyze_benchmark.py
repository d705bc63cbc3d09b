"""Benchmark of ``leadpilot analyze`` on a 200,000-lead history (goal: under 30 s end to end).

Generates a synthetic world (not timed), writes its history as CSV, then times reading it
through the intake, the audit, and writing the HTML, JSON and Markdown reports.

    python benchmarks/analyze_benchmark.py [--leads 200000] [--reps 40] [--seed 7]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from _figures import record

from leadpilot.analyze import analyze
from leadpilot.analyze.report_html import write_html
from leadpilot.analyze.report_md import write_markdown
from leadpilot.ingest import read_history
from leadpilot.synth import generate_world, write_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        world = generate_world(
            n_leads=args.leads, n_reps=args.reps, n_new_leads=100, seed=args.seed
        )
        write_world(world, out / "world")
        print(f"world generated and written (not timed): {time.perf_counter() - t0:.1f} s")
        history = out / "world" / "history.csv"

        t_start, cpu_start = time.perf_counter(), time.process_time()
        result = read_history(history)
        t_read = time.perf_counter()
        analysis = analyze(result.frame, ingest=result, seed=args.seed)
        t_analyze = time.perf_counter()
        write_html(analysis, out / "report.html")
        (out / "analysis.json").write_text(analysis.to_json(), encoding="utf-8")
        write_markdown(analysis, out / "report.md")
        t_end, cpu = time.perf_counter(), time.process_time() - cpu_start

        doc = analysis.to_dict()
        lift = doc["verdict"]["projected_lift"]
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"rows: {len(result.frame):,}  reps: {len(doc['conversion_by_rep'])}  "
            f"segments: {doc['recommendations']['segments']}"
        )
        print(f"read CSV (intake):   {t_read - t_start:6.2f} s")
        print(f"analyze:             {t_analyze - t_read:6.2f} s")
        print(
            f"write HTML/JSON/MD:  {t_end - t_analyze:6.2f} s "
            f"(HTML {(out / 'report.html').stat().st_size / 1024:.0f} KiB)"
        )
        print(f"total:               {t_end - t_start:6.2f} s   (goal < 30 s)")
        print(f"peak RSS:            {rss_mb:6.0f} MiB")
        supports = doc["verdict"]["supports_predictive_routing"]
        print(
            f"verdict: supports_predictive_routing={supports}, projected lift "
            f"{lift['value']:+.1%} ({lift['ci_low']:+.1%} to {lift['ci_high']:+.1%})"
        )
        record(
            f"leadpilot analyze end to end, {args.leads:,} leads (intake, audit, reports)",
            t_end - t_start,
            "s",
            target="< 30 s (200,000 leads)",
            met=t_end - t_start < 30 if args.leads >= 200_000 else None,
            work={"leads": args.leads},
            cpu_s=cpu,
            note=f"intake {t_read - t_start:.1f} s, audit {t_analyze - t_read:.1f} s",
        )


if __name__ == "__main__":
    main()
