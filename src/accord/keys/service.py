"""Creating, listing, revoking and checking API keys."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from accord.clock import Clock, format_time
from accord.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from accord.keys.model import Role, hash_key, key_id, new_key, permits
from accord.keys.tables import api_keys
from accord.ledger.log import Ledger
from accord.store.engine import Database

__all__ = ["KeyInfo", "KeyService", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's public id, its role, and the account it speaks for."""

    key_id: str
    role: Role
    subject: str | None = None

    @property
    def actor(self) -> str:
        """How the caller is named in ledger events (a key id, never a secret)."""
        return f"key:{self.key_id}"

    def require(self, permission: str) -> None:
        if not permits(self.role, permission):
            raise PermissionDenied(
                f"a {self.role.value} key may not {permission}",
                role=self.role.value,
                permission=permission,
            )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    role: Role
    subject: str | None
    note: str | None
    created_at: str
    revoked: bool


class KeyService:
    """Keys by hash. Authentications are cached for ``cache_seconds`` per process, so
    that a lookup costs no database read; a revocation takes effect at once in the
    process that made it and within ``cache_seconds`` in every other."""

    def __init__(
        self, db: Database, ledger: Ledger, clock: Clock, *, cache_seconds: float = 2.0
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}

    def create(
        self,
        role: Role | str,
        *,
        subject: str | None = None,
        note: str | None = None,
        actor: str = "cli",
    ) -> str:
        """Create a key and return it; this is the only time the key is seen."""
        try:
            role = Role(role)
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {role!r}; roles are: {valid}", role=role) from None
        key = new_key()
        with self.db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=key_id(key),
                    key_hash=hash_key(key),
                    role=role.value,
                    subject=subject,
                    note=note,
                    created_at=format_time(self.clock.now()),
                    revoked=False,
                )
            )
            data: dict[str, str | None] = {"key_id": key_id(key), "role": role.value}
            if subject is not None:
                data["subject"] = self.ledger.pseudonymize(subject)
            self.ledger.append(conn, "key.created", data, actor=actor)
        return key

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer KEY'")
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.db.read() as conn:
            row = conn.execute(
                select(api_keys.c.key_id, api_keys.c.role, api_keys.c.subject).where(
                    api_keys.c.key_hash == digest, api_keys.c.revoked.is_(False)
                )
            ).first()
        if row is None:
            raise Unauthenticated("the API key is not known or was revoked")
        principal = Principal(key_id=row.key_id, role=Role(row.role), subject=row.subject)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, now + self.cache_seconds)
        return principal

    def list(self) -> list[KeyInfo]:
        with self.db.read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).all()
        return [
            KeyInfo(
                key_id=r.key_id,
                role=Role(r.role),
                subject=r.subject,
                note=r.note,
                created_at=r.created_at,
                revoked=bool(r.revoked),
            )
            for r in rows
        ]

    def revoke(self, public_id: str, *, actor: str = "cli") -> None:
        with self.db.write() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == public_id, api_keys.c.revoked.is_(False))
                .values(revoked=True)
            )
            if result.rowcount == 0:
                raise NotFound(f"no active key with id {public_id!r}", key_id=public_id)
            self.ledger.append(conn, "key.revoked", {"key_id": public_id}, actor=actor)
        self._cache = {d: c for d, c in self._cache.items() if c[0].key_id != public_id}

    def count_admins(self) -> int:
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(api_keys)
                    .where(api_keys.c.role == Role.ADMIN.value, api_keys.c.revoked.is_(False))
                ).scalar_one()
            )
