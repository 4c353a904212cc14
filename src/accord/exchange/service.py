"""Peer-to-peer bank exchange: serve a bank's changes, follow another instance's bank.

Serving side: :meth:`ExchangeService.feed` pages through one bank's change feed
after a checkpoint (a feed sequence number) and answers each changed item once,
as an ``add`` with its signals, labels and provenance, or a ``remove``.

Following side: :meth:`ExchangeService.pull` asks a peer for the changes after
the checkpoint it stored for that peer, applies them to a local bank (a local
copy is known by ``external_id = "peer:<url>/<bank>#<remote id>"``), and stores
the new checkpoint after the page's changes commit. A crash between the two
repeats that page on the next pull, which is harmless: adds of items already
copied are skipped and removes of items not held are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from accord.clock import Clock, format_time
from accord.errors import InvalidInput, UpstreamError
from accord.exchange.formats import content_record
from accord.exchange.tables import exchange_peers
from accord.matching.service import BankService, ContentInput
from accord.store.engine import Database

__all__ = ["ExchangeService", "PullResult"]


@dataclass(frozen=True, slots=True)
class PullResult:
    added: int
    removed: int
    skipped: int
    checkpoint: int
    pages: int


class ExchangeService:
    def __init__(self, db: Database, banks: BankService, clock: Clock) -> None:
        self.db = db
        self.banks = banks
        self.clock = clock

    # -- serving -----------------------------------------------------------------------

    def feed(self, bank: str, since: int, *, limit: int = 5_000) -> dict[str, Any]:
        if since < 0:
            raise InvalidInput("since must be >= 0")
        if not 1 <= limit <= 50_000:
            raise InvalidInput("limit must be between 1 and 50000")
        changes = self.banks.bank_feed(bank, since, limit=limit)
        last_op: dict[int, str] = {}
        for change in changes:
            last_op[change.content_id] = change.op
        current = self.banks.contents_by_id(
            bank, [cid for cid, op in last_op.items() if op == "add"]
        )
        items: list[dict[str, Any]] = []
        for cid, op in last_op.items():
            content = current.get(cid)
            if op == "add" and content is not None and content.enabled:
                items.append({"op": "add", "item": content_record(content)})
            else:
                items.append({"op": "remove", "id": cid})
        next_checkpoint = changes[-1].seq if changes else since
        return {
            "bank": bank,
            "since": since,
            "next": next_checkpoint,
            "more": len(changes) == limit,
            "changes": items,
        }

    # -- following ---------------------------------------------------------------------

    def pull(
        self,
        url: str,
        *,
        local_bank: str,
        remote_bank: str | None = None,
        key: str | None = None,
        actor: str,
        client: httpx.Client | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PullResult:
        """Apply every change of the peer's bank since the stored checkpoint."""
        base = url.rstrip("/")
        remote = remote_bank or local_bank
        self.banks.get_bank(local_bank)
        peer_id, checkpoint = self._peer(base, remote, local_bank)
        prefix = f"peer:{base}/{remote}#"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        own = client is None
        http = client or httpx.Client(timeout=60)
        added = removed = skipped = pages = 0
        try:
            while True:
                try:
                    response = http.get(
                        f"{base}/v1/exchange/banks/{remote}/changes",
                        params={"since": checkpoint},
                        headers=headers,
                    )
                except httpx.HTTPError as exc:
                    raise UpstreamError(f"peer {base} is unreachable: {exc}") from None
                if response.status_code != 200:
                    raise UpstreamError(
                        f"peer {base} answered HTTP {response.status_code}: {response.text[:200]}",
                        status=response.status_code,
                    )
                page = response.json()
                pages += 1
                a, r, s = self._apply(page["changes"], local_bank, prefix, base, actor)
                added, removed, skipped = added + a, removed + r, skipped + s
                checkpoint = int(page["next"])
                self._save_checkpoint(peer_id, checkpoint)
                if progress is not None:
                    progress(len(page["changes"]))
                if not page.get("more"):
                    break
        finally:
            if own:
                http.close()
        return PullResult(added, removed, skipped, checkpoint, pages)

    def _apply(
        self,
        changes: list[dict[str, Any]],
        local_bank: str,
        prefix: str,
        base: str,
        actor: str,
    ) -> tuple[int, int, int]:
        wanted = [prefix + str(c["item"]["id"] if c["op"] == "add" else c["id"]) for c in changes]
        known = self.banks.find_external(local_bank, wanted)
        to_add: list[ContentInput] = []
        removed = skipped = 0
        for change in changes:
            if change["op"] == "add":
                item = change["item"]
                external = prefix + str(item["id"])
                if external in known:
                    skipped += 1
                    continue
                metadata = dict(item.get("metadata") or {})
                metadata["provenance"] = item.get("provenance")
                metadata["peer"] = base
                if item.get("external_id"):
                    metadata["original_external_id"] = item["external_id"]
                to_add.append(
                    ContentInput(
                        signals=item["signals"],
                        labels=item.get("labels"),
                        note=item.get("note"),
                        external_id=external,
                        metadata=metadata,
                    )
                )
                known[external] = -1
            else:
                external = prefix + str(change["id"])
                local_id = known.get(external)
                if local_id is None or local_id < 0:
                    skipped += 1
                    continue
                self.banks.remove_content(local_bank, local_id, actor=actor)
                del known[external]
                removed += 1
        if to_add:
            self.banks.add_many(local_bank, to_add, source=f"peer:{base}", actor=actor)
        return len(to_add), removed, skipped

    def _peer(self, url: str, remote: str, local: str) -> tuple[int, int]:
        with self.db.write() as conn:
            row = conn.execute(
                select(exchange_peers.c.id, exchange_peers.c.checkpoint).where(
                    exchange_peers.c.url == url,
                    exchange_peers.c.remote_bank == remote,
                    exchange_peers.c.local_bank == local,
                )
            ).first()
            if row is not None:
                return int(row.id), int(row.checkpoint)
            new_id = conn.execute(
                insert(exchange_peers)
                .values(url=url, remote_bank=remote, local_bank=local, checkpoint=0)
                .returning(exchange_peers.c.id)
            ).scalar_one()
            return int(new_id), 0

    def _save_checkpoint(self, peer_id: int, checkpoint: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(exchange_peers)
                .where(exchange_peers.c.id == peer_id)
                .values(checkpoint=checkpoint, last_pull_at=format_time(self.clock.now()))
            )

    def peers(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(exchange_peers).order_by(exchange_peers.c.id)).all()
        return [dict(r._mapping) for r in rows]
