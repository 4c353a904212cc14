"""Banks and their content, as values: names, labels, provenance, the coin flip.

Pure rules, no IO. A *bank* is a named set of known content (positive: known
terrorist / violent extremist content; negative: content known to be safe,
whose matches silence false positives). A *content* item carries one or more
signals, labels in GIFCT's taxonomy, and where it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from accord.errors import InvalidInput

__all__ = [
    "LABEL_DIMENSIONS",
    "Bank",
    "BankKind",
    "Content",
    "Labels",
    "Match",
    "coin_flip",
    "validate_bank_name",
    "validate_labels",
]

_BANK_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")

# GIFCT's hash-sharing taxonomy dimensions, plus free tags.
LABEL_DIMENSIONS: tuple[str, ...] = ("entity", "ideology", "behaviour", "content_type", "tags")

Labels = dict[str, list[str]]


class BankKind(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


def validate_bank_name(name: str) -> str:
    """HMA's rule: ``UPPER_WITH_UNDERSCORES``, starting with a letter, at most 100 characters."""
    if not isinstance(name, str) or not _BANK_NAME.match(name):
        raise InvalidInput(
            f"bank name {name!r} must be UPPER_WITH_UNDERSCORES: capital letters, digits and "
            "underscores, starting with a letter, at most 100 characters",
            name=name,
        )
    return name


def validate_labels(labels: Mapping[str, Any] | None) -> Labels:
    """Labels as ``{dimension: [values]}``; a bare string becomes a one-element list."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidInput("labels must be an object of dimension -> list of strings")
    out: Labels = {}
    for key, value in labels.items():
        if key not in LABEL_DIMENSIONS:
            raise InvalidInput(
                f"unknown label dimension {key!r}; use {', '.join(LABEL_DIMENSIONS)}", label=key
            )
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise InvalidInput(f"label {key!r} must be a string or a list of non-empty strings")
        cleaned = sorted({v.strip() for v in values if v.strip()})
        if cleaned:
            out[key] = cleaned
    return out


def coin_flip(bank_name: str, signal: str, ratio: float) -> bool:
    """Whether a bank whose ``matching_enabled_ratio`` is ``ratio`` takes part in this lookup.

    HMA flips a random coin per lookup; accord derives the flip from the bank
    and the signal, so the same query always gets the same answer (a rollout
    at 10% matches a stable 10% of content, and results are reproducible).
    """
    if ratio >= 1.0:
        return True
    if ratio <= 0.0:
        return False
    digest = hashlib.sha256(f"{bank_name}\x00{signal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < ratio


@dataclass(frozen=True, slots=True)
class Bank:
    id: int
    name: str
    kind: BankKind
    enabled: bool
    matching_enabled_ratio: float
    description: str
    thresholds: dict[str, float]
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Content:
    id: int
    bank: str
    signals: dict[str, str]
    labels: Labels
    enabled: bool
    source: str
    added_by: str
    added_at: str
    note: str | None = None
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """One match of a query signal against banked content."""

    bank: str
    content_id: int
    signal_type: str
    distance: float
    labels: Labels
    detail: dict[str, float] = field(default_factory=dict)
