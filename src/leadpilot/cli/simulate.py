"""``leadpilot simulate``: replay history through candidate policies with off-policy estimates."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from leadpilot.cli._common import console, json_on_stdout, json_out_option, json_switch
from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.outputs import prepare_output_file

# pandas and the replay load inside the command: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    import pandas as pd

    from leadpilot.evaluate.holdout_designs import DesignComparison
    from leadpilot.evaluate.ope import Interval
    from leadpilot.evaluate.simulation import Block, SimulationResult
    from leadpilot.policy import Policy

# The replay's default propensity floor (``evaluate.replay.DEFAULT_CLIP``), spelled here so that
# `--help` needs no pandas; a test keeps the two equal.
DEFAULT_CLIP = 0.01
OUTCOME_BAGS = 2  # the cross-fitted outcome models only score; fewer bags keep them cheap

__all__ = ["register", "simulate"]


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command."""
    app.command("simulate")(simulate)


def simulate(
    history: Path = typer.Argument(..., help="History export (CSV/XLSX, any intake preset)."),
    reps: Path = typer.Option(..., "--reps", help="Rep roster (reps.csv)."),
    model: Path | None = typer.Option(None, "--model", help="Trained model folder."),
    policy: list[Path] = typer.Option([], "--policy", help="A policy.yaml (repeatable)."),
    strategy: list[str] = typer.Option(
        [],
        "--strategy",
        help="The default policy with this strategy (e.g. round_robin; a wrong name lists them).",
    ),
    date_from: str | None = typer.Option(None, "--from", help="First day replayed (ISO)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day replayed (ISO)."),
    out: Path | None = typer.Option(None, "--out", help="Write a self-contained HTML report."),
    as_json: bool = json_switch("the figures"),
    json_out: Path | None = json_out_option("the figures"),
    decisions_dir: Path | None = typer.Option(
        None, "--decisions-dir", help="Write each policy's decisions as DIR/NAME.csv."
    ),
    cross_fit: bool = typer.Option(
        False, "--cross-fit", help="Train on earlier blocks, replay later ones (no --model)."
    ),
    blocks: int = typer.Option(3, "--blocks", min=2, help="Time blocks for --cross-fit."),
    accounts: Path | None = typer.Option(None, "--accounts", help="Known accounts (holds)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for routing and the bootstrap."),
    n_bootstrap: int = typer.Option(500, "--bootstrap", min=50, help="Bootstrap replicates."),
    clip: float = typer.Option(
        DEFAULT_CLIP, "--clip", min=0.0001, max=0.5, help="Floor of estimated propensities."
    ),
    outcome_folds: int = typer.Option(
        2,
        "--outcome-folds",
        min=0,
        help="Score the estimates with outcome models cross-fitted in K folds of the "
        "replayed leads (0: with the routing model).",
    ),
    holdout_designs: bool = typer.Option(
        False,
        "--holdout-designs",
        help="On a synthetic world: how far a per-lead holdout and a switchback misstate "
        "the true lift when capacity is tight (needs the world's truth.json).",
    ),
    truth: Path | None = typer.Option(
        None, "--truth", help="The world's truth.json (default: next to HISTORY)."
    ),
    designs_capacity: float = typer.Option(
        1.2,
        "--designs-capacity",
        min=0.1,
        help="For --holdout-designs: the team's daily capacity as a multiple of the average "
        "day's leads (reps' caps scaled in proportion; 1.2 = tight).",
    ),
    designs_seeds: int = typer.Option(
        3, "--designs-seeds", min=2, max=50, help="Routing seeds for --holdout-designs."
    ),
    jobs: int = typer.Option(
        0,
        "--jobs",
        min=0,
        help="Processes: the policies that read the model's scores are routed in worker "
        "processes while this one routes the others and fits the outcome models (0: the CPUs "
        "available, at most 4; 1: everything in one process). The results are the same.",
    ),
) -> None:
    """Replay the history's leads in time order through each policy and estimate, per
    policy, the conversion rate it would have had (DM, IPS, SNIPS, DR, SWITCH-DR with 95%
    intervals), its lift over the logged assignment and round-robin, how well the history
    covers its choices, and how it loads the team. On a synthetic world, --holdout-designs
    also shows how far a per-lead holdout and a switchback misstate the true lift.

    Example:  leadpilot simulate world/history.csv --reps world/reps.csv --cross-fit
              --strategy round_robin --strategy predictive --out sim.html --json-out sim.json
    """
    with json_on_stdout(as_json):
        document = _simulate(history, reps, model, policy, strategy, date_from, date_to, out,
                             json_out, decisions_dir, cross_fit, blocks, accounts, seed,
                             n_bootstrap, clip, outcome_folds,
                             DesignsRequest(holdout_designs, truth, designs_capacity,
                                            designs_seeds), jobs=jobs or None)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))


