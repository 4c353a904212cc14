"""Settings: one typed class, every field read from an ``ACCORD_*`` variable.

Nothing secret has a default. The pseudonymisation key and the checkpoint
signing key are generated on ``accord init`` into files under ``ACCORD_HOME``
(mode 0600) unless given in the environment; see :mod:`accord.secrets`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything accord reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".accord",
        description="Folder of the embedded home: the SQLite database, keys, index snapshots.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///$ACCORD_HOME/accord.db (WAL). "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `accord serve` binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `accord serve` binds to.")
    workers: int = Field(
        default_factory=lambda: max(1, min(os.cpu_count() or 1, 4)),
        ge=1,
        description="Service processes `accord serve` starts (default: one a core, at most 4). "
        "Each follows the banks itself; SQLite in WAL mode serves several processes.",
    )
    threads: int = Field(
        default=1,
        ge=1,
        description="Threads per process for numeric libraries (faiss, BLAS). One thread per "
        "process serves concurrent requests faster than many threads fighting over two cores.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key of the keyed hash that pseudonymises people's identifiers in the "
        "ledger; default: the file pseudonym.key in ACCORD_HOME, created by `accord init`.",
    )
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Largest upload or fetched body accepted."
    )
    max_image_pixels: int = Field(
        default=60_000_000, gt=0, description="Largest decoded image (width × height) accepted."
    )
    max_video_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="Longest video that is hashed."
    )
    fetch_timeout: float = Field(default=10.0, gt=0, description="Seconds allowed for a fetch.")
    fetch_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or CIDR networks that URL fetching may reach although they are "
        "internal (loopback, private, link-local). Comma-separated in the environment.",
    )
    pdq_threshold: int = Field(
        default=31, ge=0, le=256, description="Default PDQ match distance (Hamming)."
    )
    pdq_min_quality: int = Field(
        default=50,
        ge=0,
        le=100,
        description="PDQ hashes of lower quality are not banked or matched.",
    )
    robust_matching: bool = Field(
        default=True,
        description="Match photos by several PDQ views (orientations, borders trimmed, the "
        "salient frame, rotation undone) against the plain PDQ banks; off: plain PDQ only.",
    )
    vpdq_fps: float = Field(default=1.0, gt=0, description="Frames per second sampled for vPDQ.")
    vpdq_partial_matches: bool = Field(
        default=True,
        description="Also match a video when >= 80% of the query's frames (a clip) or of the "
        "bank video's frames (embedded in a longer upload) match, with >= 4 frames matched; "
        "off: HMA's rule only (>= 80% of both).",
    )
    matcher_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often a matcher follows bank changes."
    )
    snapshot_changes: int = Field(
        default=100_000,
        ge=0,
        description="A serving matcher rewrites its index snapshot (for a start in seconds) "
        "once the bank feed has moved on this many rows, and a tenth of the index, since the "
        "last one; 0: only `accord index snapshot` writes one.",
    )
    moderation_config: Path | None = Field(
        default=None,
        description="TOML file of moderation policies, queues, strike ladders, redirects and "
        "webhooks; default: the one shipped in accord/moderation/defaults.toml.",
    )
    ledger_origin: str = Field(
        default="accord.local/ledger",
        description="Origin line of the ledger's signed checkpoints (C2SP signed note).",
    )
    ledger_signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 seed (64 hex digits) that signs ledger checkpoints; default: the "
        "file ledger-signing.key in ACCORD_HOME, created on first use.",
    )
    ledger_public: bool = Field(
        default=False,
        description="Serve the ledger's checkpoint and proofs without an API key.",
    )
    ledger_checkpoint_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often `accord serve` signs a checkpoint if the log grew (0: never).",
    )

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite under home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'accord.db'}"
