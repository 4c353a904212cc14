"""Peers this instance follows: where, which bank, and how far it has read."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, UniqueConstraint

from accord.store.base import metadata

__all__ = ["exchange_peers"]

exchange_peers = Table(
    "exchange_peers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(500), nullable=False),
    Column("remote_bank", String(100), nullable=False),
    Column("local_bank", String(100), nullable=False),
    Column("checkpoint", BigInteger, nullable=False),
    Column("last_pull_at", String(32), nullable=True),
    UniqueConstraint("url", "remote_bank", "local_bank", name="uq_exchange_peers_url"),
)
