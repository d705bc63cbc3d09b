"""``leadpilot route`` and ``route-batch``: route one lead or a file of leads, and the demo's
round-robin versus predictive comparison on a synthetic world."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from leadpilot.cli._common import console, json_switch
from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.outputs import prepare_output_file

# pandas, numpy, scipy and the router load inside the commands: `leadpilot --help` stays instant.
if TYPE_CHECKING:
    from rich.console import Console

    from leadpilot.ingest.matching import AccountMatcher
    from leadpilot.policy import Policy, RouterInputs
    from leadpilot.schema import Candidate, Decision, Lead, Rep, Scorer, ValueModel

__all__ = ["demo_section", "load_scorer", "print_comparison", "register"]


def register(app: typer.Typer) -> None:
    """Add the ``route`` and ``route-batch`` commands."""
    app.command("route")(route_one)
    app.command("route-batch")(route_many)


_REPS = typer.Option(..., "--reps", help="Rep roster (reps.csv).")
_ACCOUNTS = typer.Option(None, "--accounts", help="Known accounts (for ownership holds).")
_MODEL = typer.Option(None, "--model", help="Trained model folder (leadpilot train).")
_TRUTH = typer.Option(
    None, "--truth", help="A synthetic world's truth.json, used as an oracle scorer."
)
_POLICY = typer.Option(
    None, "--policy", help="policy.yaml (default: one predictive pool of all active reps)."
)
_HISTORY = typer.Option(
    None, "--history", help="Recent history: expected lead mix and reps' response times."
)


_FORCE_MODEL = typer.Option(
    False,
    "--force-model",
    help="Route with --model even when it lost to a baseline on its own out-of-time test "
    "(otherwise the policy's rules decide).",
)


def load_scorer(
    model: Path | None, truth: Path | None, *, force_model: bool = False
) -> Scorer | None:
    """The scorer of ``--model`` (a trained model folder) or ``--truth`` (an oracle); no
    scorer (the policy's rules) for a model that lost to a baseline, unless ``force_model``."""
    if model is not None and truth is not None:
        raise ConfigError("give --model or --truth, not both", hint="Pick one scorer.")
    if truth is not None:
        from leadpilot.synth.truth import load_truth

        return load_truth(truth).as_scorer()
    if model is None:
        return None
    from leadpilot.model import ConversionModel  # lazy: LightGBM only when --model is given

    loaded = ConversionModel.load(model)
    block = loaded.fitted_.routing_block
    if block and not force_model:
        from rich.console import Console

        Console(stderr=True).print(
            f"[bold red]WARNING:[/] model {loaded.version} is not used: {block}. Routing by "
            "the policy's rules (pass --force-model to use it anyway).",
            highlight=False,
        )
        return None
    return loaded


def _inputs(
    reps: Path, accounts: Path | None, policy: Path | None
) -> tuple[list[Rep], AccountMatcher | None, Policy]:
    from leadpilot.ingest import accounts_from_frame, read_accounts, read_reps, reps_from_frame
    from leadpilot.ingest.matching import AccountMatcher
    from leadpilot.policy import default_policy, load_policy

    roster = reps_from_frame(read_reps(reps))
    matcher = AccountMatcher(accounts_from_frame(read_accounts(accounts))) if accounts else None
    chosen = load_policy(policy) if policy is not None else default_policy(roster)
    return roster, matcher, chosen


def _read_lead(path: Path) -> Lead:
    import pandas as pd

    from leadpilot.ingest import leads_from_frame

    example = 'e.g. {"lead_id": "L1", "region": "EMEA", "demo_request": true}'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataValidationError(
            f"cannot read the lead file {path}: {exc.strerror}",
            hint=f"pass a JSON file holding one lead, {example}",
        ) from None
    except UnicodeDecodeError:
        raise DataValidationError(
            f"{path} is not UTF-8 text, so not a JSON lead",
            hint=f"pass a JSON file holding one lead, {example}",
        ) from None
    except json.JSONDecodeError as exc:
        raise DataValidationError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})",
            hint='Write one object, e.g. {"lead_id": "L1", "industry": "Software"}.',
        ) from None
    if not isinstance(data, dict) or "lead_id" not in data:
        raise DataValidationError(
            f"{path}: expected one JSON object with a lead_id",
            hint='e.g. {"lead_id": "L1", "region": "EMEA", "demo_request": true}',
        )
    frame = pd.DataFrame([_normalise_lead(path, data)])
    return leads_from_frame(frame)[0]


