"""Insert many rows at once, by each database's fastest bulk path.

Bulk paths (ledger batches, bank imports, report batches) insert thousands of
rows in one transaction. SQLAlchemy's ``executemany`` builds a parameter set
per row in Python and, on PostgreSQL, sends multi-row ``INSERT ... VALUES``
statements; that bookkeeping, not the database, is most of the time of a large
batch. Here rows go once through each column's SQLAlchemy bind processor (so a
``JSON`` column gets exactly the value an ``INSERT`` would write) and then
straight to the driver: PostgreSQL's ``COPY ... FROM STDIN`` through psycopg's
COPY writer, SQLite's ``executemany`` of one prepared statement. A value object
that consecutive rows share (one ``{}`` of labels for a whole import) goes
through its processor once, not once a row.

Rows given column by column (:func:`insert_columns`) whose columns are runs of
consecutive integers (``range``: reserved ids) and at most one list of strings
(the hashes of an import) do not cross into SQLite row by row at all: one
``INSERT ... SELECT`` over ``json_each`` of that list as one JSON text, the
ids computed as ``start + key`` and the constants bound once (about 3x less
CPU a row than ``executemany``, which binds every value of every row).
:func:`fetch_tuples` is the read side: a query's rows as the driver's plain
tuples, for followers that read back thousands of rows only to transpose them.

Everything runs in the caller's transaction: a failure rolls back with it and
nothing is half-written. Driver errors come out as the same SQLAlchemy
exception classes an ``INSERT`` raises (``IntegrityError`` for a duplicate key),
so callers map them to answers as they always do.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import ClauseElement, Connection, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["BULK_MIN_ROWS", "fetch_tuples", "insert_columns", "insert_rows", "paused_gc"]

BULK_MIN_ROWS = 32
"""Below this many rows a plain INSERT is as quick, and simpler to read in logs."""


def _reusing(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` that hands back its last result when given the very same object again.

    Bulk rows often share one value object (the same empty ``{}`` of labels in
    every row of an import); a ``JSON`` column's processor would serialise it once
    a row. The rows are built before the insert and not changed during it, so the
    same object has the same database form in every row.
    """
    last: list[Any] = [_UNSET, None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


_UNSET = object()


def _convert(row: tuple[Any, ...], converters: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    out = list(row)
    for i, fn in converters:
        out[i] = fn(out[i])
    return out


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
    # operator.itemgetter picks a row's values in C; only the columns that have a
    # processor are then converted in Python.
    pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    converters = [(i, _reusing(fn)) for i, fn in enumerate(processors) if fn is not None]
    values: Any = (
        map(pick, rows) if not converters else (_convert(pick(row), converters) for row in rows)
    )
    _write(conn, table, names, values)


def _write(conn: Connection, table: Table, names: list[str], values: Any) -> None:
    """Send rows (sequences in ``names``' order, processed) by COPY or executemany."""
    dialect = conn.dialect
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


def insert_columns(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert rows given column by column: ``columns`` are equally long sequences, one
    value a row; ``constants`` hold one value for every row.

    The same as :func:`insert_rows` of the rows these make, without building a
    mapping a row: rows are zipped from the columns in C, and each constant goes
    through its column's bind processor once.
    """
    constants = constants or {}
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    count = lengths.pop()
    if not count:
        return
    dialect = conn.dialect
    names = [*columns, *constants]
    if count < BULK_MIN_ROWS or dialect.name not in ("postgresql", "sqlite"):
        insert_rows(
            conn,
            table,
            [dict(zip(names, row, strict=True)) for row in _zip_rows(columns, constants)],
        )
        return
    processors = {
        name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    }
    ready: dict[str, Any] = {}
    for name, value in constants.items():
        process = processors[name]
        ready[name] = process(value) if process is not None else value
    if dialect.name == "sqlite" and _insert_json_each(conn, table, columns, ready, processors):
        return
    converted: dict[str, Sequence[Any]] = {}
    for name, values in columns.items():
        process = processors[name]
        converted[name] = list(map(_reusing(process), values)) if process is not None else values
    _write(conn, table, names, _zip_rows(converted, ready))


def _insert_json_each(
    conn: Connection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any],
    processors: Mapping[str, Callable[[Any], Any] | None],
) -> bool:
    """SQLite: insert the rows by one ``INSERT ... SELECT ... FROM json_each(?)`` when the
    columns allow it (``range`` columns of step 1, at most one list of strings or None,
    none with a bind processor); False, having done nothing, when they do not."""
    texts = [name for name, values in columns.items() if not _is_run(values)]
    if len(texts) > 1 or any(processors[name] is not None for name in columns):
        return False
    count = len(next(iter(columns.values())))
    if texts:
        values = columns[texts[0]]
        if not set(map(type, values)) <= {str, type(None)}:
            return False
        source = json.dumps(values if isinstance(values, list) else list(values))
        if "\\u0000" in source:  # JSON text may carry NUL, SQLite's text would cut it
            return False
    else:
        source = "[" + "0," * (count - 1) + "0]"  # one element a row, nothing read from it
    prep = conn.dialect.identifier_preparer
    names = [*columns, *constants]
    picks: list[str] = []
    params: list[Any] = []
    for name, values in columns.items():
        if name in texts:
            picks.append("value")
        else:
            picks.append("? + key")
            params.append(values[0] if len(values) else 0)
    for value in constants.values():
        picks.append("?")
        params.append(value)
    statement = (
        f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) "
        f"SELECT {', '.join(picks)} FROM json_each(?) ORDER BY key"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    error = conn.dialect.loaded_dbapi.Error
    try:
        raw.execute(statement, (*params, source))
    except error as exc:  # the classes an INSERT raises (IntegrityError ...)
        raise DBAPIError.instance(statement, None, exc, error) from exc
    return True


def _is_run(values: Sequence[Any]) -> bool:
    """Whether ``values`` is a ``range`` of consecutive integers (reserved ids)."""
    return isinstance(values, range) and values.step == 1


def fetch_tuples(conn: Connection, statement: ClauseElement) -> list[tuple[Any, ...]]:
    """The rows of a Core ``SELECT`` as the driver returns them (plain tuples), in
    ``conn``'s transaction.

    For reads of thousands of rows that are transposed or unpacked at once:
    SQLAlchemy's ``Row`` objects cost 1.5 µs a row to make and 5 µs a row to
    iterate, the driver's tuples next to nothing. Only for columns whose type has
    no result processor on the database (integers, strings)."""
    compiled = statement.compile(dialect=conn.dialect)
    assert isinstance(compiled, SQLCompiler)
    params = compiled.construct_params()
    args: Any = (
        tuple(params[name] for name in compiled.positiontup or ())
        if compiled.positional
        else params
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _zip_rows(
    columns: Mapping[str, Sequence[Any]], constants: Mapping[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """Rows from the columns and the constants (the columns, all of one length, end it)."""
    return zip(*columns.values(), *map(repeat, constants.values()), strict=False)


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while the block runs (in any thread of the process).

    Building a bulk batch allocates a few hundred thousand small dicts and
    tuples, none of them garbage; each allocation burst sets off collections
    that walk every live object again. Bulk banking of 10,000 hashes a request
    ran about 1.3-2x faster with them paused. Reference counting still frees
    everything; cycles made meanwhile are collected once the last block ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
