"""Webhooks to the platform: an outbox written with each decision, a worker that delivers it.

Decisions never wait on a receiver. The service writes one row per (endpoint,
event) into ``moderation_webhook_deliveries`` *in the decision's transaction*
(:meth:`WebhookOutbox.enqueue`); a :class:`WebhookDispatcher` (a background
thread in the API process, or ``accord moderation deliver`` from cron) sends due
rows, logs every attempt in ``moderation_webhook_attempts`` and, until the
receiver answers 2xx, retries with exponential backoff (2 s, 4 s, 8 s, ... capped
at one hour, given up after ``max_attempts``).

Each request is signed: ``Accord-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>." + body)``; :func:`verify_signature` is the
receiver's check (constant-time, with a freshness window against replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, insert, select, update

from accord.clock import Clock, format_time
from accord.moderation.config import ModerationConfig, Webhook
from accord.moderation.tables import webhook_attempts, webhook_deliveries
from accord.store.engine import Database

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookDispatcher",
    "WebhookOutbox",
    "sign",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "Accord-Signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: bytes, header: str, body: bytes, *, now: float, tolerance: float = 300.0
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` s old."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(given, sign(secret, timestamp, body))


def _secret(hook: Webhook) -> bytes:
    if hook.secret:
        return hook.secret.encode()
    value = os.environ.get(hook.secret_env or "", "")
    return value.encode()


class WebhookOutbox:
    """Writes deliveries in the caller's transaction (the transactional-outbox pattern)."""

    def __init__(self, config: ModerationConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def enqueue(self, conn: Connection, event: str, data: Mapping[str, Any]) -> int:
        hooks = [h for h in self.config.webhooks if "*" in h.events or event in h.events]
        if not hooks:
            return 0
        now = format_time(self.clock.now())
        rows = []
        for hook in hooks:
            body = json.dumps(
                {"event": event, "created_at": now, "data": dict(data)},
                sort_keys=True,
                separators=(",", ":"),
                default=str,
            )
            rows.append(
                {
                    "url": hook.url,
                    "event": event,
                    "body": body,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        conn.execute(insert(webhook_deliveries), rows)
        return len(rows)


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    id: int
    url: str
    event: str
    state: str
    attempts: int
    next_attempt_at: str
    delivered_at: str | None


class WebhookDispatcher:
    """Sends due deliveries; never raises on a receiver's failure (it is logged and retried)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: ModerationConfig,
        *,
        client: httpx.Client | None = None,
        timeout: float = 5.0,
        base_delay: float = 2.0,
        max_delay: float = 3600.0,
        max_attempts: int = 15,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0)))

    def deliver_due(self, limit: int = 100) -> int:
        """Send every delivery that is due; return how many were acknowledged."""
        now = self.clock.now()
        claim_until = format_time(now + timedelta(seconds=60))
        with self.db.write() as conn:
            rows = conn.execute(
                select(webhook_deliveries)
                .where(
                    webhook_deliveries.c.state == "pending",
                    webhook_deliveries.c.next_attempt_at <= format_time(now),
                )
                .order_by(webhook_deliveries.c.id)
                .limit(limit)
            ).all()
            if rows:  # claim them, so that a second worker does not send them too
                conn.execute(
                    update(webhook_deliveries)
                    .where(webhook_deliveries.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=claim_until)
                )
        secrets = {h.url: _secret(h) for h in self.config.webhooks}
        acknowledged = 0
        for row in rows:
            body = row.body.encode()
            stamp = int(self.clock.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                "Accord-Event": row.event,
                "Accord-Delivery": str(row.id),
                SIGNATURE_HEADER: signature_header(secrets.get(row.url, b""), stamp, body),
            }
            started = time.perf_counter()
            status: int | None = None
            error: str | None = None
            try:
                response = self._client.post(row.url, content=body, headers=headers)
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"receiver answered {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            elapsed = (time.perf_counter() - started) * 1000.0
            attempts = row.attempts + 1
            at = self.clock.now()
            values: dict[str, Any] = {"attempts": attempts}
            if error is None:
                values.update(state="delivered", delivered_at=format_time(at))
                acknowledged += 1
            elif attempts >= self.max_attempts:
                values.update(state="failed")
            else:
                values.update(
                    next_attempt_at=format_time(at + timedelta(seconds=self.backoff(attempts)))
                )
            with self.db.write() as conn:
                conn.execute(
                    insert(webhook_attempts).values(
                        delivery_id=row.id,
                        at=format_time(at),
                        status_code=status,
                        error=error,
                        duration_ms=elapsed,
                    )
                )
                conn.execute(
                    update(webhook_deliveries)
                    .where(webhook_deliveries.c.id == row.id)
                    .values(**values)
                )
        return acknowledged

    def log(self, limit: int = 100) -> list[DeliveryLog]:
        """The newest deliveries and their state (the delivery log)."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
            ).all()
        return [
            DeliveryLog(
                r.id, r.url, r.event, r.state, r.attempts, r.next_attempt_at, r.delivered_at
            )
            for r in rows
        ]

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == delivery_id)
                .order_by(webhook_attempts.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def start(self, interval: float = 1.0) -> None:
        """Deliver in a daemon thread every ``interval`` seconds until :meth:`stop`."""
        if self._thread is not None or not self.config.webhooks:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.deliver_due()
                except Exception:  # noqa: BLE001, S112 - the worker must outlive a bad round
                    continue

        self._thread = threading.Thread(target=loop, name="accord-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._owns_client:
            self._client.close()
