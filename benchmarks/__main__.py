"""Run every benchmark, write ``benchmarks/results.json`` and the README's performance table.

    python -m benchmarks             # the full suite (about 10 minutes on 2 quiet cores)
    python -m benchmarks --smoke     # every script on tiny inputs: does it still run? (CI)
    python -m benchmarks --only router_latency_50 cli_startup
    python -m benchmarks --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Each benchmark script runs in its own process (so one's memory or threads cannot colour the
next) and hands its headline figures back through ``_figures.record``: the value, the floor
measured in the same run (the least any implementation must spend on the same work), the
target and the units of work. The suite adds each process's wall time, CPU time and peak RSS,
and describes the machine (CPU model, cores, load, package versions), because a latency means
little without the CPU time behind it and the machine it ran on.

The smoke mode asserts nothing about time: it fails only when a script fails. It writes
``results.smoke.json`` and leaves the README alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = ROOT / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
PACKAGES = (
    "leadpilot", "numpy", "pandas", "scipy", "scikit-learn", "lightgbm", "sqlalchemy",
    "psycopg", "fastapi", "uvicorn", "typer", "rich", "pydantic", "recordlinkage", "rapidfuzz",
)  # fmt: skip


@dataclass(frozen=True)
class Benchmark:
    """One entry of the suite: a script of ``benchmarks/`` with its full and smoke arguments
    (``smoke=None``: left out of the smoke run), or an in-suite measurement (``inline``)."""

    name: str
    script: str | None
    full: tuple[str, ...] = ()
    smoke: tuple[str, ...] | None = ()
    inline: Callable[[bool], list[dict[str, Any]]] | None = None
    postgres: bool = False  # add --db <url> when the suite is given --postgres


@dataclass
class Run:
    """What one process of the suite cost, and the figures it handed back."""

    name: str
    command: str
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    figures: list[dict[str, Any]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def _child(cmd: Sequence[str], env: dict[str, str]) -> tuple[int, float, float, float, str]:
    """Run ``cmd``; return its exit code, wall s, CPU s (user + system, its children
    included) and peak RSS in MiB (from ``wait4``, so exactly this process), and its output."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        before = os.times()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        after = os.times()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # children of the child (a server process) are in os.times() once reaped
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        cpu = max(cpu, usage.ru_utime + usage.ru_stime)
        out.seek(0)
        return proc.returncode, wall, cpu, usage.ru_maxrss / 1024, out.read()


def _env(figures: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)])}
    env.pop("LEADPILOT_BENCH_FIGURES", None)
    if figures is not None:
        env["LEADPILOT_BENCH_FIGURES"] = str(figures)
    return env


def cli_startup(smoke: bool) -> list[dict[str, Any]]:
    """CPU time of ``leadpilot --help`` and ``leadpilot route --help`` (median of 5 runs), next
    to the floor of any Typer CLI with Rich help: the interpreter, Typer, Rich and the help of
    a one-command app."""
    floor_app = (
        "import typer\n"
        "app = typer.Typer(rich_markup_mode='rich', add_completion=False)\n"
        "app.command('one')(lambda: None)\n"
        "app.command('two')(lambda: None)\n"
        "app(['--help'])\n"
    )
    repeats = 1 if smoke else 5
    env = _env()

    def cpu_of(cmd: list[str]) -> tuple[float, float]:
        runs = [_child(cmd, env) for _ in range(repeats)]
        for code, *_rest, output in runs:
            if code != 0:
                raise RuntimeError(f"{shlex.join(cmd)} failed:\n{output}")
        return statistics.median(r[2] for r in runs), statistics.median(r[1] for r in runs)

    floor_cpu, _ = cpu_of([sys.executable, "-c", floor_app])
    figures = []
    for args in (["--help"], ["route", "--help"]):
        cpu, wall = cpu_of([sys.executable, "-m", "leadpilot.cli.main", *args])
        figures.append(
            {
                "name": f"CLI start-up: leadpilot {' '.join(args)} (CPU)",
                "value": cpu * 1000,
                "unit": "ms",
                "floor": floor_cpu * 1000,
                "floor_what": "python + Typer + Rich help of a 2-command app",
                "target": "< 500 ms",
                "met": cpu < 0.5,
                "note": f"wall {wall * 1000:.0f} ms",
            }
        )
    return figures


