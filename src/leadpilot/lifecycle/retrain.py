"""``retrain``: learn a challenger from the store, compare it with the champion on the same
most recent held-out leads, promote it or keep the champion, and record why.

On an empty registry the first model trained from the stored history becomes the first
champion (unless it loses to a simple baseline on its own out-of-time test). The promoted
model is refit on every lead of the window, with the same settings as the challenger that
was tested (the tested one never saw the held-out leads).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadpilot.copies import source_id
from leadpilot.lifecycle.compare import compare_models, holdout_split
from leadpilot.lifecycle.registry import load_version, save_version
from leadpilot.lifecycle.trainset import TrainingSet, build_training_set
from leadpilot.model.metrics import jsonable
from leadpilot.store.engine import write_transaction
from leadpilot.store.models import active_model_row, reject_version, set_champion
from leadpilot.store.types import utcnow

__all__ = ["RetrainOptions", "RetrainResult", "retrain"]


@dataclass(frozen=True)
class RetrainOptions:
    """How to retrain. ``params``: ``ConversionModel`` parameters of the challenger
    (default: the champion's, else the model's defaults)."""

    window: timedelta = timedelta(days=18 * 30.4375)
    outcome_window: timedelta = timedelta(days=30)
    holdout_fraction: float = 0.15
    min_holdout: int = 300
    force: bool = False
    refit: bool = True
    trained_by: str = "leadpilot retrain"
    params: Mapping[str, Any] | None = None


@dataclass
class RetrainResult:
    """What one retrain did: ``action`` is first_champion, promoted, forced, rejected or
    unchanged (the challenger is the champion's exact model)."""

    action: str
    champion_before: str | None
    challenger: str
    champion_after: str | None
    reason: str
    training: dict[str, Any]
    comparison: dict[str, Any] | None = None
    first_evaluation: dict[str, Any] | None = None
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        return jsonable(
            {
                "action": self.action,
                "champion_before": self.champion_before,
                "challenger": self.challenger,
                "champion_after": self.champion_after,
                "reason": self.reason,
                "training": self.training,
                "comparison": self.comparison,
                "first_evaluation": self.first_evaluation,
                "cpu_seconds": self.cpu_seconds,
                "wall_seconds": self.wall_seconds,
            }
        )


def _new_model(params: Mapping[str, Any] | None) -> Any:
    from leadpilot.model import ConversionModel

    return ConversionModel(**dict(params or {}))


def retrain(
    engine: sa.Engine,
    store: Path,
    options: RetrainOptions = RetrainOptions(),
    *,
    now: datetime | None = None,
) -> RetrainResult:
    """Run one retrain against ``engine``'s store, writing versions under ``store``."""
    started, cpu0 = time.perf_counter(), time.process_time()
    now = now or utcnow()
    with engine.connect() as conn:
        data = build_training_set(
            conn, now=now, window=options.window, outcome_window=options.outcome_window
        )
        row = active_model_row(conn)
    if row is None:
        result = _first(engine, store, data, options, now)
    else:
        result = _challenge(engine, store, data, options, row, now)
    result.cpu_seconds = time.process_time() - cpu0
    result.wall_seconds = time.perf_counter() - started
    return result


def _learned_until(champion: Any) -> pd.Timestamp | None:
    """The newest lead the champion learned an outcome from."""
    win = champion.fitted_.training_window
    ends = [win.get(part, {}).get("last") for part in ("train", "calibration", "test")]
    stamps = [pd.Timestamp(e) for e in ends if e and not str(e).startswith("row")]
    return max(stamps) if stamps else None


def _holdout_start(
    frame: pd.DataFrame, champion: Any, options: RetrainOptions
) -> tuple[pd.Timestamp, str]:
    """Where the held-out slice starts: the latest ``holdout_fraction`` of settled leads (at
    least ``min_holdout``), and after the last lead the champion learned from, so neither
    model saw it; when fewer than ``min_holdout`` settled leads came since, the
    latest ``holdout_fraction`` instead, said in the reason (the champion then saw them,
    which favours it: a challenger that still wins is clearly better)."""
    learned = _learned_until(champion)
    lab = frame.loc[frame["converted"].notna(), "created_at"]
    start = holdout_split(frame, options.holdout_fraction, options.min_holdout)
    if learned is not None and int((lab > learned).sum()) >= options.min_holdout:
        # The latest slice, but never a lead the champion learned from; the challenger
        # learns from everything before it, the new leads before the slice included.
        return max(start, learned + pd.Timedelta(microseconds=1)), ""
    since = int((lab > learned).sum()) if learned is not None else 0
    return start, (
        f"only {since:,} settled leads arrived after the champion's training data, fewer than "
        f"{options.min_holdout:,}: both were compared on the latest {int((lab >= start).sum()):,}, "
        "which the champion learned from, so the comparison favours the champion"
    )


def _first(
    engine: sa.Engine, store: Path, data: TrainingSet, options: RetrainOptions, now: datetime
) -> RetrainResult:
    from leadpilot.model.evaluation import fit_and_evaluate

    model = _new_model(options.params)
    report = fit_and_evaluate(model, data.frame)
    figures = {"model": report.metrics.get("model", {}), "baselines": report.comparisons}
    block = model.fitted_.routing_block
    lab = int(data.frame["converted"].notna().sum())
    reason = (
        f"trained on {lab:,} settled leads of the store, out-of-time AUC "
        f"{report.metrics['model']['auc']:.3f} on the latest "
        f"{report.training_window['test']['rows']:,}"
    )
    save_version(
        model,
        store,
        engine,
        trained_by=options.trained_by,
        metrics=jsonable(figures),
        data_fingerprint=data.fingerprint,
        reason=reason,
        now=now,
        history=data.frame,
    )
    with write_transaction(engine) as conn:
        if block and not options.force:
            reason = f"not made champion: {block} (use --force to route with it anyway)"
            reject_version(conn, model.version, reason=reason, actor=options.trained_by, now=now)
            after, action = None, "rejected"
        else:
            if block:
                reason = f"forced by a person despite: {block}; {reason}"
            set_champion(conn, model.version, reason=reason, actor=options.trained_by, now=now)
            after, action = model.version, "first_champion"
    return RetrainResult(
        action=action,
        champion_before=None,
        challenger=model.version,
        champion_after=after,
        reason=reason,
        training=data.summary(),
        first_evaluation=jsonable(figures),
    )


def _challenge(
    engine: sa.Engine,
    store: Path,
    data: TrainingSet,
    options: RetrainOptions,
    row: Any,
    now: datetime,
) -> RetrainResult:
    champion = load_version(row)
    params = options.params or champion.get_params(deep=False)
    frame = data.frame
    cutoff, note = _holdout_start(frame, champion, options)
    before = frame[frame["created_at"] < cutoff]
    held = frame[(frame["created_at"] >= cutoff) & frame["converted"].notna()]
    tested = _new_model(params).fit(before)
    known = data.propensity.__contains__
    ids = [source_id(i, known) for i in held["lead_id"].astype(str)]
    logged = np.array([data.propensity.get(i, np.nan) for i in ids], dtype=np.float64)
    comparison = compare_models(champion, tested, before, held, logged_pscore=logged)
    final = _new_model(params).fit(frame) if options.refit else tested
    figures = comparison.to_json()
    figures["tested_version"] = tested.version
    figures["holdout_note"] = note
    reason = comparison.reason() + (f" ({note})" if note else "")
    if final.version == champion.version:
        return RetrainResult(
            action="unchanged",
            champion_before=champion.version,
            challenger=final.version,
            champion_after=champion.version,
            reason="the retrained model is the champion's exact model (same data, same fit)",
            training=data.summary(),
            comparison=jsonable(figures),
        )
    save_version(
        final,
        store,
        engine,
        trained_by=options.trained_by,
        metrics=jsonable(figures),
        data_fingerprint=data.fingerprint,
        reason=reason,
        now=now,
        history=data.frame,
    )
    with write_transaction(engine) as conn:
        if comparison.promote or options.force:
            if not comparison.promote:
                reason = f"forced by a person despite: {reason}"
            set_champion(
                conn,
                final.version,
                reason=reason,
                actor=options.trained_by,
                details={"comparison": jsonable(figures)},
                now=now,
            )
            action = "promoted" if comparison.promote else "forced"
            after = final.version
        else:
            reject_version(
                conn,
                final.version,
                reason=reason,
                actor=options.trained_by,
                details={"comparison": jsonable(figures)},
                now=now,
            )
            action, after = "rejected", champion.version
    return RetrainResult(
        action=action,
        champion_before=champion.version,
        challenger=final.version,
        champion_after=after,
        reason=reason,
        training=data.summary(),
        comparison=jsonable(figures),
    )
