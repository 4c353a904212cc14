"""Set-based statements of report ingestion: a batch of reports in a fixed number of round trips.

:meth:`accord.moderation.service.ModerationService.report_many` decides what a
batch does (which cases it opens, joins, how their urgency changes); this
module only moves those rows in and out of the database, each step one
statement whatever the batch's size:

    rate_counts       reports per reporter in the rate window     (one SELECT ... GROUP BY)
    open_cases        the open cases of the batch's subjects      (one SELECT [FOR UPDATE])
    insert_cases      open the missing ones, skipping any that a  (one INSERT ... ON CONFLICT
                      concurrent transaction opened first          DO NOTHING RETURNING)
    known_reporters   who already reported the joined cases       (one SELECT)
    insert_reports    the report rows, ids in batch order         (INSERT RETURNING, or ids
                                                                   from the sequence + COPY)
    update_cases      counts, tier, reach, urgency of joined cases (one UPDATE ... FROM)

On PostgreSQL, lists travel as array parameters (``= ANY(%s)``, ``unnest``):
the statement text is the same for every batch, so psycopg parses it once and
the server prepares it, instead of a new ``IN (...)`` / multi-row ``VALUES``
text of a few thousand placeholders per batch (that parsing was a third of a
batch's time). SQLite, in process, runs the same steps as plain SQLAlchemy
statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import bindparam

from accord.moderation.tables import cases, reports
from accord.store.bulk import BULK_MIN_ROWS, insert_rows

__all__ = [
    "CASE_FIELDS",
    "insert_cases",
    "insert_reports",
    "known_reporters",
    "open_cases",
    "rate_counts",
    "update_cases",
]

CASE_FIELDS = (
    "id",
    "open_key",
    "subject_type",
    "queue",
    "tier",
    "reporters",
    "reporter_weight",
    "automated",
    "reach",
    "account",
    "due_at",
    "opened_at",
)
"""The columns of a case that ingestion reads and changes (not its labels, lease ...)."""

# Columns a new case is inserted with, and their PostgreSQL array types.
_NEW_CASE = (
    ("subject_type", "varchar"),
    ("subject_id", "varchar"),
    ("open_key", "varchar"),
    ("account", "varchar"),
    ("content_type", "varchar"),
    ("content_date", "varchar"),
    ("queue", "varchar"),
    ("reason", "varchar"),
    ("tier", "varchar"),
    ("reporters", "int4"),
    ("reporter_weight", "float8"),
    ("automated", "bool"),
    ("reach", "int4"),
    ("due_at", "float8"),
    ("opened_at", "varchar"),
)
# Columns the join of a batch changes (besides the key, id).
_JOINED = (
    ("tier", "varchar"),
    ("reporters", "int4"),
    ("reporter_weight", "float8"),
    ("automated", "bool"),
    ("reach", "int4"),
    ("account", "varchar"),
    ("due_at", "float8"),
)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)


_PG_RATE = text(
    "SELECT reporter, count(*) FROM moderation_reports "
    "WHERE reporter = ANY(CAST(:people AS varchar[])) AND created_at > :since GROUP BY reporter"
)
_FIELDS = ", ".join(CASE_FIELDS)
_PG_OPEN = text(
    f"SELECT {_FIELDS} FROM moderation_cases "
    "WHERE open_key = ANY(CAST(:keys AS varchar[])) ORDER BY open_key"
)
_PG_OPEN_LOCKED = text(_PG_OPEN.text + " FOR UPDATE")
_PG_INSERT_CASES = text(
    f"INSERT INTO moderation_cases ({', '.join(n for n, _ in _NEW_CASE)}, "
    "state, labels, content_state) "
    f"SELECT *, 'open', '[]', 'visible' FROM unnest({_unnest(_NEW_CASE)}) "
    f"ON CONFLICT DO NOTHING RETURNING {_FIELDS}"
)
_PG_KNOWN = text(
    "SELECT case_id, reporter FROM moderation_reports "
    "WHERE case_id = ANY(CAST(:cases AS int4[])) AND reporter = ANY(CAST(:people AS varchar[]))"
)
_PG_UPDATE = text(
    "UPDATE moderation_cases AS c SET "
    + ", ".join(f"{name} = v.{name}" for name, _ in _JOINED)
    + f" FROM unnest(CAST(:id AS int4[]), {_unnest(_JOINED)}) "
    + f"AS v(id, {', '.join(n for n, _ in _JOINED)}) WHERE c.id = v.id"
)
_PG_REPORT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('moderation_reports', 'id')) FROM generate_series(1, :n)"
)
_UPDATE = (
    update(cases)
    .where(cases.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name, _ in _JOINED})
)


def rate_counts(conn: Connection, people: Sequence[str], since: str) -> dict[str, int]:
    """How many reports each of ``people`` filed after ``since``."""
    if not people:
        return {}
    if _pg(conn):
        rows = conn.execute(_PG_RATE, {"people": list(people), "since": since}).all()
    else:
        rows = conn.execute(
            select(reports.c.reporter, func.count())
            .where(reports.c.reporter.in_(people), reports.c.created_at > since)
            .group_by(reports.c.reporter)
        ).all()
    return {reporter: int(n) for reporter, n in rows}


def open_cases(conn: Connection, keys: Sequence[str], *, lock: bool) -> dict[str, dict[str, Any]]:
    """The open cases of subject ``keys`` (:data:`CASE_FIELDS`), locked in key order
    if ``lock`` (on PostgreSQL; SQLite's writer holds the whole file already)."""
    if not keys:
        return {}
    if _pg(conn):
        query = _PG_OPEN_LOCKED if lock else _PG_OPEN
        rows = conn.execute(query, {"keys": list(keys)}).all()
    else:
        rows = conn.execute(
            select(*(cases.c[n] for n in CASE_FIELDS))
            .where(cases.c.open_key.in_(keys))
            .order_by(cases.c.open_key)
        ).all()
    return {row.open_key: dict(row._mapping) for row in rows}


def insert_cases(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Open new cases (in the order given: callers sort by key so that two inserters of
    one key wait on each other, never in a cycle). A row whose subject already has an
    open case is skipped; returns the inserted ones by key (:data:`CASE_FIELDS`)."""
    if not rows:
        return {}
    if _pg(conn):
        params = {name: [row[name] for row in rows] for name, _ in _NEW_CASE}
        result = conn.execute(_PG_INSERT_CASES, params).all()
    else:
        full = [{**row, "state": "open", "labels": [], "content_state": "visible"} for row in rows]
        stmt = sqlite.insert(cases).on_conflict_do_nothing()
        result = conn.execute(stmt.returning(*(cases.c[n] for n in CASE_FIELDS)), full).all()
    return {row.open_key: dict(row._mapping) for row in result}


def known_reporters(
    conn: Connection, case_ids: Sequence[int], people: Sequence[str]
) -> set[tuple[int, str]]:
    """The ``(case id, reporter)`` pairs among ``case_ids`` x ``people`` already on file."""
    if not case_ids or not people:
        return set()
    if _pg(conn):
        rows = conn.execute(_PG_KNOWN, {"cases": list(case_ids), "people": list(people)}).all()
    else:
        rows = conn.execute(
            select(reports.c.case_id, reports.c.reporter).where(
                reports.c.case_id.in_(case_ids), reports.c.reporter.in_(people)
            )
        ).all()
    return {(int(case_id), str(reporter)) for case_id, reporter in rows}


def update_cases(conn: Connection, changed: Sequence[Mapping[str, Any]]) -> None:
    """Write the joined cases' new counts, tier, reach, account and urgency (``id`` and
    the ``_JOINED`` fields of each mapping)."""
    if not changed:
        return
    if _pg(conn):
        params = {name: [row[name] for row in changed] for name, _ in (("id", ""), *_JOINED)}
        conn.execute(_PG_UPDATE, params)
    else:
        conn.execute(
            _UPDATE,
            [{f"b_{n}": row[n] for n, _ in (("id", ""), *_JOINED)} for row in changed],
        )


def insert_reports(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert report rows; returns their ids in order. A small batch is one
    ``INSERT ... RETURNING``; a large one takes its ids first (from the sequence on
    PostgreSQL, after the largest id under SQLite's single writer) and then goes
    through :func:`accord.store.bulk.insert_rows` (COPY on PostgreSQL)."""
    if not rows:
        return []
    if len(rows) < BULK_MIN_ROWS:
        returning = insert(reports).returning(reports.c.id, sort_by_parameter_order=True)
        return [int(i) for i in conn.execute(returning, list(rows)).scalars().all()]
    if _pg(conn):
        ids = sorted(int(i) for i in conn.execute(_PG_REPORT_IDS, {"n": len(rows)}).scalars())
    else:
        top = int(conn.execute(select(func.max(reports.c.id))).scalar_one() or 0)
        ids = list(range(top + 1, top + 1 + len(rows)))
    insert_rows(conn, reports, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