def suite(postgres: str | None) -> list[Benchmark]:
    """Every benchmark, with the arguments of the full run and of the smoke run."""
    benches = [
        Benchmark("cli_startup", None, inline=cli_startup),
        Benchmark(
            "router_latency_50",
            "router_latency.py",
            ("--reps", "50", "--leads", "2000"),
            ("--reps", "20", "--leads", "60", "--history", "2000"),
        ),
        Benchmark(
            "router_latency_500", "router_latency.py", ("--reps", "500", "--leads", "500"), None
        ),
        Benchmark(
            "model_training",
            "model_training_benchmark.py",
            ("--rows", "1000000"),
            ("--rows", "20000", "--reps", "20"),
        ),
        Benchmark(
            "batch_router",
            "batch_router.py",
            ("--leads", "10000", "--reps", "100"),
            ("--leads", "200", "--reps", "10", "--history", "2000"),
        ),
        Benchmark(
            "router_quality",
            "router_benchmark.py",
            ("--seeds", "0", "1", "2", "3", "4"),
            ("--seeds", "0", "--leads", "3000", "--reps", "10", "--new-leads", "300"),
        ),
        Benchmark(
            "objectives",
            "objectives.py",
            ("--seeds", "0", "1", "2", "3"),
            ("--seeds", "0", "--leads", "2000", "--reps", "5", "--new-leads", "60"),
        ),
        Benchmark(
            "service_latency_sqlite",
            "service_latency.py",
            ("--rate", "100", "--requests", "3000"),
            ("--rate", "20", "--requests", "40"),
        ),
        Benchmark(
            "model_scoring",
            "model_scoring_benchmark.py",
            ("--calls", "2000"),
            ("--leads", "3000", "--reps", "20", "--calls", "50"),
        ),
        Benchmark(
            "model_routing_quality",
            "model_routing_quality.py",
            ("--seeds", "0", "1"),
            ("--seeds", "0", "--leads", "3000"),
        ),
        Benchmark(
            "model_quality",
            "model_quality_benchmark.py",
            ("--seeds", "2"),
            ("--seeds", "1", "--leads", "3000"),
        ),
        Benchmark(
            "ope_accuracy",
            "ope_accuracy.py",
            ("--seeds", "0", "--poor-seeds", "0"),
            ("--seeds", "0", "--poor-seeds", "--leads", "3000"),
        ),
        Benchmark(
            "simulate_speed",
            "simulate_speed.py",
            (),
            ("--history", "3000", "--replay", "400", "--strategies", "round_robin"),
        ),
        Benchmark("ingest", "ingest_throughput.py", ("--rows", "200000"), ("--rows", "2000")),
        Benchmark(
            "analyze",
            "analyze_benchmark.py",
            ("--leads", "200000"),
            ("--leads", "3000", "--reps", "10"),
        ),
        Benchmark("dedupe", "dedupe_benchmark.py", (), None),
        Benchmark(
            "account_matching",
            "account_matching_benchmark.py",
            (),
            ("--accounts", "100", "--leads", "500"),
        ),
        Benchmark(
            "synth",
            "synth_generate.py",
            ("--sizes", "20000,200000", "--seeds", "2"),
            ("--sizes", "2000", "--seeds", "1"),
        ),
    ]
    if postgres:
        benches.insert(
            5,
            Benchmark(
                "service_latency_postgres",
                "service_latency.py",
                ("--rate", "100", "--requests", "3000", "--db", postgres),
                ("--rate", "20", "--requests", "40", "--db", postgres),
            ),
        )
    # Replicas need PostgreSQL: the server of --postgres, else the test server (CI sets it).
    server = postgres or os.environ.get("LEADPILOT_TEST_POSTGRES_URL")
    if server:
        benches.append(
            Benchmark(
                "replica_throughput",
                "replica_throughput.py",
                ("--db", server),
                ("--db", server, "--smoke"),
            )
        )
    return benches


def run_one(bench: Benchmark, smoke: bool) -> Run:
    """Run one benchmark in its own process and collect its figures."""
    if bench.inline is not None:
        started, before = time.perf_counter(), os.times()
        figures = bench.inline(smoke)
        after = os.times()
        cpu = sum(after[:4]) - sum(before[:4])  # the suite's own CPU and its children's
        return Run(
            bench.name, f"(in the suite) {bench.name}", 0, time.perf_counter() - started, cpu, 0.0,
            figures,
        )  # fmt: skip
    assert bench.script is not None
    args = bench.smoke if smoke else bench.full
    assert args is not None
    cmd = [sys.executable, str(HERE / bench.script), *args]
    with tempfile.TemporaryDirectory() as tmp:
        sink = Path(tmp) / "figures.jsonl"
        code, wall, cpu, rss, output = _child(cmd, _env(sink))
        lines = sink.read_text().splitlines() if sink.exists() else []
        figures = [json.loads(line) for line in lines]
    shown = shlex.join(["python", f"benchmarks/{bench.script}", *args])
    return Run(bench.name, shown, code, wall, cpu, rss, figures, output.splitlines()[-40:])