def _simulate(
    history: Path,
    reps: Path,
    model: Path | None,
    policy: list[Path],
    strategy: list[str],
    date_from: str | None,
    date_to: str | None,
    out: Path | None,
    json_out: Path | None,
    decisions_dir: Path | None,
    cross_fit: bool,
    blocks: int,
    accounts: Path | None,
    seed: int,
    n_bootstrap: int,
    clip: float,
    outcome_folds: int = 2,
    designs: DesignsRequest | None = None,
    *,
    jobs: int | None = None,
) -> dict[str, Any]:
    import pandas as pd

    from leadpilot.csv_safe import write_safe_csv
    from leadpilot.evaluate.simulation import default_jobs, run_simulation
    from leadpilot.evaluate.simulation_html import render_simulation_html
    from leadpilot.ingest import read_history, read_reps, reps_from_frame
    from leadpilot.model import ConversionModel
    from leadpilot.policy import default_policy, with_strategy

    if outcome_folds == 1:
        raise ConfigError(
            "--outcome-folds 1 cannot cross-fit", hint="give 2 or more, or 0 for the routing model"
        )
    started = time.perf_counter()
    for target, option in ((out, "--out"), (json_out, "--json-out")):
        if target is not None:
            prepare_output_file(target, option=option)
    reps_table = read_reps(reps)
    roster = reps_from_frame(reps_table)
    arms = _policies(policy, strategy, roster)
    frame = read_history(history, keep_extra=True).frame
    frame = frame[frame["created_at"].notna()].sort_values("created_at", kind="stable")
    window = _window(frame, date_from, date_to)
    warnings: list[str] = []
    with console.status("Preparing the replay...", spinner="dots") as status:
        block_list = _blocks(frame, window, model, cross_fit, blocks, reps_table, warnings, status)
        matcher, owners = _accounts(accounts, frame)
        result = run_simulation(
            frame[frame["created_at"] <= window["created_at"].max()],
            block_list,
            arms,
            reps=roster,
            accounts=matcher,
            owners=owners,
            baseline=with_strategy(default_policy(roster), "round_robin"),
            seed=seed,
            n_bootstrap=n_bootstrap,
            clip=clip,
            progress=lambda msg: status.update(msg[:1].upper() + msg[1:] + "..."),
            outcome_folds=outcome_folds,
            outcome_fit=lambda train, like: ConversionModel(n_bags=OUTCOME_BAGS).fit(
                train, reps_table, like=like
            ),
            outcome_like=True,
            jobs=jobs or default_jobs(),
        )
    result.warnings.extend(warnings)
    comparison = None
    if designs is not None and designs.on:
        with console.status("Comparing holdout designs...", spinner="dots") as status:
            comparison = _designs(designs, history, frame, window, reps_table, status)
    result.replay["seconds"] = round(time.perf_counter() - started, 1)
    _print(result)
    document = result.as_dict()
    if comparison is not None:
        print_designs(console, comparison)
        document["holdout_designs"] = comparison.as_dict()
    if json_out is not None:
        json_out.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
        console.print(f"Wrote {json_out}")
    if out is not None:
        out.write_text(render_simulation_html(document), encoding="utf-8")
        console.print(f"Wrote {out}")
    if decisions_dir is not None:
        decisions_dir.mkdir(parents=True, exist_ok=True)
        for name, decisions in result.decisions.items():
            rows = [
                {"lead_id": d.lead_id, "rep_id": d.rep_id, "propensity": d.propensity,
                 "reasons": "|".join(d.reasons)}
                for d in decisions
            ]  # fmt: skip
            path = decisions_dir / f"{name}.csv"
            write_safe_csv(pd.DataFrame(rows, columns=["lead_id", "rep_id", "propensity",
                                                       "reasons"]), path)  # fmt: skip
        console.print(f"Wrote {len(result.decisions)} decision file(s) to {decisions_dir}")
    return document


