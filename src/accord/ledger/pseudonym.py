"""Pseudonyms for people's identifiers in the published log.

The log is published; people's identifiers in it are replaced by a keyed hash
(HMAC-SHA-256) whose key stays with the platform. The same person always gets
the same pseudonym, so figures per person can be counted and a person can be
shown their own events (the platform computes their pseudonym for them), while
a reader without the key cannot reverse or enumerate it.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Pseudonymizer"]


class Pseudonymizer:
    """Keyed hash of identifiers: ``p:`` followed by 32 hex digits (128 bits)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key

    def __call__(self, identifier: str, *, namespace: str = "person") -> str:
        mac = hmac.new(self._key, f"{namespace}\x00{identifier}".encode(), hashlib.sha256)
        return "p:" + mac.hexdigest()[:32]
