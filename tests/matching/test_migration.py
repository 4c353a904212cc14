"""The matching migrations create exactly the tables and indexes ``tables.py`` declares,
the partial index of the signals that are not PDQ included, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import accord.matching.tables as tables
from accord.store.base import metadata

MATCHING = {"banks", "bank_content", "bank_signals", "signal_changes", "bank_keypoints"}


def test_migration_matches_the_table_definitions(store):
    assert {t for t in MATCHING if t in metadata.tables} == MATCHING
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if any(f"'{name}'" in repr(d) for name in MATCHING)] == []


def test_the_non_pdq_signals_have_their_own_index(store):
    with store.db.engine.connect() as conn:
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("bank_signals")}
    assert indexes["ix_bank_signals_not_pdq"]["column_names"] == ["id"]
    assert tables.NOT_PDQ.text == "signal_type != 'pdq'"
