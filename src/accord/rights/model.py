"""The data-rights registry's rules, without IO: purposes, categories, legal bases, resolution.

A subject's history is an append-only sequence of :class:`Entry` values (explicit
choices by the person and external signals, each with its provenance). The
state of one (purpose, category) cell *as of* a time is a pure function of the
entries recorded at or before that time, decided by these rules, in order:

R1  Only entries with ``recorded_at <= as_of`` count (history is never rewritten:
    asking about a past time gives the answer that was true then).
R2  Explicit choices by the person outrank inferred signals: if any choice covers
    the cell, the most recent one decides, whatever any signal says
    (``consent`` allows; ``object`` and ``withdraw`` deny). A choice that names a
    category and one that covers every category are equal: the later one wins.
R3  Otherwise signals decide, most restrictive first (the rule of the IETF
    AI-preferences vocabulary for combining statements): each signal source
    (kind + where it came from) keeps only its latest statement; if any source's
    latest statement disallows the cell, the cell is denied.
R4  Signals never grant consent: an inferred "yes" (``train-ai=y``,
    ``tdm-reservation: 0``) does not open a purpose whose legal basis is consent.
R5  Otherwise the legal basis decides: ``consent`` means nothing is used until the
    person opts in (deny, reason ``no_consent``); ``legitimate_interest`` means use
    is allowed until the person objects (allow, reason ``legitimate_interest``).

Every decision carries its reason and the provenance (request ids, sources) of
the entries that decided it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from accord.errors import InvalidInput

__all__ = [
    "CATEGORIES",
    "PURPOSES",
    "Action",
    "Basis",
    "Decision",
    "Entry",
    "Purpose",
    "Reason",
    "check_category",
    "check_purpose",
    "resolve",
    "resolve_all",
]


class Basis(StrEnum):
    """The legal basis a purpose relies on (GDPR Art. 6(1)(a) and (f))."""

    CONSENT = "consent"
    LEGITIMATE_INTEREST = "legitimate_interest"


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose of processing: stable name, legal basis, one line for people."""

    name: str
    basis: Basis
    description: str


# Append-only vocabulary: add purposes, never rename or remove one (names are persisted).
PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose(
            "train_ai_system",
            Basis.LEGITIMATE_INTEREST,
            "Training, testing or improving AI systems (models) with the person's content.",
        ),
        Purpose(
            "personalised_ads",
            Basis.CONSENT,
            "Choosing advertisements from the person's activity.",
        ),
        Purpose(
            "third_party_sharing",
            Basis.CONSENT,
            "Selling or sharing the person's data with other companies.",
        ),
        Purpose(
            "product_analytics",
            Basis.LEGITIMATE_INTEREST,
            "Aggregate measurement of how the service is used.",
        ),
    )
}

# Append-only vocabulary of data categories.
CATEGORIES: tuple[str, ...] = (
    "posts",
    "photos",
    "videos",
    "comments",
    "messages",
    "interaction_telemetry",
)


class Action(StrEnum):
    """What an entry says. The first three are choices by the person; the rest, signals."""

    CONSENT = "consent"
    WITHDRAW = "withdraw"
    OBJECT = "object"
    SIGNAL_DENY = "signal_deny"
    SIGNAL_ALLOW = "signal_allow"

    @property
    def explicit(self) -> bool:
        return self in (Action.CONSENT, Action.WITHDRAW, Action.OBJECT)


class Reason(StrEnum):
    """Why a cell is allowed or denied (persisted in gate manifests)."""

    CONSENT = "consent"
    OBJECTION = "objection"
    WITHDRAWN = "withdrawn"
    SIGNAL = "signal"
    NO_CONSENT = "no_consent"
    LEGITIMATE_INTEREST = "legitimate_interest"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a subject's history: what, for which cells, when, from where.

    ``category`` ``None`` covers every category. ``source`` names where a signal
    came from (``header:Sec-GPC``, a TDMRep document URL...); a later signal of the
    same ``kind`` and ``source`` replaces an earlier one (R3).
    """

    request_id: str
    action: Action
    purpose: str
    category: str | None
    recorded_at: datetime
    kind: str = "choice"
    source: str = "person"

    def covers(self, purpose: str, category: str) -> bool:
        return self.purpose == purpose and (self.category is None or self.category == category)


@dataclass(frozen=True, slots=True)
class Decision:
    """The state of one (purpose, category) cell, with the entries that decided it."""

    purpose: str
    category: str
    allowed: bool
    reason: Reason
    provenance: tuple[str, ...] = field(default=())


def check_purpose(name: str) -> Purpose:
    """The purpose of that name, or a clear error listing the known ones."""
    try:
        return PURPOSES[name]
    except KeyError:
        known = ", ".join(sorted(PURPOSES))
        raise InvalidInput(
            f"unknown purpose {name!r}; purposes are: {known}", purpose=name
        ) from None


def check_category(name: str | None) -> str | None:
    """``name`` if it is a known category (``None`` means every category)."""
    if name is None or name in CATEGORIES:
        return name
    known = ", ".join(CATEGORIES)
    raise InvalidInput(f"unknown data category {name!r}; categories are: {known}", category=name)


_EXPLICIT_OUTCOME: dict[Action, tuple[bool, Reason]] = {
    Action.CONSENT: (True, Reason.CONSENT),
    Action.OBJECT: (False, Reason.OBJECTION),
    Action.WITHDRAW: (False, Reason.WITHDRAWN),
}


def resolve(history: Iterable[Entry], purpose: str, category: str, as_of: datetime) -> Decision:
    """The state of one cell as of ``as_of`` (rules R1-R5 of this module)."""
    spec = check_purpose(purpose)
    check_category(category)
    relevant = [e for e in history if e.recorded_at <= as_of and e.covers(purpose, category)]  # R1
    relevant.sort(key=lambda e: e.recorded_at)  # stable: equal times keep history order
    choices = [e for e in relevant if e.action.explicit]
    if choices:  # R2
        last = choices[-1]
        allowed, reason = _EXPLICIT_OUTCOME[last.action]
        return Decision(purpose, category, allowed, reason, (last.request_id,))
    latest: dict[tuple[str, str], Entry] = {}
    for e in relevant:  # R3: per source, the latest statement
        latest[(e.kind, e.source)] = e
    denials = sorted(
        (e for e in latest.values() if e.action is Action.SIGNAL_DENY),
        key=lambda e: e.recorded_at,
    )
    if denials:
        return Decision(
            purpose, category, False, Reason.SIGNAL, tuple(e.request_id for e in denials)
        )
    if spec.basis is Basis.CONSENT:  # R4, R5
        return Decision(purpose, category, False, Reason.NO_CONSENT)
    return Decision(purpose, category, True, Reason.LEGITIMATE_INTEREST)


def resolve_all(
    history: Sequence[Entry],
    as_of: datetime,
    *,
    purposes: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
) -> list[Decision]:
    """Every (purpose, category) cell's decision, purposes and categories in vocabulary order."""
    return [
        resolve(history, p, c, as_of)
        for p in (purposes if purposes is not None else PURPOSES)
        for c in (categories if categories is not None else CATEGORIES)
    ]
