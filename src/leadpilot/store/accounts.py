"""Accounts (companies) with owners, for ownership holds and account linking at intake."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from leadpilot.ingest.identity import normalize_company_name
from leadpilot.schema import Account
from leadpilot.store.tables import accounts

__all__ = ["account_from_row", "list_accounts", "upsert_accounts"]


def account_from_row(row: sa.Row[Any]) -> Account:
    """Build a ``schema.Account`` from a row."""
    return Account(
        account_id=row.account_id,
        name=row.name,
        domain=row.domain,
        owner_rep_id=row.owner_rep_id,
        has_open_opportunity=bool(row.has_open_opportunity),
        last_touch_at=row.last_touch_at,
        tier=row.tier,
    )


def upsert_accounts(conn: sa.Connection, items: Iterable[Account]) -> int:
    """Insert or replace accounts by ``account_id``; returns how many were written."""
    n = 0
    for account in items:
        values = {
            "account_id": account.account_id,
            "name": account.name,
            "name_key": normalize_company_name(account.name),
            "domain": (account.domain or "").lower() or None,
            "owner_rep_id": account.owner_rep_id,
            "has_open_opportunity": bool(account.has_open_opportunity),
            "last_touch_at": account.last_touch_at,
            "tier": account.tier,
        }
        updated = conn.execute(
            accounts.update().where(accounts.c.account_id == account.account_id).values(**values)
        ).rowcount
        if not updated:
            conn.execute(accounts.insert().values(**values))
        n += 1
    return n


def list_accounts(conn: sa.Connection) -> list[Account]:
    """Every account, ordered by id."""
    rows = conn.execute(sa.select(accounts).order_by(accounts.c.account_id))
    return [account_from_row(r) for r in rows]
