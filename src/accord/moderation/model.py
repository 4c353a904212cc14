"""The moderation domain: vocabularies, case priority, strike ladders, eligibility.

Pure functions and frozen types only: no database, no clock, no HTTP. The service
(:mod:`accord.moderation.service`) loads rows, calls these functions with plain
values and writes what they return. Data flows

    report -> (reason, source, reach) -> :func:`case_urgency` -> queue order
    decision -> strike -> :func:`ladder_consequence` -> restriction rows
    restriction rows -> :func:`eligibility` -> allowed / denied with reason and end

The strike ladder is the rule platforms publish ("first strike under a
most-serious policy: 30 days without live"); keeping it a pure function of the
active strike count lets property tests pin its shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CONTENT_ACTIONS",
    "Action",
    "Consequence",
    "Eligibility",
    "Ladder",
    "LadderStep",
    "Restriction",
    "Source",
    "SubjectType",
    "case_urgency",
    "eligibility",
    "ladder_consequence",
]


class SubjectType(StrEnum):
    """What a report is about."""

    CONTENT = "content"
    ACCOUNT = "account"
    LIVESTREAM = "livestream"
    URL = "url"


class Source(StrEnum):
    """Who flagged: a user (DSA Art. 16 notice), a trusted flagger (Art. 22), or a machine."""

    USER = "user"
    TRUSTED_FLAGGER = "trusted_flagger"
    AUTOMATED = "automated"


class Action(StrEnum):
    """What a decision does to the reported content (``none``: no action taken)."""

    NONE = "none"
    REMOVE = "remove"
    DISABLE = "disable"
    DEMOTE = "demote"
    AGE_RESTRICT = "age_restrict"
    LABEL = "label"
    RESTRICT_INTERACTION = "restrict_interaction"


CONTENT_ACTIONS = frozenset(Action) - {Action.NONE}


class RestrictionKind(StrEnum):
    FEATURE = "feature"
    SUSPENSION = "suspension"
    TERMINATION = "termination"


@dataclass(frozen=True, slots=True)
class LadderStep:
    """At the ``strike``-th active strike: restrict for ``days`` (0: a warning only)."""

    strike: int
    days: int


@dataclass(frozen=True, slots=True)
class Ladder:
    """A strike ladder for one scope.

    ``scope`` is ``"account"`` (suspensions) or a feature name such as ``"live"``
    (that feature is withheld). Only strikes under policies of ``tiers`` count.
    ``steps`` give the restriction at a given number of active strikes; past the
    last step the last step repeats, unless ``terminate_at`` is reached, which
    terminates the account. ``terminate_first_tiers`` lists tiers whose very
    first strike terminates ("most-serious -> termination at the first").
    """

    id: str
    scope: str
    tiers: frozenset[str]
    steps: tuple[LadderStep, ...]
    terminate_at: int | None = None
    terminate_first_tiers: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Consequence:
    """What a ladder imposes after a strike: nothing, a feature restriction,
    a suspension, or termination; ``days`` is ``None`` for permanent."""

    kind: RestrictionKind | None
    days: int | None = None
    feature: str | None = None
    strike_number: int = 0


NO_CONSEQUENCE = Consequence(kind=None)


def ladder_consequence(ladder: Ladder, active_strikes: int, tier: str) -> Consequence:
    """The consequence of a new strike of ``tier``, given ``active_strikes`` active
    strikes in the ladder's tiers *including* the new one."""
    if active_strikes < 1 or tier not in ladder.tiers:
        return NO_CONSEQUENCE
    if tier in ladder.terminate_first_tiers or (
        ladder.terminate_at is not None and active_strikes >= ladder.terminate_at
    ):
        return Consequence(RestrictionKind.TERMINATION, None, None, active_strikes)
    step: LadderStep | None = None
    for candidate in ladder.steps:
        if candidate.strike <= active_strikes:
            step = candidate
    if step is None or step.days <= 0:
        return Consequence(None, 0, None, active_strikes)
    if ladder.scope == "account":
        return Consequence(RestrictionKind.SUSPENSION, step.days, None, active_strikes)
    return Consequence(RestrictionKind.FEATURE, step.days, ladder.scope, active_strikes)


@dataclass(frozen=True, slots=True)
class Restriction:
    """A restriction in force or not: ``ends`` ``None`` means permanent."""

    kind: RestrictionKind
    starts: datetime
    ends: datetime | None
    feature: str | None = None
    lifted: bool = False
    decision_id: int | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    allowed: bool
    reason: str
    until: datetime | None = None
    decision_id: int | None = None


def eligibility(restrictions: Iterable[Restriction], feature: str, now: datetime) -> Eligibility:
    """Whether an account may use ``feature`` at ``now``.

    Termination beats suspension beats a feature restriction; among restrictions
    of one kind, the one that ends last answers (its end is when the account may
    use the feature again).
    """
    order = {RestrictionKind.TERMINATION: 0, RestrictionKind.SUSPENSION: 1}
    active: list[Restriction] = []
    for r in restrictions:
        if r.lifted or r.starts > now or (r.ends is not None and r.ends <= now):
            continue
        if r.kind is RestrictionKind.FEATURE and r.feature != feature:
            continue
        active.append(r)
    if not active:
        return Eligibility(True, "no restriction in force")

    def rank(r: Restriction) -> tuple[int, float]:
        end = math.inf if r.ends is None else r.ends.timestamp()
        return (order.get(r.kind, 2), -end)

    worst = min(active, key=rank)
    if worst.kind is RestrictionKind.TERMINATION:
        reason = "the account is terminated"
    elif worst.kind is RestrictionKind.SUSPENSION:
        reason = "the account is suspended"
    else:
        reason = f"the account may not use {feature}"
    return Eligibility(False, reason, worst.ends, worst.decision_id)


def case_urgency(
    *,
    tier_hours: float,
    reporter_weight: float,
    reach: int,
) -> float:
    """Seconds within which a case should be reviewed: the review target of its
    severity tier, shortened by how many (trusted) people reported it and how many
    saw it. Both boosts are sub-linear (square root, logarithm), so a thousand
    reports from a brigade weigh like ~30, not like a thousand; an old case keeps
    its deadline, so it rises above newer cases of the same urgency as it ages.
    """
    boost = (1.0 + math.sqrt(max(reporter_weight, 0.0))) * (1.0 + math.log10(1 + max(reach, 0)))
    return tier_hours * 3600.0 / boost


def strikes_in_force(
    strikes: Sequence[tuple[str, datetime, datetime, bool]], tiers: frozenset[str], now: datetime
) -> int:
    """Count strikes (tier, given, expires, reversed) of ``tiers`` in force at ``now``."""
    return sum(
        1
        for tier, given, expires, reversed_ in strikes
        if tier in tiers and not reversed_ and given <= now < expires
    )


def end_of(start: datetime, days: int | None) -> datetime | None:
    return None if days is None else start + timedelta(days=days)
