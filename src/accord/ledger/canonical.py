"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for ledger leaves.

The bytes of a leaf must be the same whoever serialises the event, so that an
auditor who re-serialises an exported event gets the hash the platform logged.
The ``rfc8785`` package implements the scheme (key order by UTF-16 code units,
ECMAScript number form); this module only narrows what may go in: no floats
that are not finite, no non-string keys.

Events are nearly always strings, safe integers, booleans, nulls, lists and
objects whose keys sort the same by code point as by UTF-16 code unit; for
those, the standard library's C encoder with sorted keys and no ASCII escaping
writes exactly the RFC 8785 bytes, about ten times faster than the reference
package. Anything else (floats, huge integers, keys from U+E000 up) goes to
``rfc8785``; a property test checks that both paths agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from accord.errors import InvalidInput

__all__ = ["canonical_event", "canonical_json", "parse_canonical"]


_MAX_SAFE_INTEGER = 2**53 - 1  # ECMAScript's Number.MAX_SAFE_INTEGER
_FIRST_DIVERGENT = "\ue000"  # from here on, code point order and UTF-16 order can differ


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what the fast path writes exactly as RFC 8785 does."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not (
                    key.isascii() or max(key, default="") < _FIRST_DIVERGENT
                ):
                    return False
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        else:
            return False
    return True


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of ``value``."""
    if type(value) is dict and _plain(value):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference implementation says what is wrong
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"event is not canonicalisable JSON: {exc}") from exc


def canonical_event(
    seq: int, time: str, kind: str, actor: str | None, data: Mapping[str, Any]
) -> bytes:
    """The RFC 8785 bytes of the event envelope ``{actor, data, kind, seq, time}``.

    Equal to ``canonical_json({"seq": seq, "time": time, "kind": kind, "actor": actor,
    "data": data})``, but the envelope's keys are fixed and already in canonical
    order, so only ``data`` goes through the encoder and the rest is joined around
    it: the ledger's batch appends spend their time here.
    """
    if type(seq) is not int or not 0 <= seq <= _MAX_SAFE_INTEGER:
        raise InvalidInput("an event's seq is a non-negative safe integer", seq=seq)
    try:
        return b"".join(
            (
                b'{"actor":',
                b"null" if actor is None else _ENCODER.encode(actor).encode("utf-8"),
                b',"data":',
                canonical_json(dict(data)),
                b',"kind":',
                _ENCODER.encode(kind).encode("utf-8"),
                b',"seq":',
                str(seq).encode("ascii"),
                b',"time":',
                _ENCODER.encode(time).encode("utf-8"),
                b"}",
            )
        )
    except UnicodeEncodeError:  # a lone surrogate: the general path says what is wrong
        envelope = {"seq": seq, "time": time, "kind": kind, "actor": actor, "data": dict(data)}
        return canonical_json(envelope)


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
