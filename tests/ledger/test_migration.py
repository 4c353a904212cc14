"""The ledger's migration creates exactly the tables that ``tables.py`` declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import accord.ledger.tables  # noqa: F401 - registers the ledger's tables
from accord.store.base import metadata


def _ledger_diff(diff: list) -> list:
    def about_ledger(item) -> bool:
        # a ledger table, or an item naming one; not other tables' ledger_seq columns
        text = repr(item)
        return "Table('ledger_" in text or ", 'ledger_" in text

    return [d for d in diff if about_ledger(d)]


def test_migration_matches_the_table_definitions(store):
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert _ledger_diff(diff) == []
