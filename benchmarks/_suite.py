"""The suite's bookkeeping, apart from running anything: ``results.json`` (format 2), merging
the runs of several invocations into it, the README's performance table, and the plan (how
long a tier should take on 2 quiet cores, from each entry's estimate).

``results.json`` keeps every benchmark's latest run, whichever invocation made it: a full
suite run replaces the suite's rows, ``--deep`` the deep tier's, ``--only`` just its own, and
the rest stay, each tied to the invocation (``invocations``) that measured it: its command,
tier, date, wall time, load average, commit and machine. The table names the newest complete
suite run in its header and marks every row measured by another invocation, with its date.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

FORMAT = 2
LEGACY_MERGED = "legacy-merged"


def load(path: Path) -> dict[str, Any]:
    """Read a results file; a format-1 file (one invocation's top-level fields) is upgraded."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read benchmark results {path}: {exc}") from exc
    if not isinstance(data, dict) or "runs" not in data:
        raise SystemExit(f"{path} is not a benchmark results file (no 'runs')")
    if data.get("format") == FORMAT:
        return data
    if "format" in data:
        raise SystemExit(f"{path} has results format {data['format']!r}; this suite reads {FORMAT}")
    return upgrade(data)


def upgrade(old: dict[str, Any]) -> dict[str, Any]:
    """A format-1 results file as format 2: its top-level fields become one invocation; the runs
    it listed under ``merged`` came from later invocations whose dates it did not keep."""
    inv_id = old["started_at"]
    invocation = {
        "id": inv_id,
        "command": "python -m benchmarks",
        "tier": "suite" if old.get("mode", "full") == "full" else old["mode"],
        "started_at": old["started_at"],
        "finished_at": old["finished_at"],
        "wall_s": old.get("wall_s"),
        "load_before": old.get("load_before"),
        "load_after": old.get("load_after"),
        "machine": old.get("machine"),
        "complete": False,
        "note": "converted from a format-1 results.json",
    }
    invocations = [invocation]
    merged = set(old.get("merged", ()))
    if merged:
        invocations.append(
            {
                "id": LEGACY_MERGED,
                "command": "python -m benchmarks --only ... (merged with --readme-only --merge)",
                "tier": "suite",
                "started_at": None,
                "machine": old.get("machine"),
                "complete": False,
                "note": "re-run after the invocation above; the date was not recorded",
            }
        )
    runs = []
    for run in old["runs"]:
        run = copy.deepcopy(run)
        run.setdefault("tier", "suite")
        run["invocation"] = LEGACY_MERGED if run["name"] in merged else inv_id
        runs.append(run)
    return {"format": FORMAT, "invocations": invocations, "runs": runs}


def merge(
    base: dict[str, Any] | None, new: dict[str, Any], known: Sequence[str] | None = None
) -> dict[str, Any]:
    """``base`` with ``new``'s runs in place of its same-named ones (runs ``new`` does not have
    are kept, with the invocation that measured them). With ``known`` (every benchmark's name,
    in the suite's order), runs of benchmarks no longer in the suite are dropped and the runs
    are put in that order."""
    runs = {run["name"]: run for run in (base or {}).get("runs", [])}
    runs.update({run["name"]: run for run in new["runs"]})
    ordered = list(runs.values())
    if known is not None:
        rank = {name: i for i, name in enumerate(known)}
        ordered = sorted((r for r in ordered if r["name"] in rank), key=lambda r: rank[r["name"]])
    invocations = {inv["id"]: inv for inv in (base or {}).get("invocations", [])}
    invocations.update({inv["id"]: inv for inv in new.get("invocations", [])})
    used = {run["invocation"] for run in ordered}
    return {
        "format": FORMAT,
        "invocations": [inv for inv in invocations.values() if inv["id"] in used],
        "runs": copy.deepcopy(ordered),
    }


def derived(figures: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each figure with its ratio to the floor (value / floor; none without a positive floor)
    and its CPU milliseconds per unit of work (``cpu_s`` over the first count of ``work``)."""
    out = []
    for fig in figures:
        fig = dict(fig)
        floor = fig.get("floor")
        if floor is not None and floor > 0:
            fig["ratio_to_floor"] = fig["value"] / floor
        work = fig.get("work")
        if work and fig.get("cpu_s") is not None:
            unit, count = next(iter(work.items()))
            if count:
                fig["cpu_ms_per_unit"] = fig["cpu_s"] * 1000 / count
                fig["unit_of_work"] = singular(unit)
        out.append(fig)
    return out


def singular(unit: str) -> str:
    """The unit of work's name for one unit: leads -> lead, deliveries -> delivery."""
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    return unit.removesuffix("s") or unit


def makespan(estimates: Sequence[float], lanes: int) -> float:
    """Wall time of jobs started longest first, each on the first free lane of ``lanes``
    (what the suite's quality phase does), given each job's wall time."""
    free = [0.0] * max(lanes, 1)
    for est in sorted(estimates, reverse=True):
        i = free.index(min(free))
        free[i] += est
    return max(free)


def reference(results: dict[str, Any]) -> dict[str, Any]:
    """The invocation the table's header describes: the newest complete suite-tier run, else
    the newest suite-tier run, else the newest invocation with a date."""
    dated = [inv for inv in results["invocations"] if inv.get("started_at")]
    if not dated:
        raise SystemExit("benchmark results without a dated invocation: nothing to describe")
    suites = [inv for inv in dated if inv.get("tier") == "suite"]
    complete = [inv for inv in suites if inv.get("complete")]
    return max(complete or suites or dated, key=lambda inv: inv["started_at"])


def fmt(value: float | None, unit: str = "") -> str:
    """A figure for the table: thousands separated from 100 up, 3 significant digits below."""
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def _when(inv: dict[str, Any]) -> str:
    started = inv.get("started_at")
    if not started:
        return "date not recorded"
    if len(started) == len("2026-12-03"):  # a run recorded by its date only
        return started
    text = datetime.fromisoformat(started).strftime("%Y-%m-%d %H:%M")
    finished = inv.get("finished_at")
    if finished:
        text += datetime.fromisoformat(finished).strftime("-%H:%M")
    return text + " UTC"


def _load(inv: dict[str, Any]) -> str:
    parts = []
    if inv.get("load_before"):
        parts.append(f"{inv['load_before'][0]:.1f} before")
    if inv.get("load_max") is not None:
        parts.append(f"{inv['load_max']:.1f} at most")
    if inv.get("load_after"):
        parts.append(f"{inv['load_after'][0]:.1f} after")
    return "load average (1 min) " + ", ".join(parts) if parts else "load not recorded"


def _machine(m: dict[str, Any] | None) -> str:
    if not m:
        return "machine not recorded"
    return f"{m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}"


def _describe(inv: dict[str, Any]) -> str:
    bits = [f"`{inv['command']}`", f"{inv.get('tier', '?')} tier", _when(inv)]
    if inv.get("wall_s") is not None:
        bits.append(f"{inv['wall_s']:,.0f} s wall")
    bits.append(_load(inv))
    if inv.get("commit"):
        bits.append(f"commit {inv['commit']}")
    if inv.get("note"):
        bits.append(inv["note"])
    return ", ".join(bits)


def table(results: dict[str, Any]) -> str:
    """The README's performance table (Markdown) from ``results``: a header naming the
    reference run (its wall time, load, machine), one row per figure, and a footnote for each
    other invocation whose rows it shows; rows measured before the reference run started say
    so, with their date."""
    ref = reference(results)
    invocations = {inv["id"]: inv for inv in results["invocations"]}
    m = ref.get("machine") or {}
    packages = m.get("packages") or {}
    shown = ", ".join(f"{k} {packages[k]}" for k in ("numpy", "scipy", "lightgbm", "pandas")
                      if packages.get(k))  # fmt: skip
    lines = [
        f"Measured by {_describe(ref)}; {_machine(m)}"
        + (f" ({shown}; every package's version is in `benchmarks/results.json`)" if shown else "")
        + ". Ratio = figure / floor (the floor is measured in the same run: the least any "
        "implementation spends on the same work)."
        + (
            f" Timed benchmarks ran one at a time; quality benchmarks (figures that are not "
            f"timings) {ref['quality_lanes']} at a time, one thread each."
            if ref.get("quality_lanes")
            else ""
        ),
        "",
        "| figure | value | floor | ratio | target | met | CPU per unit | benchmark process: "
        "CPU / wall, peak RSS | measured |",
        "|---|---:|---:|---:|---|:---:|---:|---|---|",
    ]
    tags: dict[str, str] = {}
    for run in results["runs"]:
        inv = invocations.get(run["invocation"], {})
        measured = "this run"
        if run["invocation"] != ref["id"]:
            tag = tags.setdefault(run["invocation"], chr(ord("a") + len(tags)))
            started = run.get("started_at") or inv.get("started_at")
            older = started is None or started < ref["started_at"]
            date = started[:10] if started else "date not recorded"
            measured = f"[{tag}] {run.get('tier', inv.get('tier', '?'))}, " + (
                f"**older**: {date}" if older else date
            )
        cost = f"{run['cpu_s']:,.0f} s / {run['wall_s']:,.0f} s"
        cost += f", {run['peak_rss_mib']:,.0f} MiB" if run.get("peak_rss_mib") else ""
        if run.get("alongside"):
            cost += " (beside " + ", ".join(f"`{n}`" for n in run["alongside"]) + ")"
        figs = run["figures"] or [{"name": f"`{run['command']}` (no headline figure)"}]
        if run["returncode"] != 0:
            figs = [{"name": f"`{run['command']}` FAILED (exit {run['returncode']})"}]
        for fig in figs:
            met = {True: "yes", False: "**no**"}.get(fig.get("met"), "")
            note = f" ({fig['note']})" if fig.get("note") else ""
            floor = fmt(fig.get("floor"), fig.get("unit", ""))
            if floor and fig.get("floor_what"):
                floor += f" ({fig['floor_what']})"
            per = fig.get("cpu_ms_per_unit")
            per_text = f"{fmt(per, 'ms')} / {fig['unit_of_work']}" if per is not None else ""
            lines.append(
                f"| {fig['name']}{note} | {fmt(fig.get('value'), fig.get('unit', ''))} | "
                f"{floor} | {ratio_text(fig.get('ratio_to_floor'))} | {fig.get('target') or ''} "
                f"| {met} | {per_text} | {cost} `{run['name']}` | {measured} |"
            )
    if tags:
        lines.append("")
        for inv_id, tag in tags.items():
            inv = invocations.get(inv_id)
            text = _describe(inv) if inv else "invocation not recorded"
            if inv and (inv.get("machine") or {}).get("cpu_model") != m.get("cpu_model"):
                text += f"; {_machine(inv.get('machine'))}"
            lines.append(f"[{tag}] {text}.  ")
        lines[-1] = lines[-1].rstrip()
    return "\n".join(lines)
