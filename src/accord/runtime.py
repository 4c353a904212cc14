"""Wiring: builds each concern's service from the settings, once, on first use.

The edges (API, CLI, jobs) hold one :class:`Accord` and ask it for services;
services themselves never reach for it, they receive what they need in their
constructor. Tests build an ``Accord`` over a temporary home.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from accord.clock import Clock, SystemClock
from accord.config import Settings
from accord.keys.service import KeyService
from accord.ledger.log import Ledger
from accord.ledger.pseudonym import Pseudonymizer
from accord.secrets import load_or_create_secret
from accord.store.engine import Database

if TYPE_CHECKING:
    from accord.exchange.service import ExchangeService
    from accord.ledger.service import LedgerService
    from accord.matching.lookup import LookupService
    from accord.matching.matcher import Matcher
    from accord.matching.service import BankService
    from accord.moderation.service import ModerationService
    from accord.moderation.webhooks import WebhookDispatcher
    from accord.reporting.service import ReportService
    from accord.rights.service import RightsService
    from accord.signals.media import MediaLimits
    from accord.signals.registry import SignalRegistry

__all__ = ["Accord"]


class Accord:
    """Every service of one accord home, built lazily."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or SystemClock()

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.resolved_database_url)

    def init(self) -> None:
        """Create the home folder, its secrets and the schema (idempotent)."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.pseudonymizer  # noqa: B018 - creates the key file on first init
        self.db.migrate()

    @cached_property
    def pseudonymizer(self) -> Pseudonymizer:
        configured = self.settings.pseudonym_key
        if configured is not None:
            return Pseudonymizer(configured.get_secret_value().encode())
        return Pseudonymizer(load_or_create_secret(self.settings.home / "pseudonym.key"))

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.db, self.clock, self.pseudonymizer)

    @cached_property
    def ledger_service(self) -> LedgerService:
        from accord.ledger.service import LedgerService, load_signer

        s = self.settings
        return LedgerService(
            self.db, self.ledger, self.clock, load_signer(s), origin=s.ledger_origin
        )

    @cached_property
    def keys(self) -> KeyService:
        return KeyService(self.db, self.ledger, self.clock)

    @cached_property
    def media_limits(self) -> MediaLimits:
        from accord.signals.media import MediaLimits

        s = self.settings
        return MediaLimits(
            max_bytes=s.max_upload_bytes,
            max_pixels=s.max_image_pixels,
            max_video_seconds=s.max_video_seconds,
        )

    @cached_property
    def signals(self) -> SignalRegistry:
        from accord.signals.registry import default_registry

        return default_registry(self.settings)

    @cached_property
    def banks(self) -> BankService:
        from accord.matching.service import BankService

        return BankService(self.db, self.ledger, self.clock, self.signals)

    @cached_property
    def matcher(self) -> Matcher:
        from accord.matching.matcher import Matcher

        matcher = Matcher(
            self.db,
            self.signals,
            poll_seconds=self.settings.matcher_poll_seconds,
            snapshot_dir=self.settings.home / "index",
            snapshot_changes=self.settings.snapshot_changes,
        )
        self.banks.on_import(matcher.apply_import)
        self.banks.on_change(matcher.mark_dirty)
        return matcher

    @cached_property
    def exchange(self) -> ExchangeService:
        from accord.exchange.service import ExchangeService

        return ExchangeService(self.db, self.banks, self.clock)

    @cached_property
    def lookups(self) -> LookupService:
        from accord.fetch import FetchPolicy
        from accord.matching.lookup import LookupService

        s = self.settings
        policy = FetchPolicy(
            max_bytes=s.max_upload_bytes, timeout=s.fetch_timeout, allow=tuple(s.fetch_allow)
        )
        return LookupService(
            self.signals,
            self.matcher,
            self.media_limits,
            policy,
            min_quality=s.pdq_min_quality,
            robust=s.robust_matching,
        )

    @cached_property
    def rights(self) -> RightsService:
        from accord.rights.service import RightsService

        return RightsService(self.db, self.ledger, self.clock)

    @cached_property
    def moderation(self) -> ModerationService:
        from accord.moderation.config import load_config
        from accord.moderation.service import ModerationService

        config = load_config(self.settings.moderation_config)
        return ModerationService(self.db, self.ledger, self.clock, config)

    @cached_property
    def webhooks(self) -> WebhookDispatcher:
        from accord.moderation.webhooks import WebhookDispatcher

        return WebhookDispatcher(self.db, self.clock, self.moderation.config)

    @cached_property
    def reports(self) -> ReportService:
        from accord.reporting.service import ReportService

        return ReportService(self.ledger, self.ledger_service)

    def close(self) -> None:
        if "webhooks" in self.__dict__:
            self.webhooks.stop()
        if "matcher" in self.__dict__:
            self.matcher.stop()
        if "db" in self.__dict__:
            self.db.dispose()