def machine() -> dict[str, Any]:
    """The CPU model, cores, memory, load and package versions the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _with_derived(run: Run) -> list[dict[str, Any]]:
    out = []
    for fig in run.figures:
        fig = dict(fig)
        if fig.get("floor"):
            fig["ratio_to_floor"] = fig["value"] / fig["floor"]
        work = fig.get("work")
        if work and "cpu_s" in fig:
            unit, count = next(iter(work.items()))
            fig["cpu_ms_per_unit"] = fig["cpu_s"] * 1000 / count
            fig["unit_of_work"] = unit.rstrip("s") or unit
        out.append(fig)
    return out


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(results: dict[str, Any]) -> str:
    """The README's performance table (Markdown), regenerated from ``results``."""
    m = results["machine"]
    lines = [
        f"Measured by `python -m benchmarks` on {results['finished_at'][:10]}: {m['cpu_model']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; load average "
        f"{results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after (other "
        "processes shared the cores when it is above ~0.5). Package versions are in "
        "`benchmarks/results.json`. Ratio = figure / floor (the floor is measured in the same "
        "run: the least any implementation spends on the same work).",
        "",
        "| figure | value | floor | ratio | target | met | CPU per unit | benchmark process: "
        "CPU / wall, peak RSS |",
        "|---|---:|---:|---:|---|:---:|---:|---|",
    ]
    for run in results["runs"]:
        cost = f"{run['cpu_s']:.0f} s / {run['wall_s']:.0f} s"
        cost += f", {run['peak_rss_mib']:,.0f} MiB" if run["peak_rss_mib"] else ""
        figs = run["figures"] or [{"name": f"`{run['command']}` (no headline figure)"}]
        if run["returncode"] != 0:
            figs = [{"name": f"`{run['command']}` FAILED (exit {run['returncode']})"}]
        for fig in figs:
            met = {True: "yes", False: "**no**"}.get(fig.get("met"), "")
            ratio = fig.get("ratio_to_floor")
            note = f" ({fig['note']})" if fig.get("note") else ""
            floor = _fmt(fig.get("floor"), fig.get("unit", ""))
            if floor and fig.get("floor_what"):
                floor += f" ({fig['floor_what']})"
            per = fig.get("cpu_ms_per_unit")
            per_text = f"{_fmt(per, 'ms')} / {fig['unit_of_work']}" if per is not None else ""
            lines.append(
                f"| {fig['name']}{note} | {_fmt(fig.get('value'), fig.get('unit', ''))} | "
                f"{floor} | {f'{ratio:.1f}x' if ratio else ''} | {fig.get('target') or ''} | "
                f"{met} | {per_text} | {cost} `{run['name']}` |"
            )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    """Replace the README's block between the benchmark markers with ``text``."""
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} ... {END} block to regenerate")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny inputs, for CI")
    parser.add_argument("--only", nargs="+", default=None, help="run only these benchmarks")
    parser.add_argument("--postgres", default=None, help="also run the service on this database")
    parser.add_argument("--out", type=Path, default=None, help="where to write the results")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument(
        "--readme-only", action="store_true", help="regenerate the README table from --out"
    )
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        help="with --readme-only: first replace --out's runs by the same-named runs of this file "
        "(and add its runs --out does not have)",
    )
    args = parser.parse_args(argv)
    if args.readme_only:
        path = args.out or HERE / "results.json"
        results = json.loads(path.read_text())
        if args.merge is not None:
            newer = {run["name"]: run for run in json.loads(args.merge.read_text())["runs"]}
            names = {run["name"] for run in results["runs"]}
            results["runs"] = [newer.get(run["name"], run) for run in results["runs"]] + [
                run for name, run in newer.items() if name not in names
            ]  # a benchmark new to the suite is added
            results["merged"] = sorted(newer)
            path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        write_readme(table(results))
        return 0
    benches = [
        b
        for b in suite(args.postgres)
        if (args.only is None or b.name in args.only) and (not args.smoke or b.smoke is not None)
    ]
    unknown = set(args.only or ()) - {b.name for b in suite(args.postgres)}
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: "
                     + ", ".join(b.name for b in suite(args.postgres)))  # fmt: skip
    out = args.out or HERE / ("results.smoke.json" if args.smoke else "results.json")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    runs: list[Run] = []

    def save() -> dict[str, Any]:
        """Write what has run so far (a suite stopped half-way keeps its figures)."""
        results = {
            "mode": "smoke" if args.smoke else "full",
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_s": (datetime.now(UTC) - started).total_seconds(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "machine": machine(),
            "runs": [{**vars(run), "figures": _with_derived(run)} for run in runs],
        }
        out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        return results

    for bench in benches:
        print(f"== {bench.name}", flush=True)
        run = run_one(bench, args.smoke)
        runs.append(run)
        status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
        print(f"   {status}: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU", flush=True)
        for fig in run.figures:
            print(f"   {fig['name']}: {_fmt(fig['value'], fig['unit'])}", flush=True)
        if run.returncode != 0:
            print("\n".join(f"   | {line}" for line in run.tail), flush=True)
        save()
    results = save()
    print(f"wrote {out} ({results['wall_s']:.0f} s)")
    if not args.smoke and not args.no_readme and args.only is None:
        write_readme(table(results))
        print(f"regenerated the performance table in {README}")
    return 0 if all(run.returncode == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
