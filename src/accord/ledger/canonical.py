"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for ledger leaves.

The bytes of a leaf must be the same whoever serialises the event, so that an
auditor who re-serialises an exported event gets the hash the platform logged.
The ``rfc8785`` package implements the scheme (key order by UTF-16 code units,
ECMAScript number form); this module only narrows what may go in: no floats
that are not finite, no non-string keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from accord.errors import InvalidInput

__all__ = ["canonical_json", "parse_canonical"]


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of ``value``."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"event is not canonicalisable JSON: {exc}") from exc


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse leaf bytes and check that they are in canonical form."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"leaf is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput("leaf is not a JSON object")
    if canonical_json(value) != data:
        raise InvalidInput("leaf is not in RFC 8785 canonical form")
    return value
