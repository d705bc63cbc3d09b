"""Where the operator's policy commands act: a running service (``--url``, the token from
``LEADPILOT_TOKEN``) or the database directly (``--db``). Both answer with the same JSON
shapes as the API (``/v1/policy``), so the commands print one way whichever is used."""

from __future__ import annotations

import getpass
import os
from typing import Any, Protocol

from leadpilot.errors import ConfigError, DataValidationError, LeadpilotError

__all__ = ["TOKEN_ENV", "DatabaseTarget", "PolicyTarget", "ServiceTarget", "open_target"]

TOKEN_ENV = "LEADPILOT_TOKEN"


class PolicyTarget(Protocol):
    """The policy store of a service or a database."""

    where: str

    def apply(self, text: str, *, activate: bool) -> tuple[dict[str, Any], bool]:
        """Store ``text`` (activate it if asked); the version record and whether it was new."""
        ...

    def activate(self, version: str, *, action: str) -> dict[str, Any]:
        """Activate a stored version (``action``: activate or rollback)."""
        ...

    def history(self) -> dict[str, Any]:
        """``active_version``, ``versions`` and ``activations`` (oldest first)."""
        ...

    def diff(self, from_version: str, to_version: str) -> dict[str, Any]:
        """``from_version``, ``to_version`` and the unified ``diff``."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class ServiceTarget:
    """A running ``leadpilot serve`` at ``url``, called with an admin token."""

    def __init__(self, url: str, token: str) -> None:
        import httpx

        self.where = url
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot reach the service at {self.where}: {type(exc).__name__}: {exc}",
                hint="check --url (or LEADPILOT_URL) and that `leadpilot serve` runs there",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 400:
            return response.status_code, body
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or response.text[:300]
        if response.status_code == 401:
            raise ConfigError(
                f"the service at {self.where} rejected the token in {TOKEN_ENV}: {message}",
                hint=f"set {TOKEN_ENV} to a live admin token (leadpilot token create --role "
                "admin; leadpilot token list shows the live ones)",
            )
        if response.status_code == 403:
            raise ConfigError(
                f"the token in {TOKEN_ENV} may not do this: {message}",
                hint="policy changes need an admin token: leadpilot token create --role admin",
            )
        raise DataValidationError(
            f"the service answered {response.status_code}: {message}",
            hint=error.get("hint") or "see the message above",
            details={"status": response.status_code},
        )

    def apply(self, text: str, *, activate: bool) -> tuple[dict[str, Any], bool]:
        status, body = self._call("POST", "/v1/policy", json={"policy": text, "activate": activate})
        return body, status == 201

    def activate(self, version: str, *, action: str) -> dict[str, Any]:
        path = "/v1/policy/rollback" if action == "rollback" else "/v1/policy/activate"
        _, body = self._call("POST", path, json={"version": version})
        return dict(body)

    def history(self) -> dict[str, Any]:
        _, body = self._call("GET", "/v1/policy/history")
        return dict(body)

    def diff(self, from_version: str, to_version: str) -> dict[str, Any]:
        _, body = self._call(
            "GET", "/v1/policy/diff", params={"from": from_version, "to": to_version}
        )
        return dict(body)

    def close(self) -> None:
        self._client.close()


def _record(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "active": bool(row.active),
        "author": row.author,
        "created_at": row.created_at.isoformat(),
        "text": row.text,
    }


class DatabaseTarget:
    """The database at ``url`` (the same one ``leadpilot serve`` uses), written directly;
    the author recorded is ``cli:<login name>``."""

    def __init__(self, url: str) -> None:
        from leadpilot.store.engine import make_engine
        from leadpilot.store.migrate import check_current

        self._engine = make_engine(url)
        self.where = self._engine.url.render_as_string(hide_password=True)
        try:
            check_current(self._engine)
        except LeadpilotError:
            self._engine.dispose()
            raise
        self._author = f"cli:{getpass.getuser()}"

    def _missing(self, version: str) -> ConfigError:
        return ConfigError(
            f"no policy version {version!r} in {self.where}",
            hint="`leadpilot policy history` lists the stored versions",
        )

    def apply(self, text: str, *, activate: bool) -> tuple[dict[str, Any], bool]:
        from leadpilot.service.inputs import policy_from_text
        from leadpilot.store import policies as store
        from leadpilot.store.engine import routing_transaction

        version = policy_from_text(text).policy_hash
        with routing_transaction(self._engine) as conn:
            created = store.save_policy(
                conn, version=version, text=text, author_token_id=None, author=self._author
            )
            if activate:
                store.activate_policy(
                    conn, version, action="upload", author_token_id=None, author=self._author
                )
            return _record(store.get_policy_row(conn, version)), created

    def activate(self, version: str, *, action: str) -> dict[str, Any]:
        from leadpilot.store import policies as store
        from leadpilot.store.engine import routing_transaction

        with routing_transaction(self._engine) as conn:
            if store.get_policy_row(conn, version) is None:
                raise self._missing(version)
            store.activate_policy(
                conn, version, action=action, author_token_id=None, author=self._author
            )
            return _record(store.get_policy_row(conn, version))

    def history(self) -> dict[str, Any]:
        from leadpilot.store import policies as store

        with self._engine.connect() as conn:
            versions, log = store.policy_history(conn)
        return {
            "active_version": next((v.version for v in versions if v.active), None),
            "versions": [_record(v) for v in versions],
            "activations": [
                {
                    "version": a.version,
                    "action": a.action,
                    "author": a.author,
                    "activated_at": a.activated_at.isoformat(),
                }
                for a in log
            ],
        }

    def diff(self, from_version: str, to_version: str) -> dict[str, Any]:
        from leadpilot.policy.policy_diff import policy_text_diff
        from leadpilot.store import policies as store

        with self._engine.connect() as conn:
            old = store.get_policy_row(conn, from_version)
            new = store.get_policy_row(conn, to_version)
        for version, row in ((from_version, old), (to_version, new)):
            if row is None:
                raise self._missing(version)
        return {
            "from_version": from_version,
            "to_version": to_version,
            "diff": policy_text_diff(old.text, new.text, from_version, to_version),
        }

    def close(self) -> None:
        self._engine.dispose()


def open_target(url: str | None, db: str | None) -> PolicyTarget:
    """The service at ``url`` when given (token from ``LEADPILOT_TOKEN``), else the database
    ``db`` (``--db`` / ``LEADPILOT_DATABASE_URL`` / the settings' default)."""
    if url:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(
                f"--url needs an admin token in the environment variable {TOKEN_ENV}",
                hint=f"export {TOKEN_ENV}=$(leadpilot token create --role admin --name ops "
                "| tail -n 1), or act on the database with --db instead of --url",
            )
        return ServiceTarget(url, token)
    from leadpilot.cli.db import database_url

    return DatabaseTarget(database_url(db))
