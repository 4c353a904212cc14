"""The registry's tables: requests (one per change, with its receipt), their effects, gate runs.

All three are append-only: nothing is updated or deleted, so that the state as
of any past time can be recomputed from ``rights_effects`` (see
:func:`accord.rights.model.resolve`).

* ``rights_requests``: one row per objection, consent, withdrawal or recorded
  signal; ``request_id`` is what the person is given; ``ledger_seq`` is the seq of
  the ledger event appended in the same transaction.
* ``rights_effects``: what each request says about (purpose, category) cells,
  one row per cell group (``category`` NULL covers every category).
* ``rights_manifests``: one row per gate run, pointing at its manifest and at
  the set of (subject, category) pairs it included (for ``affected``).

Subject ids are kept in the clear here (the platform must find a person's
history); only the ledger, which is published, holds pseudonyms.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from accord.store.base import metadata

__all__ = ["rights_effects", "rights_manifests", "rights_requests"]

rights_requests = Table(
    "rights_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(40), nullable=False, unique=True),
    Column("subject", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("purpose", String(64), nullable=True),
    Column("category", String(32), nullable=True),
    Column("source", String(500), nullable=False),
    Column("raw", Text, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("recorded_at", String(32), nullable=False),
    Column("ledger_seq", BigInteger, nullable=False),
)
Index("ix_rights_requests_subject", rights_requests.c.subject)

rights_effects = Table(
    "rights_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("action", String(16), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("category", String(32), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("source", String(500), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)
Index(
    "ix_rights_effects_subject_recorded_at", rights_effects.c.subject, rights_effects.c.recorded_at
)
Index(
    "ix_rights_effects_purpose_recorded_at", rights_effects.c.purpose, rights_effects.c.recorded_at
)

rights_manifests = Table(
    "rights_manifests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("manifest_id", String(40), nullable=False, unique=True),
    Column("purpose", String(64), nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("out_dir", Text, nullable=False),
    Column("registry_seq", BigInteger, nullable=False),
    Column("input_count", BigInteger, nullable=False),
    Column("output_count", BigInteger, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("ledger_seq", BigInteger, nullable=False),
)
