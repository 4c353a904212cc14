"""API keys and roles: who may do what.

A key is ``acc_`` followed by 43 URL-safe base64 characters (256 random bits).
Only its SHA-256 is stored: a key of that entropy needs no slow hash, and a
stolen table of hashes gives nobody a key. The first 12 characters are kept in
the clear as the key's public id, so that it can be listed and revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

__all__ = ["PERMISSIONS", "Role", "hash_key", "key_id", "new_key", "permits"]

KEY_PREFIX = "acc_"


class Role(StrEnum):
    ADMIN = "admin"
    CURATOR = "curator"
    MODERATOR = "moderator"
    SENIOR = "senior"  # a moderator who also takes escalations (the senior queue)
    TRIAGE = "triage"
    AUDITOR = "auditor"
    HASHER = "hasher"
    REPORTER = "reporter"
    USER = "user"


_ALL = frozenset(Role)

# permission -> roles that hold it. Admin holds everything.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "hash": frozenset({Role.HASHER, Role.CURATOR, Role.MODERATOR, Role.SENIOR}),
    "match": frozenset({Role.HASHER, Role.CURATOR, Role.MODERATOR, Role.SENIOR}),
    "banks.read": frozenset({Role.CURATOR, Role.MODERATOR, Role.SENIOR, Role.AUDITOR, Role.HASHER}),
    "banks.write": frozenset({Role.CURATOR}),
    "banks.export": frozenset({Role.CURATOR, Role.AUDITOR}),
    "keys.manage": frozenset(),
    "ledger.read": frozenset({Role.AUDITOR}),
    "ledger.cosign": frozenset({Role.AUDITOR}),
    "ledger.checkpoint": frozenset(),
    # data rights: a user key reads and changes only its own subject's choices (see accord.rights)
    "rights.read": frozenset({Role.AUDITOR, Role.USER}),
    "rights.write": frozenset({Role.USER}),
    # moderation (accord.moderation); which queues a role sees is the queue's `roles` setting
    "moderation.report": frozenset(
        {Role.REPORTER, Role.USER, Role.MODERATOR, Role.SENIOR, Role.TRIAGE}
    ),
    "moderation.relay": frozenset(),  # report on behalf of named users (POST /v1/reports:batch)
    "moderation.review": frozenset({Role.MODERATOR, Role.SENIOR, Role.TRIAGE}),
    "moderation.decide": frozenset({Role.MODERATOR, Role.SENIOR}),
    "moderation.appeal": frozenset({Role.USER, Role.REPORTER}),
    "moderation.eligibility": frozenset(
        {Role.MODERATOR, Role.SENIOR, Role.TRIAGE, Role.HASHER, Role.CURATOR, Role.USER}
    ),
    "moderation.statements": frozenset({Role.MODERATOR, Role.SENIOR, Role.AUDITOR, Role.USER}),
    "moderation.redirect": frozenset(Role),
    # transparency reports (accord.reporting); issuing one may sign a checkpoint
    "reports.read": frozenset({Role.AUDITOR}),
}


def permits(role: Role, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (admin holds every permission)."""
    if role is Role.ADMIN:
        return True
    return role in PERMISSIONS.get(permission, frozenset())


def new_key() -> str:
    """A fresh random key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """The public id of a key: its first 12 characters."""
    return key[:12]
