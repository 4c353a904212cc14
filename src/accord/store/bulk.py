"""Insert many rows at once, through PostgreSQL's COPY where the database has it.

Bulk paths (ledger batches, bank imports, report batches) insert thousands of
rows in one transaction. SQLAlchemy's ``executemany`` sends them as multi-row
``INSERT ... VALUES`` statements, which on PostgreSQL costs a statement parse
and a parameter list per few hundred rows; ``COPY ... FROM STDIN`` streams the
rows instead and is several times faster on the same server. On SQLite
``executemany`` of one prepared statement is already the fast way.

Rows go through each column's SQLAlchemy bind processor first (so a ``JSON``
column gets its serialised text, exactly as an ``INSERT`` would write it), then
through psycopg's COPY writer, inside the caller's transaction: a failure rolls
back with it, nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

__all__ = ["COPY_MIN_ROWS", "insert_rows"]

COPY_MIN_ROWS = 32
"""Below this many rows a plain INSERT is as quick and simpler to read in logs."""


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in ``conn``'s transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    dialect = conn.dialect
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    prep = conn.dialect.identifier_preparer
    statement = (
        f"COPY {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) FROM STDIN"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    error = dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            if any(processors):
                for row in rows:
                    copy.write_row(
                        [
                            row[name] if fn is None else fn(row[name])
                            for name, fn in zip(names, processors, strict=True)
                        ]
                    )
            else:
                for row in rows:
                    copy.write_row([row[name] for name in names])
    except error as exc:  # the same exception classes an INSERT would raise (IntegrityError...)
        raise DBAPIError.instance(statement, None, exc, error) from exc