def _normalise_lead(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Read the lead's dates, size and numbers with the intake's own parsers, so a lead file
    means what the same values mean in a CSV; an unreadable value is an error, not a blank."""
    import pandas as pd

    from leadpilot.ingest.values import parse_company_size, parse_date_column, parse_number

    out = dict(data)

    def bad(name: str, expected: str) -> DataValidationError:
        return DataValidationError(
            f"{path}: field {name!r} is {data[name]!r}, not {expected}",
            hint=f"fix {name} in the lead file or leave it out",
            details={"field": name},
        )

    for name in ("created_at", "first_contact_at"):
        if out.get(name) is not None:
            parsed, _ = parse_date_column(pd.Series([str(out[name])], dtype=object))
            if parsed.bad[0]:
                raise bad(name, "a date (e.g. 2026-11-23T10:00:00Z)")
            out[name] = parsed.values.iloc[0]
    if out.get("company_size") is not None:
        try:
            employees, band = parse_company_size(out["company_size"])
        except ValueError:
            raise bad("company_size", "a head count or a band such as 51-200") from None
        out["company_size"] = employees
        out.setdefault("size_band", band)
    for name in ("annual_revenue", "engagement_score"):
        if out.get(name) is not None:
            try:
                out[name] = parse_number(out[name])
            except ValueError:
                raise bad(name, "a number") from None
    return out


def route_one(
    lead: Path = typer.Argument(..., help="The lead as a JSON object (canonical field names)."),
    reps: Path = _REPS,
    accounts: Path | None = _ACCOUNTS,
    model: Path | None = _MODEL,
    truth: Path | None = _TRUTH,
    force_model: bool = _FORCE_MODEL,
    policy: Path | None = _POLICY,
    history: Path | None = _HISTORY,
    at: str | None = typer.Option(
        None, "--at", help="Route as of this ISO time (default: the lead's created_at, or now)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for exploration, holdout and ties."),
    why_not_rep: list[str] = typer.Option(
        [], "--why-not", help="Also say why this rep did not get the lead (repeatable)."
    ),
    as_json: bool = json_switch("the decision"),
) -> None:
    """Route one lead and explain the decision (who, why, and why not the runner-up).

    Example:  leadpilot route lead.json --reps world/reps.csv --accounts world/accounts.csv
              --truth world/truth.json --why-not rep-07
    """
    import numpy as np

    from leadpilot.policy import (
        DemandModel,
        InMemoryState,
        ShadowPricer,
        refresh_prices,
        route,
    )
    from leadpilot.policy.explain import explain, why_not

    the_lead = _read_lead(lead)
    roster, matcher, chosen = _inputs(reps, accounts, policy)
    scorer = load_scorer(model, truth, force_model=force_model)
    now = _when(at, the_lead)
    past, inputs = _history_inputs(chosen, roster, scorer, matcher, history)
    state = InMemoryState()
    if past and scorer is not None:
        pricer = ShadowPricer(DemandModel.from_leads(past, seed=seed))
        inputs = refresh_prices(the_lead, inputs, state, now, pricer)
    decision = route(the_lead, inputs, state, now, np.random.default_rng(seed))
    if as_json:
        typer.echo(json.dumps(decision_json(decision), indent=2))
        return
    factors = None
    explain_model = getattr(scorer, "explain", None)
    if callable(explain_model):

        def factors(rep: str, versus: str) -> list[str]:
            return list(explain_model(the_lead, rep, versus))

    console.print(explain(decision, factors=factors), highlight=False)
    known = {r.rep_id for r in roster}
    for rep_id in why_not_rep:
        if rep_id not in known:
            answer = f"{rep_id} is not in the roster."
        else:
            other = _unlisted_candidate(decision, rep_id, the_lead, inputs)
            answer = why_not(decision, rep_id, other=other)
        console.print(f"Why not {rep_id}? {answer}", highlight=False)


def _unlisted_candidate(
    decision: Decision, rep_id: str, lead: Lead, inputs: Any
) -> Candidate | None:
    """p, price and score of an eligible rep the decision does not list among its top
    candidates: p from the same scorer, the price from the shadow prices the router's inputs
    hold for the pool (``None`` when the pool is priced by the fairness band alone)."""
    from leadpilot.schema import Candidate

    listed = {c.rep_id for c in decision.candidates}
    scorer = inputs.scorer
    if rep_id in listed or rep_id in decision.exclusions or scorer is None:
        return None
    if decision.rep_id is None or decision.p_convert is None:
        return None
    p = float(scorer.score_candidates(lead, [rep_id]).p[0])
    snapshot = inputs.prices.get(decision.pool) if decision.pool else None
    price = None
    if snapshot is not None and inputs.policy.predictive.shadow_prices:
        price = float(snapshot.get(rep_id, 0.0))
    return Candidate(rep_id, p, price, p - price if price is not None else None)


def _when(at: str | None, lead: Lead) -> datetime:
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise ConfigError(
                f"--at {at!r} is not an ISO time", hint="e.g. --at 2026-11-23T10:00:00Z"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return lead.created_at or datetime.now(UTC)


def decision_json(decision: Decision) -> dict[str, Any]:
    """A decision as plain JSON types."""
    out: dict[str, Any] = {}
    for name in decision.__dataclass_fields__:
        value = getattr(decision, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif name == "candidates":
            value = [asdict(c) for c in value]
        elif name == "rep_local_day" and value is not None:
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "items"):
            value = dict(value)
        out[name] = value
    return out


def route_many(
    new_leads: Path = typer.Argument(..., help="Leads to route (CSV/XLSX, any intake preset)."),
    reps: Path = _REPS,
    out: Path = typer.Option(..., "--out", help="Where to write decisions.csv."),
    accounts: Path | None = _ACCOUNTS,
    model: Path | None = _MODEL,
    truth: Path | None = _TRUTH,
    force_model: bool = _FORCE_MODEL,
    policy: Path | None = _POLICY,
    history: Path | None = _HISTORY,
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="Override every pool's strategy (e.g. round_robin; a wrong name lists them).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for exploration, holdout and ties."),
    open_days: float = typer.Option(
        1.0, "--open-days", min=0.0, help="A lead counts as open this many days after routing."
    ),
    refresh_every: int | None = typer.Option(
        None,
        "--refresh-every",
        min=0,
        help="Re-solve a pool's shadow prices every N of its assignments of the day and at each "
        "new day (default: the batch router's, every max(25, the pool's assignments of the "
        "previous day with leads / 40)); 0: the policy's cadence, as the service "
        "refreshes (slower; the same decisions as routing each lead with `route`).",
    ),
    on_error: str = typer.Option(
        "raise",
        "--on-error",
        help="raise: stop at unreadable values. skip: route the rest, write a rejects file.",
    ),
) -> None:
    """Route a file of leads in created_at order as if they arrived live, with each rep's
    max_leads_per_day per calendar day in the rep's timezone; write decisions.csv.

    Example:  leadpilot route-batch world/new_leads.csv --reps world/reps.csv
              --history world/history.csv --truth world/truth.json --out decisions.csv
    """
    from leadpilot.csv_safe import write_safe_csv
    from leadpilot.ingest import leads_from_frame, read_history
    from leadpilot.policy import with_strategy
    from leadpilot.policy.batch import (
        BATCH_REFRESH_EVERY,
        BATCH_REFRESHES_PER_DAY,
        decisions_frame,
        route_batch,
    )
    from leadpilot.policy.policy_file import strategy_names

    if strategy is not None and strategy not in strategy_names():
        raise ConfigError(
            f"--strategy {strategy!r} is not a strategy",
            hint=f"Use one of: {', '.join(strategy_names())}.",
        )
    prepare_output_file(out, option="--out")
    roster, matcher, chosen = _inputs(reps, accounts, policy)
    if strategy is not None:
        chosen = with_strategy(chosen, strategy)
    scorer = load_scorer(model, truth, force_model=force_model)
    # --on-error is the option the reader's error hints name (it had none: issue 13 item 7).
    read = read_history(new_leads, keep_extra=True, on_error=on_error)  # type: ignore[arg-type]
    if read.rejects_path is not None:
        console.print(
            f"[yellow]{len(read.rejects)} unreadable value(s): rows left out, written to "
            f"{read.rejects_path}[/yellow]"
        )
    leads = leads_from_frame(read.frame)
    past, inputs = _history_inputs(chosen, roster, scorer, matcher, history)
    with console.status(f"Routing {len(leads):,} leads...", spinner="dots"):
        decisions = route_batch(
            leads,
            inputs,
            history=past or (),
            seed=seed,
            open_lead_days=open_days,
            refresh_every=BATCH_REFRESH_EVERY if refresh_every is None else refresh_every or None,
            # an N given is exactly every N; the default stretches on busy pools
            refreshes_per_day=BATCH_REFRESHES_PER_DAY if refresh_every is None else None,
        )
    write_safe_csv(decisions_frame(decisions), out)
    _print_batch(console, decisions, roster)
    console.print(f"Wrote {len(decisions):,} decisions to {out}")


def _history_inputs(
    policy: Policy,
    roster: list[Rep],
    scorer: Scorer | None,
    matcher: AccountMatcher | None,
    history: Path | None,
) -> tuple[list[Lead] | None, RouterInputs]:
    """The past leads (``--history``, if given) and the router's inputs built with them,
    including the deal-value model a value objective learns from that history."""
    from leadpilot.ingest import leads_from_frame, read_history
    from leadpilot.policy import router_inputs

    past_frame = read_history(history).frame if history is not None else None
    past = leads_from_frame(past_frame) if past_frame is not None else None
    inputs = router_inputs(
        policy,
        roster,
        scorer=scorer,
        accounts=matcher,
        history=past,
        value_model=value_model_for(policy, past_frame, scorer),
    )
    return past, inputs


def value_model_for(policy: Policy, history: Any, scorer: Scorer | None) -> ValueModel | None:
    """The deal-value model a value ``objective`` needs, learnt from ``--history`` (a
    canonical history frame); ``None`` for ``objective: conversions`` or without a scorer
    (rules only)."""
    if policy.objective == "conversions" or scorer is None:
        return None
    if history is None:
        raise ConfigError(
            f"objective: {policy.objective} needs --history: the deal values are learnt from "
            "its converted leads' deal_value",
            hint="Pass --history history.csv, or set objective: conversions in the policy.",
        )
    from leadpilot.model.value import fit_value_model

    return fit_value_model(history)


def _print_batch(out: Console, decisions: list[Decision], reps: list[Rep]) -> None:
    import numpy as np

    from leadpilot.policy.fairness import fair_shares, fairness_index

    counts = Counter(d.rep_id for d in decisions)
    table = Table(title="Leads per rep", show_lines=False)
    for col in ("rep", "leads", "fairness index", "strategies"):
        table.add_column(col, justify="right" if col != "rep" else "left")
    active = [r for r in reps if r.active]
    # the KPI of the practitioners' table: a rep's leads / the pool average (target 0.9-1.1)
    index = fairness_index(
        np.array([counts.get(r.rep_id, 0) for r in active], dtype=float),
        fair_shares(np.ones(len(active))),
    )
    for rep, fi in zip(active, index, strict=True):
        kinds = Counter(d.strategy for d in decisions if d.rep_id == rep.rep_id)
        table.add_row(
            rep.rep_id,
            str(counts.get(rep.rep_id, 0)),
            f"{fi:.2f}",
            ", ".join(f"{k} {v}" for k, v in kinds.most_common()),
        )
    out.print(table)
    waiting = counts.get(None, 0)
    if waiting:
        why = Counter(d.reasons[-1] for d in decisions if d.rep_id is None)
        out.print(
            f"[yellow]{waiting} lead(s) got no rep[/] ("
            + ", ".join(f"{k}: {v}" for k, v in why.most_common())
            + "); in the service they wait in the queue."
        )


def print_comparison(out: Console, results: dict[str, Any], n_leads: int, version: str) -> None:
    """The table of :func:`leadpilot.evaluate.compare.compare_strategies`'s figures."""
    table = Table(title=f"Routing {n_leads:,} new leads, scored by the ground truth")
    for col in ("policy", "true expected conversions", "of best lift", "fairness index"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    labels = {
        "round_robin": "round-robin",
        "predictive": f"predictive ({version})",
        "greedy": "greedy argmax (offline)",
        "best": "best feasible (offline LP)",
    }
    for arm, label in labels.items():
        r = results[arm]
        share = r.get("share_of_best_lift")
        fi = r.get("fairness")
        table.add_row(
            label,
            f"{r['expected']:.1f}",
            f"{share:.0%}" if share is not None else ("100%" if arm == "best" else "0%"),
            f"{fi[0]:.2f}-{fi[1]:.2f}" if fi else "",
        )
    out.print(table)


# The demo's min_confidence: how sure the model must be that its rep converts the lead better
# than round-robin's pick before it overrides round-robin.
DEMO_MIN_CONFIDENCE = 0.9


def _print_confidence(out: Console, results: dict[str, Any]) -> None:
    """The predictive decisions' confidence (P(the model's rep converts better than the rep
    round-robin would have picked)) and what ``min_confidence`` does with it."""
    import numpy as np

    pred, guarded, rr = results["predictive"], results["guarded"], results["round_robin"]
    conf = np.array([d.confidence for d in pred["decisions"] if d.confidence is not None])
    if not len(conf):
        return
    q10, q50 = np.quantile(conf, [0.1, 0.5])
    fell = sum("LOW_CONFIDENCE_FALLBACK" in d.reasons for d in guarded["decisions"])
    n = len(guarded["decisions"])
    out.print(
        "Confidence = P(the model's rep converts the lead better than the rep round-robin "
        f"would have picked), from the model's bags: median {q50:.2f}, 10th percentile "
        f"{q10:.2f}, {np.mean(conf < DEMO_MIN_CONFIDENCE):.0%} below {DEMO_MIN_CONFIDENCE}."
    )
    out.print(
        f"With [bold]min_confidence: {DEMO_MIN_CONFIDENCE}[/] in the policy, {fell:,} of {n:,} "
        f"leads ({fell / n:.0%}) go to the fallback (round-robin): "
        f"{guarded['expected']:.1f} expected conversions against {pred['expected']:.1f} without "
        f"the threshold and {rr['expected']:.1f} for round-robin (ground truth)."
    )


def demo_section(
    out: Console, workdir: Path, world: Any, scorer: Scorer | None = None
) -> dict[str, Any]:
    """For ``leadpilot demo``: route the world's new leads by round-robin and by the default
    predictive policy (with ``scorer``, e.g. the trained model; the world's oracle when
    omitted), compare with the ground truth, write ``decisions.csv``, and explain one
    decision (who, why, why not the runner-up)."""
    from leadpilot.csv_safe import write_safe_csv
    from leadpilot.evaluate.compare import compare_strategies
    from leadpilot.policy.batch import decisions_frame
    from leadpilot.policy.explain import explain

    results = compare_strategies(world, scorer, min_confidence=DEMO_MIN_CONFIDENCE)
    write_safe_csv(decisions_frame(results["predictive"]["decisions"]), workdir / "decisions.csv")
    version = scorer.version if scorer is not None else world.truth.as_scorer().version
    print_comparison(out, results, len(world.new_leads), version)
    pred, rr = results["predictive"], results["round_robin"]
    out.print(
        f"Predictive routing: [bold]{pred['expected'] - rr['expected']:+.1f}[/] expected "
        f"conversions over round-robin ({pred['expected'] / rr['expected'] - 1:+.0%}), "
        f"{pred['share_of_best_lift']:.0%} of what the best offline assignment gains; "
        f"no rep over their daily cap ({pred['over_cap_rep_days']} over-cap rep-days), "
        f"fairness index {pred['fairness'][0]:.2f}-{pred['fairness'][1]:.2f}."
    )
    _print_confidence(out, results)
    decisions: list[Decision] = pred["decisions"]
    sample = next((d for d in decisions if d.rep_id and len(d.candidates) > 1), None)
    if sample is not None:
        out.print("\nOne decision, explained:")
        out.print(explain(sample), highlight=False)
    out.print(
        f"Decisions written to {workdir / 'decisions.csv'}. Try:\n"
        f"  leadpilot route-batch {workdir}/new_leads.csv --reps {workdir}/reps.csv "
        f"--history {workdir}/history.csv --truth {workdir}/truth.json --out decisions.csv\n"
        f"  leadpilot policy check examples/policy.yaml --reps {workdir}/reps.csv "
        f"--history {workdir}/history.csv"
    )
    return results
