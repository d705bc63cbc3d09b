"""Figures a benchmark script hands to the suite (``python -m benchmarks``).

A script calls ``record(...)`` for each headline figure; run alone it only prints, run by the
suite (which sets ``LEADPILOT_BENCH_FIGURES``) the figures are appended to that file as JSON
lines and end up in ``benchmarks/results.json`` and the README's performance table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "LEADPILOT_BENCH_FIGURES"


def record(
    name: str,
    value: float,
    unit: str,
    *,
    floor: float | None = None,
    floor_what: str | None = None,
    target: str | None = None,
    met: bool | None = None,
    work: dict[str, float] | None = None,
    cpu_s: float | None = None,
    note: str | None = None,
) -> None:
    """Hand one figure to the suite: ``value`` in ``unit``, next to its ``floor`` (the least any
    implementation must spend on the same work, measured in the same run) and its ``target``;
    ``work`` counts the units of work done (e.g. ``{"leads": 2000}``) and ``cpu_s`` the CPU
    seconds they took, for the CPU time per unit (the number that travels between machines)."""
    path = os.environ.get(ENV)
    if not path:
        return
    row: dict[str, Any] = {"name": name, "value": value, "unit": unit}
    for key, item in (
        ("floor", floor),
        ("floor_what", floor_what),
        ("target", target),
        ("met", met),
        ("work", work),
        ("cpu_s", cpu_s),
        ("note", note),
    ):
        if item is not None:
            row[key] = item
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def peak_rss_reset() -> bool:
    """Reset this process's peak resident set size (Linux ``clear_refs``), so that
    ``peak_rss_mb`` measures only what runs after; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as out:
            out.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (since the last ``peak_rss_reset``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far, from /proc;
    0 once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds so far of each live descendant process of ``pid`` (a server's price
    solver), by pid: a server's CPU is its process's plus these."""
    out: dict[int, float] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            for kid in kids:
                if kid not in out:
                    out[kid] = process_cpu_s(kid)
                    todo.append(kid)
    return out


def descendants_cpu_since(pid: int, before: dict[int, float]) -> float:
    """CPU seconds ``pid``'s live descendants used since ``before`` (``descendants_cpu_s``);
    a child that exited in between is not counted (nor its CPU before it exited)."""
    return sum(max(cpu - before.get(kid, 0.0), 0.0) for kid, cpu in descendants_cpu_s(pid).items())
