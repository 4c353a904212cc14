"""What moderation publishes: DSA statements of reasons and counter-narrative redirect counts.

A mixin of :class:`accord.moderation.service.ModerationService` (it uses the
service's database, ledger, clock and configuration):

    decision statements --> export_statements(DIR)  statements-0001.json (<= 100 each)
                        --> submit_statements(...)  POST {"statements": [...]} -> 201
    GET /v1/redirect?q= --> redirect() --> hourly tallies --> flush_redirect_counts() --> ledger

Submitted puids are recorded so that nothing is sent twice; redirect tallies
hold counts per term list and hour, never the query or who asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.clock import Clock, format_time
from accord.errors import InvalidInput, UpstreamError
from accord.ledger.log import Ledger
from accord.moderation import dsa
from accord.moderation.config import ModerationConfig
from accord.moderation.redirect import RedirectIndex, RedirectMatch
from accord.moderation.tables import decisions, dsa_submissions, redirect_tallies
from accord.store.engine import Database

__all__ = ["PublishingMixin"]


class PublishingMixin:
    """Statements of reasons out to the Transparency Database; redirects and their counts."""

    db: Database
    ledger: Ledger
    clock: Clock
    config: ModerationConfig
    _redirects: RedirectIndex

    # ----------------------------------------------------------------- redirects

    def redirect(self, query: str, *, locale: str | None = None) -> list[RedirectMatch]:
        """Resources for a search query, counted per term list (never who searched)."""
        if len(query) > 1000:
            raise InvalidInput("the query is limited to 1000 characters")
        matches = self._redirects.lookup(query, locale)
        if matches:
            hour = format_time(self.clock.now().replace(minute=0, second=0, microsecond=0))
            with self.db.write() as conn:
                for m in matches:
                    changed = conn.execute(
                        update(redirect_tallies)
                        .where(
                            redirect_tallies.c.hour == hour,
                            redirect_tallies.c.list_id == m.list_id,
                        )
                        .values(shown=redirect_tallies.c.shown + 1)
                    ).rowcount
                    if changed == 0:
                        try:
                            with conn.begin_nested():
                                conn.execute(
                                    insert(redirect_tallies).values(
                                        hour=hour, list_id=m.list_id, shown=1, logged=False
                                    )
                                )
                        except IntegrityError:
                            conn.execute(
                                update(redirect_tallies)
                                .where(
                                    redirect_tallies.c.hour == hour,
                                    redirect_tallies.c.list_id == m.list_id,
                                )
                                .values(shown=redirect_tallies.c.shown + 1)
                            )
        return matches

    def flush_redirect_counts(self, *, include_current_hour: bool = False) -> int:
        """Append one ``moderation.redirects_counted`` event per finished hour with
        the number of redirects shown per term list; return the events written."""
        current = format_time(self.clock.now().replace(minute=0, second=0, microsecond=0))
        with self.db.write() as conn:
            cond: list[Any] = [redirect_tallies.c.logged.is_(False)]
            if not include_current_hour:
                cond.append(redirect_tallies.c.hour < current)
            rows = conn.execute(
                select(redirect_tallies).where(and_(*cond)).order_by(redirect_tallies.c.hour)
            ).all()
            by_hour: dict[str, dict[str, int]] = {}
            for r in rows:
                by_hour.setdefault(r.hour, {})[r.list_id] = r.shown
            if rows:
                conn.execute(
                    update(redirect_tallies)
                    .where(redirect_tallies.c.id.in_([r.id for r in rows]))
                    .values(logged=True)
                )
                self.ledger.append_many(
                    conn,
                    [
                        ("moderation.redirects_counted", {"hour": h, "shown": counts}, None)
                        for h, counts in sorted(by_hour.items())
                    ],
                )
        return len(by_hour)

    # ----------------------------------------------------------------- DSA statements

    def statements(self, *, unsubmitted_only: bool = False) -> list[dict[str, Any]]:
        """Every stored statement of reasons, oldest first."""
        with self.db.read() as conn:
            query = (
                select(decisions.c.statement)
                .where(decisions.c.statement.is_not(None))
                .order_by(decisions.c.id)
            )
            if unsubmitted_only:
                done = select(dsa_submissions.c.decision_id)
                query = query.where(decisions.c.id.not_in(done))
            return [dict(s) for (s,) in conn.execute(query).all()]

    def export_statements(self, out: Path, *, unsubmitted_only: bool = False) -> list[Path]:
        """Write the statements as ``statements-0001.json``... each ``{"statements": [<=100]}``."""
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for number, body in enumerate(
            dsa.batches(self.statements(unsubmitted_only=unsubmitted_only)), start=1
        ):
            path = out / f"statements-{number:04d}.json"
            path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", "utf-8")
            written.append(path)
        return written

    def submit_statements(
        self,
        *,
        endpoint: str,
        token: str,
        client: httpx.Client | None = None,
    ) -> int:
        """POST every unsubmitted statement to the Transparency Database's multiple
        endpoint in batches of 100; return how many were accepted (201)."""
        if not token:
            raise InvalidInput("a Transparency Database API token is required")
        own = client is None
        http = client or httpx.Client(timeout=60.0)
        sent = 0
        try:
            pending = self.statements(unsubmitted_only=True)
            for body in dsa.batches(pending):
                try:
                    response = http.post(
                        endpoint,
                        json=body,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Accept": "application/json",
                            "Content-Type": "application/json",
                        },
                    )
                except httpx.HTTPError as exc:
                    raise UpstreamError(f"the Transparency Database is unreachable: {exc}") from exc
                if response.status_code != 201:
                    raise UpstreamError(
                        f"the Transparency Database answered {response.status_code}: "
                        f"{response.text[:500]}",
                        status=response.status_code,
                    )
                created = response.json().get("statements", [])
                uuids = {s.get("puid"): s.get("uuid") for s in created if isinstance(s, dict)}
                now_s = format_time(self.clock.now())
                with self.db.write() as conn:
                    for statement in body["statements"]:
                        puid = statement["puid"]
                        decision_id = int(puid.rsplit("-", 1)[1])
                        conn.execute(
                            insert(dsa_submissions).values(
                                puid=puid,
                                decision_id=decision_id,
                                submitted_at=now_s,
                                uuid=uuids.get(puid),
                            )
                        )
                    self.ledger.append(
                        conn,
                        "moderation.statements_submitted",
                        {
                            "count": len(body["statements"]),
                            "puids": [s["puid"] for s in body["statements"]],
                        },
                    )
                sent += len(body["statements"])
        finally:
            if own:
                http.close()
        return sent
