"""``insert_rows``: exactly the rows an INSERT would write, on both databases, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import IntegrityError

from accord.runtime import Accord
from accord.store.bulk import BULK_MIN_ROWS, insert_columns, insert_rows

md = MetaData()
things = Table(
    "bulk_things",
    md,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False),
    Column("note", Text),
    Column("blob", LargeBinary),
    Column("doc", JSON),
    Column("at", DateTime(timezone=True)),
)

AWKWARD = ["tab\there", "new\nline", "back\\slash", "quote'\"", "ünïcødé ✓", "\\N", ""]


def _rows(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "id": start + i,
            "name": AWKWARD[i % len(AWKWARD)] + str(i),
            "note": None if i % 3 == 0 else AWKWARD[(i + 1) % len(AWKWARD)],
            "blob": bytes([i % 256, 0, 255, 10, 92]) * (i % 4),
            "doc": {"i": i, "s": AWKWARD[i % len(AWKWARD)], "list": [1, None, True]},
            "at": datetime(2026, 1, 1, 12, i % 60, tzinfo=UTC),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, BULK_MIN_ROWS - 1, BULK_MIN_ROWS, 500])
def test_rows_read_back_exactly_as_written(store: Accord, n: int) -> None:
    md.create_all(store.db.engine)
    rows = _rows(n)
    with store.db.write() as conn:
        insert_rows(conn, things, rows)
    with store.db.read() as conn:
        back = [dict(r._mapping) for r in conn.execute(select(things).order_by(things.c.id))]
    for row in back:
        row["at"] = row["at"].replace(tzinfo=UTC) if row["at"].tzinfo is None else row["at"]
        row["blob"] = bytes(row["blob"])
    assert back == rows


def test_a_bad_row_leaves_nothing_written(store: Accord) -> None:
    md.create_all(store.db.engine)
    rows = _rows(100)
    rows[70]["id"] = 3  # duplicate primary key, late in the batch

    def write_both() -> None:
        with store.db.write() as conn:
            insert_rows(conn, things, _rows(5, start=1000))
            insert_rows(conn, things, rows)

    with pytest.raises(IntegrityError):
        write_both()
    with store.db.read() as conn:
        assert conn.execute(select(things.c.id)).all() == []


def test_no_rows_is_a_no_op(store: Accord) -> None:
    md.create_all(store.db.engine)
    with store.db.write() as conn:
        insert_rows(conn, things, [])
    with store.db.read() as conn:
        assert conn.execute(select(things.c.id)).all() == []


@pytest.mark.parametrize("n", [1, BULK_MIN_ROWS, 300])
def test_columns_and_constants_read_back_as_the_same_rows(store: Accord, n: int) -> None:
    """``insert_columns`` writes what ``insert_rows`` writes for the rows its columns and
    constants make (a JSON constant included), on both databases."""
    md.create_all(store.db.engine)
    rows = _rows(n)
    shared = {"constant": ["json", None, "ünï"]}
    for row in rows:
        row["doc"] = shared
    columns = {name: [r[name] for r in rows] for name in ("id", "name", "note", "blob")}
    with store.db.write() as conn:
        insert_columns(conn, things, columns, {"doc": shared, "at": rows[0]["at"]})
    with store.db.read() as conn:
        got = [dict(r._mapping) for r in conn.execute(select(things).order_by(things.c.id))]
    expected = [{**r, "at": rows[0]["at"]} for r in rows]
    for g in got:  # SQLite hands back naive datetimes
        if g["at"] is not None and g["at"].tzinfo is None:
            g["at"] = g["at"].replace(tzinfo=UTC)
    assert got == expected


def test_columns_of_different_lengths_are_refused(store: Accord) -> None:
    md.create_all(store.db.engine)
    with store.db.write() as conn, pytest.raises(ValueError, match="different lengths"):
        insert_columns(conn, things, {"id": [1, 2], "name": ["a"]})