@dataclass(frozen=True)
class DesignsRequest:
    """``--holdout-designs`` and its settings."""

    on: bool
    truth: Path | None
    capacity: float  # the team's daily capacity / the average day's leads
    seeds: int


DESIGN_DAYS = 28  # --holdout-designs routes the window's first four weeks


def _designs(
    request: DesignsRequest,
    history: Path,
    frame: pd.DataFrame,
    window: pd.DataFrame,
    reps_table: pd.DataFrame,
    status: Any,
) -> DesignComparison:
    from types import SimpleNamespace

    import pandas as pd

    from leadpilot.evaluate.holdout_designs import compare_designs
    from leadpilot.ingest import reps_from_frame
    from leadpilot.synth import expected_conversions
    from leadpilot.synth.truth import GroundTruthScorer, load_truth

    truth = load_truth(request.truth or history.parent / "truth.json")
    unknown = sorted(set(reps_table["rep_id"].astype(str)) - set(truth.rep_ids))
    if unknown:
        raise DataValidationError(
            f"rep {unknown[0]!r} of --reps is not in the world's truth.json",
            hint="--holdout-designs needs the reps.csv and truth.json of one `leadpilot synth` "
            "world",
        )
    roster = reps_table.set_index("rep_id").loc[list(truth.rep_ids)].reset_index()
    world = SimpleNamespace(truth=truth, reps=roster)
    start = window["created_at"].min()
    leads = window[window["created_at"] < start + pd.Timedelta(days=DESIGN_DAYS)]
    per_day = len(leads) / max(1, leads["created_at"].dt.floor("D").nunique())
    caps = pd.to_numeric(roster["max_leads_per_day"], errors="coerce")
    if caps.isna().any() or caps.sum() <= 0:
        raise DataValidationError(
            "--holdout-designs needs every rep's max_leads_per_day in --reps",
            hint="the comparison is about capacity shared by treated and holdout leads",
        )
    return compare_designs(
        leads.reset_index(drop=True),
        reps_from_frame(roster),
        GroundTruthScorer(truth),
        lambda frame_, rep_ids: expected_conversions(world, frame_, rep_ids),  # type: ignore[arg-type]
        history=frame[frame["created_at"] < start],
        cap_scale=request.capacity * per_day / float(caps.sum()),
        replications=request.seeds,
        progress=lambda msg: status.update(msg[:1].upper() + msg[1:] + "..."),
    )


def print_designs(out: Any, comparison: DesignComparison) -> None:
    """The holdout designs' estimates next to the true lift."""
    rows = comparison.summary()
    truth = next(iter(rows.values()))["truth"] if rows else float("nan")
    table = Table(
        title=f"Holdout designs vs the true lift: {comparison.leads:,} leads, daily caps "
        f"x{comparison.cap_scale:.2f} the roster's, {len(comparison.truth)} routing seeds "
        "(points of conversion)"
    )
    for col in ("design", "estimated lift", "true lift", "estimate / truth",
                "interval covers truth"):  # fmt: skip
        table.add_column(col, justify="left" if col == "design" else "right")
    for name, r in rows.items():
        table.add_row(
            name,
            f"{100 * r['estimate']:+.2f} ± {100 * r['se']:.2f}",
            f"{100 * r['truth']:+.2f}",
            f"{r['ratio']:.1f}x",
            f"{r['covers']} of {r['seeds']}",
        )
    out.print(table)
    per_lead = rows.get("per-lead 50%")
    daily = rows.get("switchback daily")
    if per_lead and daily:
        off = (per_lead["estimate"] - truth) / per_lead["se"] if per_lead["se"] > 0 else 0.0
        out.print(
            f"The true lift of routing every lead predictively is {100 * truth:+.2f} points. A "
            f"50% per-lead holdout reports {per_lead['ratio']:.1f}x it ({off:+.1f} standard "
            f"errors), day-long switchback blocks {daily['ratio']:.1f}x. Treated and holdout "
            "leads share the same reps' daily caps and fairness band, so with a per-lead "
            "holdout the round-robin leads leave room the predictive ones use; switchback "
            "blocks keep a day's capacity within one arm. (± is the standard error over "
            "routing seeds; outcomes are the world's expected conversions, so there is no "
            f"outcome noise. Unassigned under all-predictive routing: "
            f"{comparison.unassigned:.1%}.)"
        )


