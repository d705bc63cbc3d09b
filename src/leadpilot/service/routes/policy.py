"""``/v1/policy``: upload + validate + activate, history, diff, rollback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from leadpilot.policy.policy_diff import policy_text_diff
from leadpilot.policy.redaction import redact_policy_text
from leadpilot.service.deps import AdminToken, Conn, Ctx, ReaderToken
from leadpilot.service.errors import NotFoundError
from leadpilot.service.inputs import policy_from_text
from leadpilot.service.schemas import (
    PolicyActivate,
    PolicyActivationPublic,
    PolicyCreate,
    PolicyDiff,
    PolicyHistory,
    PolicyPublic,
    PolicyRollback,
)
from leadpilot.store import policies as store
from leadpilot.store.engine import routing_transaction, write_transaction
from leadpilot.store.tokens import TokenInfo

router = APIRouter(prefix="/v1/policy", tags=["policy"])


def _text_for(token: TokenInfo, text: str) -> str:
    """Webhook URLs carry secrets: only admins see them."""
    return text if token.role == "admin" else redact_policy_text(text)


def _public(row: Any, token: TokenInfo) -> PolicyPublic:
    return PolicyPublic(
        version=row.version,
        active=row.active,
        author=row.author,
        created_at=row.created_at,
        text=_text_for(token, row.text),
    )


def _get(conn: Any, version: str) -> Any:
    row = store.get_policy_row(conn, version)
    if row is None:
        raise NotFoundError(
            f"no policy version {version!r}",
            hint="GET /v1/policy/history lists the versions",
            details={"field": "version"},
        )
    return row


@router.post(
    "",
    response_model=PolicyPublic,
    status_code=201,
    responses={200: {"model": PolicyPublic, "description": "Version already stored"}},
)
def upload_policy(
    body: PolicyCreate, ctx: Ctx, response: Response, token: AdminToken
) -> PolicyPublic:
    """Validate a policy (errors name the key path), store it by content hash with its
    author and time, and activate it unless ``activate`` is false."""
    policy = policy_from_text(body.policy)
    version = policy.policy_hash
    if body.activate:
        with routing_transaction(ctx.engine) as locked:
            created = store.save_policy(
                locked,
                version=version,
                text=body.policy,
                author_token_id=token.id,
                author=token.name,
            )
            store.activate_policy(
                locked, version, action="upload", author_token_id=token.id, author=token.name
            )
            row = store.get_policy_row(locked, version)
    else:
        with write_transaction(ctx.engine) as conn:
            created = store.save_policy(
                conn, version=version, text=body.policy, author_token_id=token.id, author=token.name
            )
            row = store.get_policy_row(conn, version)
    response.status_code = 201 if created else 200
    return _public(row, token)


@router.get("", response_model=PolicyPublic)
def active_policy(conn: Conn, token: ReaderToken) -> PolicyPublic:
    """The active policy version."""
    row = store.active_policy_row(conn)
    if row is None:
        raise NotFoundError(
            "no policy was uploaded: the default policy applies (one pool of all active reps, "
            "predictive with a model, round-robin without)",
            hint="POST /v1/policy to upload one",
        )
    return _public(row, token)


@router.get("/history", response_model=PolicyHistory)
def history(conn: Conn, token: ReaderToken) -> PolicyHistory:
    """Every stored version and every activation (uploads and rollbacks), oldest first."""
    versions, log = store.policy_history(conn)
    active = next((v.version for v in versions if v.active), None)
    return PolicyHistory(
        active_version=active,
        versions=[_public(v, token) for v in versions],
        activations=[
            PolicyActivationPublic(
                version=a.version, action=a.action, author=a.author, activated_at=a.activated_at
            )
            for a in log
        ],
    )


@router.get("/diff", response_model=PolicyDiff)
def diff(
    conn: Conn,
    token: ReaderToken,
    from_version: Annotated[str, Query(alias="from", max_length=128)],
    to_version: Annotated[str, Query(alias="to", max_length=128)],
) -> PolicyDiff:
    """A unified diff of two versions' YAML text."""
    old, new = _get(conn, from_version), _get(conn, to_version)
    text = policy_text_diff(
        _text_for(token, old.text), _text_for(token, new.text), from_version, to_version
    )
    return PolicyDiff(from_version=from_version, to_version=to_version, diff=text)


@router.post("/activate", response_model=PolicyPublic)
def activate(body: PolicyActivate, ctx: Ctx, token: AdminToken) -> PolicyPublic:
    """Activate a stored version (uploaded with ``activate: false``), logged as an
    activation."""
    with routing_transaction(ctx.engine) as conn:
        _get(conn, body.version)
        store.activate_policy(
            conn, body.version, action="activate", author_token_id=token.id, author=token.name
        )
        row = store.get_policy_row(conn, body.version)
    return _public(row, token)


@router.post("/rollback", response_model=PolicyPublic)
def rollback(body: PolicyRollback, ctx: Ctx, token: AdminToken) -> PolicyPublic:
    """Activate an earlier version again (logged as a rollback)."""
    with routing_transaction(ctx.engine) as conn:
        _get(conn, body.version)
        store.activate_policy(
            conn, body.version, action="rollback", author_token_id=token.id, author=token.name
        )
        row = store.get_policy_row(conn, body.version)
    return _public(row, token)
