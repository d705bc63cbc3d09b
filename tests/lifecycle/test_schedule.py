"""When the service retrains: the policy's schedule (default monthly) and drift alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from leadpilot.errors import PolicyError
from leadpilot.policy.retrain_settings import RetrainSettings
from leadpilot.service.inputs import policy_from_text
from leadpilot.service.retrain_schedule import due_reason

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DRIFT = SimpleNamespace(message="feature industry drifted (PSI 0.31)")


def test_monthly_by_default() -> None:
    monthly = RetrainSettings()
    assert due_reason(monthly, NOW - timedelta(days=29), None, NOW) is None
    why = due_reason(monthly, NOW - timedelta(days=30), None, NOW)
    assert why == "scheduled: the last training was 30 days ago"
    assert due_reason(monthly, None, None, NOW) == "no model is registered yet"


def test_drift_alert_retrains_early_but_not_twice_a_day() -> None:
    settings = RetrainSettings()
    assert due_reason(settings, NOW - timedelta(days=3), DRIFT, NOW) == (
        "drift alert: feature industry drifted (PSI 0.31)"
    )
    assert due_reason(settings, NOW - timedelta(hours=5), DRIFT, NOW) is None
    off = RetrainSettings(on_drift=False)
    assert due_reason(off, NOW - timedelta(days=3), DRIFT, NOW) is None
    assert due_reason(RetrainSettings(enabled=False), None, DRIFT, NOW) is None


def test_policy_retrain_section() -> None:
    text = "pools:\n  - name: all\n    strategy: round_robin\nretrain:\n  every_days: 7\n"
    policy = policy_from_text(text)
    assert policy.retrain_settings.every_days == 7
    # Without the section the policy's version is what it was before the section existed.
    plain = policy_from_text("pools:\n  - name: all\n    strategy: round_robin\n")
    assert plain.retrain_settings == RetrainSettings()
    assert "retrain" not in plain.model_dump(exclude_none=True)
    with pytest.raises(PolicyError, match="every_days"):
        policy_from_text(text.replace("every_days: 7", "every_days: 0"))


@pytest.mark.slow
def test_worker_retrains_when_due_and_every_replica_swaps(tmp_path, small_world) -> None:
    """An empty registry is due at once: the worker's schedule starts the retrain in a child
    process; both replicas' watchers adopt the new champion on their next poll, and their
    next decisions log it."""
    from leadpilot.ingest.roster import leads_from_frame
    from leadpilot.service.core import RoutingService
    from leadpilot.service.metrics import ServiceMetrics
    from leadpilot.service.model_swap import ModelWatcher
    from leadpilot.service.retrain_schedule import RetrainSchedule
    from leadpilot.settings import Settings
    from leadpilot.store.models import champion_version

    from .conftest import load_world

    url = f"sqlite:///{tmp_path / 'lp.db'}"
    engine = load_world(url, small_world)
    end = small_world.history["created_at"].max().to_pydatetime() + timedelta(days=1)
    settings = Settings(environment="development", worker_enabled=False,
                        background_pricing=False, model_store=tmp_path / "models")  # fmt: skip
    replicas = [
        RoutingService(engine, settings=settings, metrics=ServiceMetrics(), clock=lambda: end)
        for _ in range(2)
    ]
    watchers = [ModelWatcher(r) for r in replicas]
    schedule = RetrainSchedule(replicas[0])
    try:
        assert schedule.due(end)[0] == "no model is registered yet"
        assert schedule.maybe_start(end)
        assert schedule._job is not None
        result = schedule._job.result(timeout=900)
    finally:
        schedule.close()
    assert result["action"] == "first_champion"
    with engine.connect() as conn:
        champion = champion_version(conn)
    assert champion == result["champion_after"]
    leads = leads_from_frame(small_world.new_leads.head(2))
    for watcher, replica, lead in zip(watchers, replicas, leads, strict=True):
        assert replica.inputs.scorer is None  # routing by rules until the swap
        assert watcher.poll(end)
        assert replica.inputs.scorer is not None
        assert replica.inputs.scorer.version == champion
        stored = replica.intake(lead).decision
        assert stored is not None
        assert stored.decision.model_version == champion
        assert not watcher.poll(end)  # nothing new: no reload
    engine.dispose()


def test_a_retrain_that_cannot_run_warns_once_and_waits(caplog: pytest.LogCaptureFixture) -> None:
    """No leads to learn from yet (a fresh install): one warning with the fix, no traceback,
    and no new child process every minute while the registry stays empty."""
    import logging
    from concurrent.futures import Future

    from leadpilot.errors import ConfigError
    from leadpilot.service.retrain_schedule import RETRY_SECONDS, RetrainSchedule

    class Service:  # due() would say "no model is registered yet" on every check
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the schedule asked the service for {name} while waiting")

    schedule = RetrainSchedule(Service())  # type: ignore[arg-type]
    failed: Future[dict[str, object]] = Future()
    hint = "load a history with `leadpilot load history.csv`"
    failed.set_exception(
        ConfigError("no leads in the store since 2025-01-05 to learn from", hint=hint)
    )
    schedule._job = failed
    with caplog.at_level(logging.INFO, logger="leadpilot.worker"):
        assert schedule.maybe_start(NOW) is False
        assert schedule.maybe_start(NOW) is False  # still waiting: the service is not asked
    assert schedule.last_result == {
        "action": "failed",
        "reason": "no leads in the store since 2025-01-05 to learn from",
        "hint": hint,
    }
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "load a history" in record.getMessage()
    assert f"tries again in {RETRY_SECONDS / 60:.0f} min" in record.getMessage()


def test_a_store_with_no_leads_is_not_due(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A fresh install (no history loaded, nothing routed): nothing to learn from, so no
    retrain is started at all; once a lead of the window is stored, the empty registry is
    due."""
    from leadpilot.schema import Lead
    from leadpilot.service.core import RoutingService
    from leadpilot.service.metrics import ServiceMetrics
    from leadpilot.service.retrain_schedule import RetrainSchedule
    from leadpilot.settings import Settings
    from leadpilot.store.engine import make_engine, write_transaction
    from leadpilot.store.history import load_history_leads
    from leadpilot.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'lp.db'}")
    upgrade(engine)
    settings = Settings(environment="development", worker_enabled=False,
                        background_pricing=False, model_store=tmp_path / "models")  # fmt: skip
    service = RoutingService(engine, settings=settings, metrics=ServiceMetrics(),
                             clock=lambda: NOW)  # fmt: skip
    schedule = RetrainSchedule(service)
    try:
        assert schedule.due(NOW)[0] is None
        assert schedule.maybe_start(NOW) is False
        assert schedule._job is None
        old = Lead(lead_id="H-old", created_at=NOW - timedelta(days=800))  # outside 18 months
        with write_transaction(engine) as conn:
            load_history_leads(conn, [old])
        assert schedule.due(NOW)[0] is None
        with write_transaction(engine) as conn:
            load_history_leads(conn, [Lead(lead_id="H-1", created_at=NOW - timedelta(days=3))])
        assert schedule.due(NOW)[0] == "no model is registered yet"
    finally:
        schedule.close()
        engine.dispose()
