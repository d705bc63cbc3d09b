"""Registered model versions on disk and in the store: save a trained model as a version
(files checksummed), load one back only if its files still match, promote, roll back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leadpilot.errors import ConfigError, ModelError
from leadpilot.model.checksums import artifact_checksums, verify_checksums
from leadpilot.store.engine import write_transaction
from leadpilot.store.models import (
    ModelVersion,
    champion_version,
    get_version,
    previous_champion,
    register_version,
    set_champion,
)

if TYPE_CHECKING:
    import pandas as pd

    from leadpilot.model import ConversionModel

__all__ = ["feature_schema", "load_version", "promote", "rollback", "save_version"]

_log = logging.getLogger(__name__)


def feature_schema(model: ConversionModel) -> dict[str, Any]:
    """The inputs a version expects: names and which are categorical."""
    fitted = model.fitted_
    return {
        "features": list(fitted.feature_names),
        "categorical": list(fitted.state.categorical_names),
        "target": model.target,
    }


def save_version(
    model: ConversionModel,
    store: Path,
    engine: sa.Engine,
    *,
    trained_by: str,
    metrics: Mapping[str, Any],
    data_fingerprint: str | None,
    reason: str,
    now: datetime | None = None,
    history: pd.DataFrame | None = None,
) -> Path:
    """Write ``model`` to ``store/<version>`` and register it as a candidate with its
    checksums; returns its folder. ``history``: the frame it was trained on, from which
    the deal-value model is fitted and saved beside it (checksummed with it) when the
    history has deal values."""
    from leadpilot.model.value_artifacts import fit_and_save_value

    directory = (store / model.version).resolve()
    if not (directory / "model.json").is_file():
        model.save(directory)
        if history is not None:
            _value, note = fit_and_save_value(history, directory)
            _log.info("model %s: %s", model.version, note)
    checksums = artifact_checksums(directory)
    calibration = model.fitted_.calibrator.to_json()
    item = ModelVersion(
        version=model.version,
        path=str(directory),
        trained_by=trained_by,
        training_window=model.fitted_.training_window,
        data_fingerprint=data_fingerprint,
        metrics=metrics,
        calibration=calibration if isinstance(calibration, dict) else {"map": calibration},
        feature_schema=feature_schema(model),
        checksums=checksums,
    )
    with write_transaction(engine) as conn:
        register_version(conn, item, reason=reason, now=now)
    return directory


def load_version(row: Any) -> ConversionModel:
    """The model of a registry row, after checking its files against the recorded
    checksums and its content hash against the registered version (``ModelError`` when
    either differs)."""
    from leadpilot.model import ConversionModel

    directory = Path(row.path)
    verify_checksums(directory, row.checksums or {}, version=row.version)
    model = ConversionModel.load(directory)
    if model.version != row.version:
        raise ModelError(
            f"{directory} holds model {model.version}, but the registry says {row.version}",
            hint="the folder was replaced by another model; restore it or retrain",
            details={"path": str(directory)},
        )
    return model


def _known(conn: sa.Connection, version: str) -> Any:
    row = get_version(conn, version)
    if row is None:
        raise ConfigError(
            f"no model version {version!r} in the registry",
            hint="`leadpilot model list` shows the registered versions",
        )
    return row


def promote(engine: sa.Engine, version: str, *, actor: str, reason: str) -> str | None:
    """Make ``version`` the champion (its files must still load); returns the version it
    replaced. Every replica's worker swaps to it within one poll."""
    with engine.connect() as conn:
        row = _known(conn, version)
    load_version(row)  # refuse a version whose files no longer match before it routes
    with write_transaction(engine) as conn:
        return set_champion(conn, version, reason=reason, actor=actor)


def rollback(engine: sa.Engine, *, actor: str, reason: str) -> tuple[str, str]:
    """Make the champion before the current one the champion again; returns
    ``(from, to)``."""
    with engine.connect() as conn:
        current = champion_version(conn)
        previous = previous_champion(conn)
        if current is None or previous is None:
            raise ConfigError(
                "there is no previous champion to roll back to"
                if current is not None
                else "no model is the champion yet",
                hint="`leadpilot model list` shows the versions; `leadpilot model promote "
                "VERSION` makes any of them the champion",
            )
        row = _known(conn, previous)
    load_version(row)
    with write_transaction(engine) as conn:
        set_champion(conn, previous, reason=reason, actor=actor, action="rolled_back")
    return current, previous