def _policies(files: list[Path], strategies: list[str], roster: Any) -> list[tuple[str, Policy]]:
    from leadpilot.policy import default_policy, load_policy, with_strategy
    from leadpilot.policy.policy_file import strategy_names

    bad = [s for s in strategies if s not in strategy_names()]
    if bad:
        raise ConfigError(
            f"--strategy {bad[0]!r} is not a strategy",
            hint=f"use one of: {', '.join(strategy_names())}",
        )
    arms = [(path.stem, load_policy(path)) for path in files]
    arms += [(name, with_strategy(default_policy(roster), name)) for name in strategies]
    if not arms:
        raise ConfigError(
            "no policy to simulate",
            hint="pass --policy FILE.yaml and/or --strategy NAME (e.g. --strategy predictive)",
        )
    return arms


def _window(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    import pandas as pd

    def day(text: str | None, option: str) -> pd.Timestamp | None:
        if text is None:
            return None
        try:
            return pd.Timestamp(text, tz="UTC") if pd.Timestamp(text).tzinfo is None else (
                pd.Timestamp(text).tz_convert("UTC"))  # fmt: skip
        except ValueError:
            raise ConfigError(f"{option} {text!r} is not a date", hint="e.g. 2026-01-31") from None

    lo, hi = day(start, "--from"), day(end, "--to")
    keep = pd.Series(True, index=frame.index)
    if lo is not None:
        keep &= frame["created_at"] >= lo
    if hi is not None:
        keep &= frame["created_at"] < hi + pd.Timedelta(days=1)
    if not keep.any():
        raise DataValidationError(
            f"no lead of the history was created in --from {start} --to {end}",
            hint=f"the history runs from {frame['created_at'].min().date()} to "
            f"{frame['created_at'].max().date()}",
        )
    return frame[keep]


def _blocks(
    frame: pd.DataFrame,
    window: pd.DataFrame,
    model: Path | None,
    cross_fit: bool,
    n_blocks: int,
    roster: pd.DataFrame,
    warnings: list[str],
    status: Any,
) -> list[Block]:
    from leadpilot.evaluate.simulation import Block, time_blocks
    from leadpilot.model import ConversionModel  # lazy: LightGBM only when simulating

    if model is not None and cross_fit:
        raise ConfigError("give --model or --cross-fit, not both", hint="pick one")
    if model is not None:
        fitted = ConversionModel.load(model)
        last = _trained_until(fitted)
        start = window["created_at"].min()
        if last is not None and last >= start:
            warnings.append(
                f"the model was trained on leads up to {last.date()}, which overlaps the "
                f"replay window from {start.date()}: it has seen these outcomes, so every "
                "estimate is flattered. Replay later leads (--from) or use --cross-fit."
            )
        return [Block(window, fitted)]
    if not cross_fit:
        raise ConfigError(
            "simulate needs an outcome model",
            hint="pass --model MODEL_DIR (trained before the replay window) or --cross-fit",
        )
    parts = time_blocks(window, n_blocks)
    out = []
    for i, part in enumerate(parts):
        train = frame[frame["created_at"] < part["created_at"].min()]
        if train["converted"].notna().sum() < 500:
            warnings.append(
                f"block {i + 1} ({part['created_at'].min().date()} to "
                f"{part['created_at'].max().date()}) is not replayed: fewer than 500 earlier "
                "leads with known outcomes to train on"
            )
            continue
        status.update(
            f"Training the model for block {i + 1}/{len(parts)} on {len(train):,} leads..."
        )
        out.append(Block(part, ConversionModel().fit(train, roster)))
    if not out:
        raise DataValidationError(
            "no block of the replay window has enough earlier history to train on",
            hint="start the window later (--from) or use fewer --blocks",
        )
    return out


def _trained_until(model: Any) -> pd.Timestamp | None:
    import pandas as pd

    fitted = getattr(model, "fitted_", None)  # a trained ConversionModel; oracles have none
    window: dict[str, Any] = fitted.training_window if fitted is not None else {}
    # The slices the saved model learned from: the train slice, the calibration slice when it
    # was folded in, and the test slice when the final fit covered every settled lead.
    parts = ["train"]
    if window.get("refit_on_calibration_slice"):
        parts.append("calibration")
    if window.get("final_fit_rows", 0) == window.get("labelled_rows"):
        parts.append("test")
    lasts = [window.get(p, {}).get("last") for p in parts]
    stamps = [pd.Timestamp(x) for x in lasts if x and not str(x).startswith("row")]
    return max(stamps) if stamps else None


def _accounts(path: Path | None, frame: pd.DataFrame) -> tuple[Any, pd.Series | None]:
    from leadpilot.ingest import accounts_from_frame, read_accounts
    from leadpilot.ingest.matching import AccountMatcher

    if path is None:
        return None, None
    table = read_accounts(path)
    matcher = AccountMatcher(accounts_from_frame(table))
    owner = dict(zip(table["domain"], table["owner_rep_id"], strict=True))
    return matcher, frame["domain"].map(owner).astype(object)


def _cell(v: Interval, reliable: bool) -> str:
    if not reliable:
        return "[dim]cannot tell[/]"
    return f"{v.rate:.1%}\n({100 * v.ci_low:.1f}-{100 * v.ci_high:.1f})"


def _print(result: SimulationResult) -> None:
    r = result.replay
    console.print(
        f"Replayed {r['settled_leads']:,} leads with settled outcomes ({r['routed_leads']:,} "
        f"routed, {r['from'][:10]} to {r['to'][:10]}, {r['blocks']} block(s)); logged "
        f"conversion {r['logged_rate']:.1%}; propensities {r['propensity_source']}."
    )
    for w in result.warnings:
        console.print(f"[yellow]Warning:[/] {w}")
    table = Table(title="Estimated conversion rate per lead (95% interval, in %)")
    for col in ("policy", "DM", "IPS", "SNIPS", "DR", "SWITCH-DR", "DR lift\nvs logged",
                "DR lift vs\nround-robin", "overlap"):  # fmt: skip
        table.add_column(col, justify="left" if col == "policy" else "right", overflow="fold")
    for p in result.policies:
        ok = p.overlap.reliable
        lift = p.lift_vs_logged.get("dr")
        lift_rr = p.lift_vs_baseline.get("dr")
        table.add_row(
            p.name,
            *(
                _cell(p.estimates[e], ok or e == "dm") if e in p.estimates else ""
                for e in ESTIMATOR_COLUMNS
            ),
            _lift(lift, ok),
            _lift(lift_rr, ok),
            f"{p.overlap.verdict}\nESS {p.overlap.ess:.0f}",
        )
    console.print(table)
    for p in result.policies:
        if p.overlap.reasons:
            console.print(f"[yellow]{p.name}[/]: " + "; ".join(p.overlap.reasons) + ".")
        note = _precision_note(p.precision().get("dr"))
        if note and p.overlap.reliable:
            console.print(f"[yellow]{p.name}[/]: {note}")
        peak = max(p.peak_daily_load.values(), default=0)
        moved = result.moved.get(p.name)
        console.print(
            f"{p.name}: {p.unassigned} unassigned; fairness index "
            f"{p.fairness_range[0]:.2f}-{p.fairness_range[1]:.2f}; peak {peak} leads per "
            "rep-day; strategies "
            + ", ".join(f"{k} {v:.0%}" for k, v in p.share_by_strategy.items())
            + (f"; {moved['leads']:,} leads moved vs the first policy" if moved else "")
            + (
                f"; SLA met (estimated from past response times at that load) "
                f"{p.sla_attainment['attainment']:.0%}"
                if p.sla_attainment
                else ""
            )
        )
    console.print(f"Done in {r['seconds']:.0f} s.")


ESTIMATOR_COLUMNS = ("dm", "ips", "snips", "dr", "switch_dr")


def _precision_note(precision: dict[str, Any] | None) -> str:
    """Says when DR's interval is wider than +-10% and how many leads would narrow it."""
    if not precision or precision["resolves_10pct"]:
        return ""
    needed = precision["leads_for_10pct"]
    return (
        f"DR's 95% interval is +-{precision['relative_half_width']:.0%} of its estimate: "
        "these leads cannot pin it to +-10%"
        + (f" (about {needed:,} replayed leads like these would)" if needed else "")
        + "; SWITCH-DR leans on the model where the history is thin."
    )


def _lift(v: Interval | None, reliable: bool) -> str:
    if v is None:
        return ""
    if not reliable:
        return "[dim]cannot tell[/]"
    return f"{v.rate:+.1%}\n({100 * v.ci_low:+.0f} to {100 * v.ci_high:+.0f})"


DEMO_WEEKS = 3
DEMO_SETTLE_DAYS = 60  # outcomes of older leads are all known at the history's end


def demo_section(out: Any, workdir: Path, world: Any) -> dict[str, Any]:
    """For ``leadpilot demo``: replay three weeks of the synthetic history (ending 60 days
    before it ends, so outcomes are settled) through round-robin and the default predictive
    policy with a model trained only on the leads before them (cross-fitting), and print
    every estimate next to the truth of the simulated assignments."""
    import pandas as pd

    from leadpilot.evaluate.simulation import Block, default_jobs, run_simulation
    from leadpilot.ingest import reps_from_frame
    from leadpilot.model import ConversionModel
    from leadpilot.policy import default_policy, with_strategy
    from leadpilot.synth import expected_conversions

    hist = world.history
    end = hist["created_at"].max() - pd.Timedelta(days=DEMO_SETTLE_DAYS)
    start = end - pd.Timedelta(weeks=DEMO_WEEKS)
    window = hist[(hist["created_at"] > start) & (hist["created_at"] <= end)]
    roster = reps_from_frame(world.reps)
    policy = default_policy(roster)
    with out.status("Training a model on the leads before the window...", spinner="dots"):
        model = ConversionModel().fit(hist[hist["created_at"] <= start], world.reps)
    owner = dict(zip(world.accounts["domain"], world.accounts["owner_rep_id"], strict=True))
    with out.status("Replaying...", spinner="dots") as status:
        result = run_simulation(
            hist[hist["created_at"] <= end],
            [Block(window, model)],
            [("round_robin", with_strategy(policy, "round_robin")), ("predictive", policy)],
            reps=roster,
            owners=hist["domain"].map(owner).astype(object),
            baseline=with_strategy(policy, "round_robin"),
            n_bootstrap=300,
            outcome_folds=2,
            outcome_fit=lambda train, like: ConversionModel(n_bags=OUTCOME_BAGS).fit(
                train, world.reps, like=like
            ),
            outcome_like=True,
            progress=lambda msg: status.update(msg[:1].upper() + msg[1:] + "..."),
            jobs=default_jobs(),
        )
    settled = window[window["converted"].notna()].reset_index(drop=True)
    table = Table(title=f"{len(settled):,} past leads replayed: estimates vs the truth")
    for col in ("policy", "truth", "DM (model)", "IPS", "SNIPS", "DR", "SWITCH-DR", "overlap"):
        # fold, not truncate: on an 80-column terminal the intervals wrap instead of vanishing
        table.add_column(col, justify="left" if col == "policy" else "right", overflow="fold")
    truths: dict[str, float] = {}
    for p in result.policies:
        by_lead = {d.lead_id: d.rep_id for d in result.decisions[p.name]}
        reps = [by_lead[i] for i in settled["lead_id"]]
        truths[p.name] = float(expected_conversions(world, settled, reps).mean())
        table.add_row(
            p.name,
            f"{truths[p.name]:.1%}",
            *(_cell(p.estimates[e], True) for e in ESTIMATOR_COLUMNS),
            f"{p.overlap.verdict}\nESS {p.overlap.ess:.0f}",
        )
    out.print(table)
    poor = [p.name for p in result.policies if not p.overlap.reliable]
    verdict = (
        f"here overlap is poor for {', '.join(poor)}, so `leadpilot simulate` prints those "
        "as 'cannot tell' and only the model's estimate (DM) remains, which is only as good "
        "as the model"
        if poor
        else "here overlap is enough to read them"
    )
    for p in result.policies:
        note = _precision_note(p.precision().get("dr"))
        if note and p.overlap.reliable:
            out.print(f"[yellow]{p.name}[/]: {note}")
    out.print(
        "The truth is the world's true P(convert) of each simulated assignment. IPS, SNIPS "
        "and DR learn only from past leads the history happened to route the same way; "
        f"{verdict}. The outcome model scoring the estimates is cross-fitted within the "
        "window (never scoring a lead it learned from). Try:\n"
        f"  leadpilot simulate {workdir}/history.csv --reps {workdir}/reps.csv --cross-fit "
        "--strategy round_robin --strategy predictive --from "
        f"{(start + pd.Timedelta(days=1)).date()} --to {end.date()} --out simulation.html"
    )
    return {"truth": truths, "result": result}
