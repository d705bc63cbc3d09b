"""``/v1/models``: the model registry, read-only (changes go through ``leadpilot model``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from leadpilot.lifecycle.listing import registry_listing
from leadpilot.service.deps import Conn, ReaderToken

router = APIRouter(prefix="/v1/models", tags=["models"])


class ModelEventPublic(BaseModel):
    """One entry of a version's trail."""

    at: str
    action: str  # registered, promoted, rejected, retired, rolled_back
    actor: str | None
    reason: str | None


class ModelVersionPublic(BaseModel):
    """A registered model version, as ``leadpilot model list --json`` prints it."""

    version: str
    status: str | None  # candidate, champion, rejected, retired
    active: bool  # the champion: every replica routes with it
    created_at: str
    promoted_at: str | None
    retired_at: str | None
    trained_by: str | None
    reason: str | None  # why it has its status (the latest promotion or rejection)
    training_window: dict[str, Any] | None  # train / calibration / test: rows, first, last
    data_fingerprint: str | None
    metrics: dict[str, Any] | None  # held-out figures; the champion comparison if challenged
    calibration: dict[str, Any] | None
    feature_schema: dict[str, Any] | None
    checksums: dict[str, str] | None  # SHA-256 of every artifact file
    path: str  # the version's folder in the model store
    events: list[ModelEventPublic]


@router.get("", response_model=list[ModelVersionPublic])
def get_models(conn: Conn, _token: ReaderToken) -> list[dict[str, Any]]:
    """Every registered model version, newest first: status, training window, held-out
    metrics, and its trail with the reason for every promotion and rejection."""
    return registry_listing(conn)
