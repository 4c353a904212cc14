"""The moderation configuration: policies, reasons, tiers, queues, strike ladders, redirects.

Read from a TOML file: the one shipped beside this module (``defaults.toml``)
unless ``ACCORD_MODERATION_CONFIG`` names another. The file is parsed into
pydantic models, then cross-checked (every policy's tier exists, every queue
that is escalated to exists, DSA categories are the Transparency Database's
own values...). Anything wrong raises :class:`~accord.errors.InvalidConfiguration`
naming the file and the field, so a platform finds its typo before any report
is routed by it.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.errors import InvalidConfiguration
from accord.moderation import dsa
from accord.moderation.model import Ladder, LadderStep, Source, SubjectType

__all__ = ["ModerationConfig", "load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    rank: int = Field(ge=0)
    review_within_hours: float = Field(gt=0)
    strike_expiry_days: int = Field(gt=0)


class Reason(_Strict):
    tier: str
    title: str


class Policy(_Strict):
    id: str = Field(min_length=1, max_length=100)
    title: str
    tier: str
    ground: Literal["law", "terms"]
    legal_ground: str | None = Field(default=None, max_length=500)
    url: str | None = None
    dsa_category: str
    dsa_keywords: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class Queue(_Strict):
    id: str = Field(min_length=1, max_length=64)
    title: str
    reasons: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=lambda: list(Source))
    subject_types: list[SubjectType] = Field(default_factory=lambda: list(SubjectType))
    roles: list[str] = Field(default_factory=lambda: ["moderator"])
    escalate_to: str | None = None
    default: bool = False


class Step(_Strict):
    strike: int = Field(ge=1)
    days: int = Field(ge=0)


class LadderSpec(_Strict):
    id: str
    scope: str
    tiers: list[str]
    steps: list[Step] = Field(min_length=1)
    terminate_at: int | None = Field(default=None, ge=1)
    terminate_first_tiers: list[str] = Field(default_factory=list)


class RateLimit(_Strict):
    window_seconds: int = Field(default=3600, gt=0)
    max_reports: int = Field(default=30, gt=0)


class Weights(_Strict):
    user: float = Field(default=1.0, ge=0)
    trusted_flagger: float = Field(default=5.0, ge=0)
    automated: float = Field(default=3.0, ge=0)


class Resource(_Strict):
    title: str
    url: str
    kind: str = "resource"


class RedirectList(_Strict):
    id: str
    locale: str
    terms: list[str] = Field(min_length=1)
    resources: list[Resource] = Field(min_length=1)


class Webhook(_Strict):
    url: str
    secret: str | None = None
    secret_env: str | None = None
    events: list[str] = Field(default_factory=lambda: ["*"])


class DsaSettings(_Strict):
    endpoint: str = "https://transparency.dsa.ec.europa.eu/api/v1/statements"
    token_env: str = "ACCORD_DSA_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class ModerationConfig(_Strict):
    lease_seconds: int = Field(default=300, gt=0)
    appeal_window_days: int = Field(default=180, gt=0)
    platform_prefix: str = Field(default="accord", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    territorial_scope: list[str] = Field(min_length=1)
    trusted_flaggers: list[str] = Field(default_factory=list)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    weights: Weights = Field(default_factory=Weights)
    tiers: dict[str, Tier] = Field(min_length=1)
    reasons: dict[str, Reason] = Field(min_length=1)
    policies: list[Policy] = Field(min_length=1)
    queues: list[Queue] = Field(min_length=1)
    ladders: list[LadderSpec] = Field(default_factory=list)
    redirect: list[RedirectList] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)
    dsa: DsaSettings = Field(default_factory=DsaSettings)

    @cached_property
    def policy_by_id(self) -> dict[str, Policy]:
        return {p.id: p for p in self.policies}

    @cached_property
    def queue_by_id(self) -> dict[str, Queue]:
        return {q.id: q for q in self.queues}

    @cached_property
    def ladder_rules(self) -> list[Ladder]:
        return [
            Ladder(
                id=spec.id,
                scope=spec.scope,
                tiers=frozenset(spec.tiers),
                steps=tuple(LadderStep(s.strike, s.days) for s in spec.steps),
                terminate_at=spec.terminate_at,
                terminate_first_tiers=frozenset(spec.terminate_first_tiers),
            )
            for spec in self.ladders
        ]

    def route(self, reason: str, source: Source, subject_type: SubjectType) -> Queue:
        """The queue that takes a new case: the first that lists the reason (and
        accepts the source and subject type), else the default queue."""
        for queue in self.queues:
            if (
                reason in queue.reasons
                and source in queue.sources
                and subject_type in queue.subject_types
            ):
                return queue
        return next(q for q in self.queues if q.default)

    def tier_rank(self, tier: str) -> int:
        return self.tiers[tier].rank


def _check(config: ModerationConfig) -> list[str]:
    problems: list[str] = []
    tiers = set(config.tiers)
    for name, reason in config.reasons.items():
        if reason.tier not in tiers:
            problems.append(f"reasons.{name}: unknown tier {reason.tier!r}")
    seen: set[str] = set()
    for p in config.policies:
        where = f"policies[{p.id}]"
        if p.id in seen:
            problems.append(f"{where}: duplicate policy id")
        seen.add(p.id)
        if p.tier not in tiers:
            problems.append(f"{where}: unknown tier {p.tier!r}")
        if p.dsa_category not in dsa.CATEGORIES:
            problems.append(f"{where}: {p.dsa_category!r} is not a DSA statement category")
        for kw in p.dsa_keywords:
            if kw not in dsa.KEYWORDS:
                problems.append(f"{where}: {kw!r} is not a DSA category_specification keyword")
        for r in p.reasons:
            if r not in config.reasons:
                problems.append(f"{where}: unknown reason {r!r}")
        if p.ground == "law" and not p.legal_ground:
            problems.append(f"{where}: a policy resting on law needs legal_ground")
    queue_ids = [q.id for q in config.queues]
    if len(set(queue_ids)) != len(queue_ids):
        problems.append("queues: duplicate queue id")
    defaults = [q.id for q in config.queues if q.default]
    if len(defaults) != 1:
        problems.append(f"queues: exactly one queue must be default = true (found {defaults})")
    for q in config.queues:
        for r in q.reasons:
            if r not in config.reasons:
                problems.append(f"queues[{q.id}]: unknown reason {r!r}")
        if q.escalate_to is not None and q.escalate_to not in queue_ids:
            problems.append(f"queues[{q.id}]: escalate_to names unknown queue {q.escalate_to!r}")
    for spec in config.ladders:
        for t in [*spec.tiers, *spec.terminate_first_tiers]:
            if t not in tiers:
                problems.append(f"ladders[{spec.id}]: unknown tier {t!r}")
        strikes = [s.strike for s in spec.steps]
        if strikes != sorted(set(strikes)):
            problems.append(f"ladders[{spec.id}]: steps must have increasing strike numbers")
        days = [s.days for s in spec.steps]
        if days != sorted(days):
            problems.append(f"ladders[{spec.id}]: days must not decrease along the ladder")
        if spec.terminate_at is not None and spec.terminate_at <= strikes[-1]:
            problems.append(f"ladders[{spec.id}]: terminate_at must come after the last step")
    for code in config.territorial_scope:
        if code not in dsa.COUNTRIES:
            problems.append(f"territorial_scope: {code!r} is not an EU/EEA country code")
    for hook in config.webhooks:
        if not (hook.secret or hook.secret_env):
            problems.append(f"webhooks[{hook.url}]: a secret or secret_env is required")
    return problems


def parse_config(data: dict[str, Any], *, origin: str = "<config>") -> ModerationConfig:
    try:
        config = ModerationConfig.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidConfiguration(f"{origin}: {details}", origin=origin) from None
    problems = _check(config)
    if problems:
        raise InvalidConfiguration(f"{origin}: " + "; ".join(problems), origin=origin)
    return config


def load_config(path: Path | None = None) -> ModerationConfig:
    """Load and validate a moderation configuration (the packaged default if ``path`` is None)."""
    if path is None:
        text = (resources.files("accord.moderation") / "defaults.toml").read_text("utf-8")
        origin = "moderation defaults.toml"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise InvalidConfiguration(
                f"cannot read moderation configuration {path}: {exc.strerror}", origin=str(path)
            ) from None
        origin = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfiguration(f"{origin}: not valid TOML: {exc}", origin=origin) from None
    return parse_config(data, origin=origin)
