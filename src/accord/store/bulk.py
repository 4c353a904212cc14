"""Insert many rows at once, by each database's fastest bulk path.

Bulk paths (ledger batches, bank imports, report batches) insert thousands of
rows in one transaction. SQLAlchemy's ``executemany`` builds a parameter set
per row in Python and, on PostgreSQL, sends multi-row ``INSERT ... VALUES``
statements; that bookkeeping, not the database, is most of the time of a large
batch. Here rows go once through each column's SQLAlchemy bind processor (so a
``JSON`` column gets exactly the value an ``INSERT`` would write) and then
straight to the driver: PostgreSQL's ``COPY ... FROM STDIN`` through psycopg's
COPY writer, SQLite's ``executemany`` of one prepared statement.

Everything runs in the caller's transaction: a failure rolls back with it and
nothing is half-written. Driver errors come out as the same SQLAlchemy
exception classes an ``INSERT`` raises (``IntegrityError`` for a duplicate key),
so callers map them to answers as they always do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

__all__ = ["BULK_MIN_ROWS", "insert_rows"]

BULK_MIN_ROWS = 32
"""Below this many rows a plain INSERT is as quick, and simpler to read in logs."""


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (mappings with the same keys) into ``table`` in ``conn``'s transaction."""
    if not rows:
        return
    dialect = conn.dialect
    if len(rows) < BULK_MIN_ROWS or dialect.name not in ("postgresql", "sqlite"):
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    processors: list[Callable[[Any], Any] | None] = [
        column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
    ]
    if any(processors):
        values: Any = (
            tuple(
                row[name] if fn is None else fn(row[name])
                for name, fn in zip(names, processors, strict=True)
            )
            for row in rows
        )
    else:
        values = (tuple(row[name] for name in names) for row in rows)
    prep = dialect.identifier_preparer
    target = f"{prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)})"
    raw = conn.connection.driver_connection
    assert raw is not None
    error = dialect.loaded_dbapi.Error
    if dialect.name == "postgresql":
        statement = f"COPY {target} FROM STDIN"
    else:
        statement = f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})"
    try:
        if dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in values:
                    copy.write_row(row)
        else:
            raw.executemany(statement, values)
    except error as exc:  # the classes an INSERT raises (IntegrityError, DataError ...)
        raise DBAPIError.instance(statement, None, exc, error) from exc
