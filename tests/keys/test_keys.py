"""API keys: created once, stored hashed, roles enforced, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accord.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from accord.keys import Role
from accord.keys.tables import api_keys


def test_keys_are_stored_only_as_hashes(store):
    key = store.keys.create("curator", note="bank upkeep")
    with store.db.read() as conn:
        rows = conn.execute(select(api_keys)).all()
    assert len(rows) == 1
    assert key not in repr(tuple(rows[0]))
    assert key[4:] not in rows[0].key_hash
    principal = store.keys.authenticate(key)
    assert principal.role is Role.CURATOR
    assert store.ledger.entries(0, 10)[0].kind == "key.created"


def test_unknown_missing_and_revoked_keys_are_refused(accord):
    with pytest.raises(Unauthenticated, match="required"):
        accord.keys.authenticate(None)
    with pytest.raises(Unauthenticated, match="not known"):
        accord.keys.authenticate("acc_nope")
    key = accord.keys.create("hasher")
    accord.keys.revoke(key[:12])
    with pytest.raises(Unauthenticated):
        accord.keys.authenticate(key)
    with pytest.raises(NotFound):
        accord.keys.revoke(key[:12])


def test_roles_hold_only_their_permissions(accord):
    hasher = accord.keys.authenticate(accord.keys.create("hasher"))
    hasher.require("hash")
    with pytest.raises(PermissionDenied, match="hasher"):
        hasher.require("banks.write")
    admin = accord.keys.authenticate(accord.keys.create("admin"))
    admin.require("banks.write")
    admin.require("keys.manage")


def test_unknown_role_is_a_clear_error(accord):
    with pytest.raises(InvalidInput, match="roles are"):
        accord.keys.create("overlord")
