"""Every replica routes with the registry's champion: the worker reads the champion's
version each poll (one indexed read) and, when it moved, loads the new version off the
request path and swaps it in with one assignment, so every decision uses the old model or
the new one, never a mix, and logs the version it used.

A version whose files no longer match their checksums is not loaded: the replica keeps
routing with what it has and raises an alert naming the file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadpilot.errors import LeadpilotError
from leadpilot.schema import Scorer, ValueModel
from leadpilot.store.alerts import record_alert
from leadpilot.store.engine import write_transaction
from leadpilot.store.models import active_model_row

if TYPE_CHECKING:
    from leadpilot.service.core import RoutingService

__all__ = ["ModelWatcher", "models_of_row", "scorer_of_row"]

_log = logging.getLogger("leadpilot.worker")


def scorer_of_row(row: Any, *, force: bool) -> Scorer | None:
    """The scorer of a registry row: checksums verified when recorded (a version given
    with ``--model`` before the registry has none); ``None`` when the model lost to a
    baseline on its own test, unless ``force``."""
    from leadpilot.lifecycle.registry import load_version
    from leadpilot.service.inputs import load_scorer

    if not row.checksums:
        return load_scorer(Path(row.path), force=force)
    model = load_version(row)
    block = model.fitted_.routing_block
    if block and not force:
        _log.warning("model %s is not used: %s; routing by the policy's rules", row.version, block)
        return None
    return model


def models_of_row(row: Any, *, force: bool) -> tuple[Scorer | None, ValueModel | None]:
    """The scorer of a registry row (:func:`scorer_of_row`) and the deal-value model saved
    beside it (its files are among the row's checksums, checked by ``load_version``); no
    value model without a scorer (routing then follows the policy's rules)."""
    from leadpilot.service.inputs import load_value_model

    scorer = scorer_of_row(row, force=force)
    if scorer is None:
        return None, None
    return scorer, load_value_model(Path(row.path))


class ModelWatcher:
    """Adopts the registry's champion (``poll`` once per worker poll)."""

    def __init__(self, service: RoutingService) -> None:
        self.service = service
        scorer = service.inputs.scorer
        self.seen: str | None = scorer.version if scorer is not None else None

    def poll(self, now: datetime) -> bool:
        """Swap to the champion if it changed since the last poll; True when swapped."""
        engine = self.service.engine
        with engine.connect() as conn:
            row = active_model_row(conn)
        if row is None or row.version == self.seen:
            return False
        self.seen = row.version  # a version that fails to load is not retried every poll
        try:
            scorer, value_model = models_of_row(row, force=self.service.settings.force_model)
        except LeadpilotError as exc:
            _log.error("champion %s not loaded: %s", row.version, exc.message)
            with write_transaction(engine) as conn:
                record_alert(
                    conn,
                    "model_load_failed",
                    f"model {row.version} was made the champion but this replica cannot load "
                    f"it: {exc.message}; it keeps routing with its current model",
                    details={"version": row.version, "hint": exc.hint or ""},
                    now=now,
                )
            return False
        self.service.inputs.swap_scorer(scorer, engine, now, value_model)
        _log.info("now routing with model %s", row.version)
        return True
