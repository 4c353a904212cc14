"""The database: one engine, a write path and a read path, migrations.

Services hold a :class:`Database` and open a transaction per unit of work:

    with db.write() as conn:      # one writer at a time; the ledger event commits with the change
        conn.execute(...)
        ledger.append(conn, ...)

    with db.read() as conn:       # snapshot reads, never blocks the writer (WAL / MVCC)
        conn.execute(...)

SQLite runs in WAL mode and every write transaction starts with ``BEGIN
IMMEDIATE`` under a process-wide lock, so that writers queue instead of failing
with "database is locked" halfway through; several processes on one SQLite
file wait on each other through ``busy_timeout``. PostgreSQL runs the same
statements; appends that must be serialised across processes take an advisory
lock (see :mod:`accord.ledger.log`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

__all__ = ["Database"]

_WRITE = "accord_write"


class Database:
    """An engine with a serialised write path and migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self._write_lock = threading.RLock()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
            if database in ("", ":memory:"):
                kwargs["poolclass"] = NullPool
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); anything written is rolled back."""
        with self.engine.connect() as conn, conn.begin() as tx:
            yield conn
            tx.rollback()

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction in which every statement sees the same snapshot.

        SQLite's read transactions are snapshots already (WAL); PostgreSQL's
        default READ COMMITTED is per statement, so this asks REPEATABLE READ.
        """
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin() as tx:
                yield conn
                tx.rollback()

    def migrate(self) -> None:
        """Bring the schema to the newest revision of every concern (``alembic upgrade heads``)."""
        from alembic import command

        with self._write_lock, self.engine.begin() as conn:
            cfg = alembic_config(self)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database) -> Any:
    """An Alembic configuration pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    location = resources.files("accord.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False))
    return cfg


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself, so that writes can say IMMEDIATE.
        # synchronous=FULL: an acknowledged commit survives a power cut, not only a kill.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
