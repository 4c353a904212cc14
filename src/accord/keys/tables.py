"""API keys, stored as hashes."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table

from accord.store.base import metadata

__all__ = ["api_keys"]

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("note", String(500), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)
