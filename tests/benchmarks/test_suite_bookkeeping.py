"""The benchmark suite's bookkeeping (``benchmarks/_suite.py``, ``benchmarks/__main__.py``):
ratios, merging runs of several invocations, the README table, the plan, per-process CPU.

No timing assertions: the one test that runs processes checks which process a CPU second is
charged to, with a margin of several times the noise.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str, file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


suite = _load("_suite", "_suite.py")
main = _load("benchmarks_main", "__main__.py")


def _machine(cpu: str = "Test CPU 3000") -> dict[str, Any]:
    return {"cpu_model": cpu, "cores": 2, "memory_gib": 8.0, "python": "3.11.7",
            "packages": {"numpy": "2.4.6", "lightgbm": "4.7.0"}}  # fmt: skip


def _inv(inv_id: str, tier: str, started: str, finished: str, **extra: Any) -> dict[str, Any]:
    return {"id": inv_id, "command": "python -m benchmarks" + (" --deep" if tier == "deep" else ""),
            "tier": tier, "started_at": started, "finished_at": finished, "complete": True,
            "machine": _machine(), **extra}  # fmt: skip


def _run(name: str, inv: str, figures: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "tier": "suite", "invocation": inv, "command": f"python {name}.py",
            "returncode": 0, "wall_s": 10.0, "cpu_s": 9.0, "peak_rss_mib": 100.0,
            "figures": suite.derived(figures), **extra}  # fmt: skip


def test_ratio_and_cpu_per_unit_are_computed_from_the_figure() -> None:
    figs = suite.derived(
        [
            {
                "name": "a",
                "value": 2.4,
                "unit": "ms",
                "floor": 0.25,
                "work": {"leads": 10000},
                "cpu_s": 24.0,
            },
            {"name": "b", "value": 3.0, "unit": "ms", "floor": 0.0},
            {"name": "c", "value": 3.0, "unit": "ms"},
            {"name": "d", "value": 3.0, "unit": "ms", "work": {"rows": 0}, "cpu_s": 1.0},
        ]
    )
    assert figs[0]["ratio_to_floor"] == pytest.approx(9.6)  # 2.4 / 0.25
    assert figs[0]["cpu_ms_per_unit"] == pytest.approx(2.4)  # 24 s * 1000 / 10,000 leads
    assert figs[0]["unit_of_work"] == "lead"
    assert [suite.singular(u) for u in ("deliveries", "rows", "s")] == ["delivery", "row", "s"]
    assert "ratio_to_floor" not in figs[1]  # a zero floor has no ratio
    assert "ratio_to_floor" not in figs[2]
    assert "cpu_ms_per_unit" not in figs[3]  # no work done: no per-unit figure
    assert suite.ratio_text(9.6) == "9.6x"
    assert suite.ratio_text(6669.04) == "6,669x"


def test_merge_replaces_same_named_runs_and_keeps_other_tiers() -> None:
    day = "2026-12-0{}T{}:00:00+00:00".format
    base = {
        "format": 2,
        "invocations": [_inv("i1", "suite", day(2, 22), day(2, 23)),
                        _inv("i0", "suite", day(1, 10), day(1, 11))],
        "runs": [_run("a", "i1", []), _run("b", "i1", []), _run("gone", "i0", [])],
    }  # fmt: skip
    new = {
        "format": 2,
        "invocations": [_inv("i2", "deep", day(3, 19), day(3, 20))],
        "runs": [_run("b", "i2", []), _run("c", "i2", [])],
    }  # fmt: skip
    got = suite.merge(base, new, known=["c", "b", "a"])
    assert [(r["name"], r["invocation"]) for r in got["runs"]] == [
        ("c", "i2"),
        ("b", "i2"),
        ("a", "i1"),
    ]
    # "gone" is no longer a benchmark: dropped, and i0, which only it used, with it
    assert sorted(inv["id"] for inv in got["invocations"]) == ["i1", "i2"]
    assert base["runs"][1]["invocation"] == "i1"  # the inputs are not modified


def test_makespan_is_longest_first_on_the_first_free_lane() -> None:
    # 5 -> lane A (5), 4 -> B (4), 3 -> B (7), 3 -> A (8), 3 -> B (10)
    assert suite.makespan([3, 5, 3, 4, 3], 2) == 10
    assert suite.makespan([3, 5, 3, 4, 3], 1) == 18
    assert suite.makespan([], 2) == 0


def _fixture() -> dict[str, Any]:
    ref = _inv("r", "suite", "2026-12-03T19:10:00+00:00", "2026-12-03T19:19:20+00:00",
               wall_s=560.0, load_before=[0.4, 0.5, 0.6], load_max=2.1,
               load_after=[1.9, 1.0, 0.8], commit="abc1234", quality_lanes=2)  # fmt: skip
    deep = _inv("d", "deep", "2026-12-02T20:00:00+00:00", "2026-12-02T20:40:00+00:00",
                wall_s=2400.0, load_before=[12.0, 11.0, 10.0],
                load_after=[10.1, 9.0, 9.0])  # fmt: skip
    return {
        "format": 2,
        "invocations": [ref, deep],
        "runs": [
            _run("batch_router", "r",
                 [{"name": "batch router CPU per lead", "value": 2.4, "unit": "ms", "floor": 0.25,
                   "floor_what": "the model call", "target": "<= 0.2 ms", "met": False,
                   "work": {"leads": 10000}, "cpu_s": 24.0}]),
            _run("quality", "r", [{"name": "share", "value": 88.8, "unit": "%"}],
                 alongside=["other"]),
            _run("batch_router_100k", "d",
                 [{"name": "batch router 100k", "value": 2.13, "unit": "ms", "floor": 0.252}],
                 tier="deep", started_at="2026-12-02T20:01:00+00:00"),
            {**_run("broken", "r", []), "returncode": 2},
        ],
    }  # fmt: skip


def test_table_renders_each_figure_with_floor_ratio_and_where_it_was_measured() -> None:
    text = suite.table(_fixture())
    header, _, cols, _rule, *rows = text.splitlines()
    assert "`python -m benchmarks`, suite tier, 2026-12-03 19:10-19:19 UTC, 560 s wall" in header
    assert "load average (1 min) 0.4 before, 2.1 at most, 1.9 after" in header
    assert "commit abc1234" in header
    assert "Test CPU 3000, 2 cores, 8.0 GiB" in header
    assert "numpy 2.4.6, lightgbm 4.7.0" in header
    assert "quality benchmarks (figures that are not timings) 2 at a time" in header
    assert cols.startswith("| figure | value | floor | ratio |")
    assert rows[0] == (
        "| batch router CPU per lead | 2.4 ms | 0.25 ms (the model call) | 9.6x | <= 0.2 ms | "
        "**no** | 2.4 ms / lead | 9 s / 10 s, 100 MiB `batch_router` | this run |"
    )
    assert rows[1].endswith("| 9 s / 10 s, 100 MiB (beside `other`) `quality` | this run |")
    # the deep row is from another invocation that started before the reference run
    assert "| 2.13 ms | 0.252 ms | 8.5x |" in rows[2]
    assert rows[2].endswith("| [a] deep, **older**: 2026-12-02 |")
    assert "`python broken.py` FAILED (exit 2)" in rows[3]
    assert rows[-1].startswith(
        "[a] `python -m benchmarks --deep`, deep tier, 2026-12-02 20:00-20:40"
    )
    assert "2,400 s wall" in rows[-1]
    assert "12.0 before" in rows[-1]


def test_a_newer_run_of_another_tier_is_marked_but_not_older() -> None:
    results = _fixture()
    results["invocations"][1]["started_at"] = "2026-12-03T19:30:00+00:00"
    results["runs"][2]["started_at"] = "2026-12-03T19:31:00+00:00"
    row = suite.table(results).splitlines()[6]
    assert row.endswith("| [a] deep, 2026-12-03 |")


def test_the_header_describes_the_newest_complete_suite_run() -> None:
    results = _fixture()
    partial = _inv("p", "only", "2026-12-03T20:00:00+00:00", "2026-12-03T20:01:00+00:00")
    results["invocations"].append(partial)
    results["runs"][1]["invocation"] = "p"
    assert suite.reference(results)["id"] == "r"  # an --only run is not the suite's
    results["invocations"][0]["complete"] = False
    assert suite.reference(results)["id"] == "r"  # a suite run stopped part-way, still the suite
    results["invocations"][0]["tier"] = "only"
    assert suite.reference(results)["id"] == "p"  # no suite run at all: the newest


def test_readme_only_regenerates_the_block_from_results_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{main.START}\nold table\n{main.END}\nafter\n", encoding="utf-8")
    main.write_readme(suite.table(_fixture()), readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"intro\n{main.START}\nMeasured by ")
    assert text.endswith(f"{main.END}\nafter\n")
    assert "old table" not in text
    assert "batch router 100k" in text  # the deep tier's row survives a regeneration


def test_format_1_results_are_upgraded_with_merged_runs_undated(tmp_path: Path) -> None:
    old = {
        "mode": "full", "started_at": "2026-12-02T22:32:22+00:00",
        "finished_at": "2026-12-02T23:23:01+00:00", "wall_s": 3039.2,
        "load_before": [11.9, 11.7, 9.9], "load_after": [10.1, 9.5, 9.7],
        "machine": _machine(), "merged": ["b"],
        "runs": [_run("a", "", []), _run("b", "", [])],
    }  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    got = suite.load(path)
    assert [r["invocation"] for r in got["runs"]] == ["2026-12-02T22:32:22+00:00", "legacy-merged"]
    text = suite.table(got)
    assert "3,039 s wall" in text.splitlines()[0]
    assert "at a time" not in text.splitlines()[0]  # that run had no phases: it does not say so
    assert text.splitlines()[5].endswith("| [a] suite, **older**: date not recorded |")
    (tmp_path / "bad.json").write_text('{"format": 9, "runs": []}', encoding="utf-8")
    with pytest.raises(SystemExit, match="format 9"):
        suite.load(tmp_path / "bad.json")


def test_suite_tier_fits_ten_minutes_by_its_estimates() -> None:
    benches = main.suite(None)
    names = [b.name for b in benches]
    assert len(names) == len(set(names))
    for b in benches:
        assert b.quiet_s > 0, b.name
        assert b.basis, b.name
        assert b.inline is None or b.phase == main.TIMED, b.name
    chosen = main.select(benches, main.SUITE, None, smoke=False)
    est = main.plan(chosen)
    assert est["total_s"] < main.BUDGET_S
    timed = sum(b.quiet_s for b in chosen if b.phase == main.TIMED)
    assert est["timed_s"] == timed
    assert {b.tier for b in main.select(benches, main.DEEP, None, smoke=False)} == {main.DEEP}


def test_a_smaller_run_drops_its_targets_and_says_why() -> None:
    figs = [{"name": "x", "value": 70.0, "unit": "s", "target": "< 60 s", "met": False,
             "note": "routing 30 s"}]  # fmt: skip
    bench = main.Benchmark("x", None, inline=lambda smoke: [dict(f) for f in figs],
                           size_note="a sixth of the target's size")  # fmt: skip
    run = main.run_one(bench, smoke=False)
    assert run.figures == [{"name": "x", "value": 70.0, "unit": "s",
                            "note": "routing 30 s; a sixth of the target's size"}]  # fmt: skip


@pytest.mark.slow
def test_two_processes_at_once_are_each_charged_their_own_cpu(tmp_path: Path) -> None:
    burn = tmp_path / "burn.py"
    burn.write_text(
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5:\n    pass\n"
    )
    idle = tmp_path / "idle.py"
    idle.write_text("import time\ntime.sleep(2.5)\n")  # fmt: skip
    benches = [main.Benchmark("burn", str(burn), quiet_s=2, phase=main.QUALITY),
               main.Benchmark("idle", str(idle), quiet_s=3, phase=main.QUALITY)]  # fmt: skip
    runs: dict[str, Any] = {}
    with main.LoadSampler(every_s=0.5) as sampler:
        main.run_phase(benches, False, 2, 1, sampler, lambda r: runs.__setitem__(r.name, r))
    assert runs["burn"].cpu_s >= 1.5  # its loop alone spends 1.5 s of CPU
    # the sleeper's CPU is its interpreter's start-up (~0.05 s), not the burner's 1.5 s
    assert runs["idle"].cpu_s < 0.75
    assert runs["burn"].alongside == ["idle"]
    assert runs["idle"].alongside == ["burn"]


def test_the_postgres_service_run_is_deep_and_only_with_a_url() -> None:
    names = {b.name: b for b in main.suite("postgresql+psycopg://u@h/db")}
    pg = names["service_latency_postgres"]
    assert pg.tier == main.DEEP
    assert pg.full[-2:] == ("--db", "postgresql+psycopg://u@h/db")
    assert "service_latency_postgres" not in {b.name for b in main.suite(None)}
    smoke = main.select(list(names.values()), main.SUITE, None, smoke=True)
    assert pg in smoke  # the smoke run covers it when given a database
    only = main.select(list(names.values()), main.SUITE, ["dedupe", "alert_pass_100k"], False)
    assert [b.name for b in only] == ["dedupe", "alert_pass_100k"]  # any tier, registry order
