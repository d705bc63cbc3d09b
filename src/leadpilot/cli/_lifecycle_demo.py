"""The model-lifecycle step of ``leadpilot demo``: the tour's model becomes the registry's
first champion, routes a simulated week of the world's new leads (in process, the service's
own write path), the week's outcomes arrive, ``retrain`` pits a challenger against the
champion, and the weekly review is written for that week."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

__all__ = ["demo_section"]

_PER_DAY = 40  # new leads routed per simulated day: enough for a weekly review, fast
_DAYS = 5


def _store(workdir: Path, world: Any) -> Any:
    """A fresh store with a one-pool roster (always on shift, no caps: the step is about the
    model) and the last six months of history."""
    from leadpilot.ingest.roster import leads_from_frame, reps_from_frame
    from leadpilot.store.engine import make_engine, write_transaction
    from leadpilot.store.history import load_history_leads
    from leadpilot.store.migrate import upgrade
    from leadpilot.store.reps import upsert_reps

    path = workdir / "lifecycle.db"
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    roster = world.reps[world.reps["active"].fillna(False).astype(bool)].copy()
    roster["pool"], roster["timezone"], roster["working_hours"] = "everyone", "UTC", None
    for col in ("max_leads_per_day", "max_open_leads", "backup_rep_id"):
        roster[col] = None
    for col in ("regions", "industries", "products", "languages"):
        roster[col] = [() for _ in range(len(roster))]
    history = world.history
    recent = history[history["created_at"] >= history["created_at"].max() - pd.Timedelta(days=122)]
    with write_transaction(engine) as conn:
        upsert_reps(conn, reps_from_frame(roster))
        load_history_leads(conn, leads_from_frame(recent))
    return engine


def demo_section(console: Console, workdir: Path, world: Any, model_dir: Path) -> None:
    """Run the step (see the module docstring); writes ``weekly.html``, ``weekly.md`` and
    ``weekly.json`` into ``workdir``."""
    import json

    from leadpilot.cli.retrain import print_result
    from leadpilot.ingest.roster import leads_from_frame
    from leadpilot.lifecycle.registry import save_version
    from leadpilot.lifecycle.retrain import RetrainOptions, retrain
    from leadpilot.model import ConversionModel
    from leadpilot.service.core import RoutingService
    from leadpilot.service.events import handle_event
    from leadpilot.service.metrics import ServiceMetrics
    from leadpilot.service.schemas import EventCreate
    from leadpilot.service.weekly import weekly_report
    from leadpilot.service.weekly_pages import (
        kpi_cells,
        render_weekly_html,
        render_weekly_markdown,
        targets_note,
    )
    from leadpilot.settings import Settings
    from leadpilot.store.engine import write_transaction
    from leadpilot.store.models import set_champion

    engine = _store(workdir, world)
    store = workdir / "models"
    champion = ConversionModel.load(model_dir)
    history_end = world.history["created_at"].max().to_pydatetime()
    save_version(champion, store, engine, trained_by="leadpilot train (the tour's model)",
                 metrics={}, data_fingerprint=None, reason="the tour's model",
                 now=history_end)  # fmt: skip
    with write_transaction(engine) as conn:
        set_champion(conn, champion.version, reason="first champion: the tour's model",
                     actor="leadpilot demo", now=history_end)  # fmt: skip
    console.print(
        f"Registered the tour's model {champion.version} as the first champion "
        f"(files checksummed in {store}/)."
    )

    clock = {"now": history_end}
    settings = Settings(environment="development", worker_enabled=False,
                        background_pricing=False, model_store=store)  # fmt: skip
    service = RoutingService(engine, settings=settings, metrics=ServiceMetrics(),
                             scorer=champion, clock=lambda: clock["now"], seed=0)  # fmt: skip
    rng = np.random.default_rng(0)
    new = world.new_leads
    days = sorted(new["created_at"].dt.normalize().unique())[:_DAYS]
    routed = converted = 0
    for day in days:
        todays = new[new["created_at"].dt.normalize() == day].head(_PER_DAY)
        for lead, (_, row) in zip(leads_from_frame(todays), todays.iterrows(), strict=True):
            clock["now"] = row["created_at"].to_pydatetime()
            stored = service.intake(lead).decision
            decision = stored.decision if stored is not None else None
            if decision is None or decision.rep_id is None:
                continue
            routed += 1
            rep = decision.rep_id
            # The rep's first touch after their typical delay (one lead in ten never), then
            # the outcome, drawn from the true probability at that delay.
            hours = float(world.truth.expected_response_hours([rep])[0]) * rng.exponential()
            if rng.random() < 0.9:
                touched = clock["now"] + timedelta(hours=hours)
                handle_event(service, EventCreate(
                    event_id=f"demo-touch-{lead.lead_id}", lead_id=lead.lead_id,
                    type="first_touch", occurred_at=touched))  # fmt: skip
            p = world.truth.true_probability(todays.loc[[row.name]], [rep], hours)[0, 0]
            won = bool(rng.random() < p)
            converted += won
            handle_event(service, EventCreate(
                event_id=f"demo-outcome-{lead.lead_id}", lead_id=lead.lead_id,
                type="meeting_booked" if won else "closed_lost"))  # fmt: skip
    week_end = pd.Timestamp(days[-1]).to_pydatetime() + timedelta(days=1)
    console.print(
        f"A simulated week: {routed} new leads routed by the champion over {len(days)} days; "
        f"their outcomes drawn from the true probabilities ({converted} converted)."
    )

    options = RetrainOptions(window=timedelta(days=122), min_holdout=120,
                             trained_by="leadpilot retrain (demo)")  # fmt: skip
    result = retrain(engine, store, options, now=week_end + timedelta(days=1))
    print_result(console, result)

    with engine.connect() as conn:
        document = weekly_report(conn, until=week_end + timedelta(days=1))
    (workdir / "weekly.json").write_text(json.dumps(document, indent=2, default=str))
    (workdir / "weekly.md").write_text(render_weekly_markdown(document))
    (workdir / "weekly.html").write_text(render_weekly_html(document))
    table = Table(title=f"Weekly review, {document['since'][:10]} to {document['until'][:10]}",
                  title_justify="left")  # fmt: skip
    for col in ("KPI", "this week (95% CI)", "last week", "target", "status"):
        table.add_column(col)
    for k in document["kpis"]:
        table.add_row(*kpi_cells(k))
    console.print(table)
    for i, rec in enumerate(document["recommendations"], start=1):
        console.print(f"{i}. [bold]{rec['change']}[/]. Why: {rec['evidence']}.", highlight=False)
    console.print(f"[dim]{targets_note(document)}[/]", highlight=False)
    for note in document["notes"]:
        console.print(f"[dim]{note}[/]", highlight=False)
    console.print(f"Weekly review written to {workdir}/weekly.html (and .md, .json).")
    engine.dispose()
