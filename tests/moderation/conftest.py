"""Moderation fixtures: a configuration with a webhook, a receiver that records
signed deliveries, and helpers to walk a case through the service."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from accord.config import Settings
from accord.moderation.webhooks import WebhookDispatcher

WEBHOOK_SECRET = "test-webhook-secret-0123456789"
WEBHOOK_URL = "https://platform.example/accord-hook"


def config_text(extra: str = "") -> str:
    from importlib import resources

    base = (resources.files("accord.moderation") / "defaults.toml").read_text("utf-8")
    hook = f'\n[[webhooks]]\nurl = "{WEBHOOK_URL}"\nsecret = "{WEBHOOK_SECRET}"\n'
    # Top-level keys must come before the first table: prepend extra settings.
    return extra + "\n" + base + hook


@pytest.fixture
def moderation_config(tmp_path: Path) -> Path:
    path = tmp_path / "moderation.toml"
    path.write_text(config_text(), "utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path, moderation_config: Path) -> Settings:
    return Settings(home=tmp_path / "home", moderation_config=moderation_config)


class Receiver:
    """A webhook receiver behind an httpx MockTransport: can be told to fail."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_next = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_next > 0:
            self.fail_next -= 1
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})

    def events(self) -> list[str]:
        return [json.loads(r.content)["event"] for r in self.requests]


@pytest.fixture
def receiver(accord) -> Receiver:
    """Replaces the Accord's webhook dispatcher by one that posts to a recording receiver."""
    rec = Receiver()
    client = httpx.Client(transport=httpx.MockTransport(rec.handler))
    accord.__dict__["webhooks"] = WebhookDispatcher(
        accord.db, accord.clock, accord.moderation.config, client=client
    )
    yield rec
    client.close()
