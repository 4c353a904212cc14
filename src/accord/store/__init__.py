"""Storage: the engine, its write path, and the Alembic migrations of every concern.

Each concern keeps its migrations on its own Alembic branch (``branch_labels``),
all depending on ``core``; :meth:`Database.migrate` upgrades every head, so that
concerns can add tables without fighting over one linear history.
"""

from accord.store.base import metadata
from accord.store.engine import Database

__all__ = ["Database", "metadata"]
