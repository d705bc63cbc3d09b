"""Scheduled retraining inside ``leadpilot serve``: when the policy's ``retrain:`` settings
say it is due (default: monthly) or a drift alert opened since the last training, the
worker starts ``lifecycle.retrain`` in a separate process (never on the request path, and
not holding the GIL routing needs), at low CPU priority.

One replica at a time: the child takes the ``retrain`` lease (``store.leases``: an
advisory lock on PostgreSQL) and skips when another replica holds it. The result lands in
the registry; every replica's ``ModelWatcher`` adopts a promoted model within one poll.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadpilot.errors import LeadpilotError
from leadpilot.policy.retrain_settings import RetrainSettings
from leadpilot.store.intake import routing_versions
from leadpilot.store.models import drift_alert_since, latest_training_at
from leadpilot.store.training_reads import has_leads_between

if TYPE_CHECKING:
    from leadpilot.service.core import RoutingService

__all__ = ["RetrainSchedule", "due_reason", "run_retrain_job"]

_log = logging.getLogger("leadpilot.worker")
CHECK_SECONDS = 60.0  # how often the worker asks whether a retrain is due
# After a retrain that could not run (e.g. no leads to learn from yet), wait this long
# before the next try rather than spawning a doomed child every minute.
RETRY_SECONDS = 3600.0


def due_reason(
    settings: RetrainSettings, last: datetime | None, drift: Any, now: datetime
) -> str | None:
    """Why a retrain is due at ``now`` (``None``: it is not). ``last``: when the newest
    version was registered; ``drift``: an open drift alert raised since then, or None."""
    if not settings.enabled:
        return None
    if last is None:
        return "no model is registered yet"
    if now - last >= timedelta(days=settings.every_days):
        return f"scheduled: the last training was {(now - last).days} days ago"
    if (
        settings.on_drift
        and drift is not None
        and now - last >= timedelta(days=settings.min_days_between)
    ):
        return f"drift alert: {drift.message}"
    return None


def run_retrain_job(
    url: str, store: str, settings: dict[str, Any], now_iso: str, why: str
) -> dict[str, Any]:
    """The child process: take the lease, retrain, return the result (or why skipped)."""
    from leadpilot.lifecycle.retrain import RetrainOptions, retrain
    from leadpilot.store.engine import make_engine
    from leadpilot.store.leases import exclusive

    with contextlib.suppress(OSError):
        os.nice(10)  # routing on the same cores comes first
    conf = RetrainSettings(**settings)
    now = datetime.fromisoformat(now_iso)
    engine = make_engine(url, pool_size=1)
    try:
        with exclusive(engine, "retrain", now=now) as mine:
            if not mine:
                return {"action": "skipped", "reason": "another replica is retraining"}
            options = RetrainOptions(
                window=timedelta(days=conf.window_months * 30.4375),
                outcome_window=timedelta(days=conf.outcome_days),
                trained_by=f"leadpilot serve ({why})",
            )
            return retrain(engine, Path(store), options, now=now).to_json()
    finally:
        engine.dispose()


class RetrainSchedule:
    """Starts a retrain when due; at most one in flight per replica."""

    def __init__(self, service: RoutingService) -> None:
        self.service = service
        self._pool: ProcessPoolExecutor | None = None
        self._job: Future[dict[str, Any]] | None = None
        self._checked = -float("inf")
        self._retry_at = -float("inf")
        self.last_result: dict[str, Any] | None = None

    def due(self, now: datetime) -> tuple[str | None, RetrainSettings]:
        """Why a retrain is due now (``None`` too when the store holds no lead of the
        window to learn from), and the policy's settings."""
        inputs = self.service.inputs
        with self.service.engine.connect() as conn:
            _, roster_version = routing_versions(conn)
            policy = inputs.policy(conn, inputs.roster(conn, roster_version))
            settings = policy.retrain_settings
            last = latest_training_at(conn)
            drift = drift_alert_since(conn, last) if settings.on_drift else None
            why = due_reason(settings, last, drift, now)
            window = timedelta(days=settings.window_months * 30.4375)
            # A fresh store (no history loaded, nothing routed yet) has nothing to learn
            # from: not due, rather than a child process that can only fail.
            if why is not None and not has_leads_between(conn, since=now - window, until=now):
                why = None
        return why, settings

    def maybe_start(self, now: datetime) -> bool:
        """Start a retrain if one is due (checked every ``CHECK_SECONDS``); True if started."""
        if self._job is not None:
            if not self._job.done():
                return False
            try:
                self.last_result = self._job.result()
                _log.info("retrain finished: %s", self.last_result.get("reason"))
            except LeadpilotError as exc:  # a condition to fix, not a bug: no traceback
                self.last_result = {"action": "failed", "reason": exc.message, "hint": exc.hint}
                self._retry_at = time.monotonic() + RETRY_SECONDS
                _log.warning(
                    "retrain could not run: %s (%s); the worker tries again in %.0f min, "
                    "`leadpilot retrain` runs one now",
                    exc.message,
                    exc.hint or "see `leadpilot retrain --help`",
                    RETRY_SECONDS / 60,
                )
            except Exception:
                _log.exception("retrain failed")
            self._job = None
        now_mono = time.monotonic()
        if now_mono - self._checked < CHECK_SECONDS or now_mono < self._retry_at:
            return False
        self._checked = time.monotonic()
        why, settings = self.due(now)
        if why is None:
            return False
        url = self.service.engine.url.render_as_string(hide_password=False)
        if self._pool is None:
            # spawn, not fork: the server process has threads (uvicorn, the worker).
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        store = str(Path(self.service.settings.model_store).resolve())
        _log.info("starting a retrain: %s", why)
        self._job = self._pool.submit(
            run_retrain_job, url, store, settings.model_dump(), now.isoformat(), why
        )
        return True

    def close(self) -> None:
        """Let a running retrain finish in the background; stop the pool afterwards."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
