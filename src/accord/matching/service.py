"""BankService: banks, their content and signals, on the database, through the ledger.

Every change is one write transaction that (1) takes the ledger's lock, so the
change feed's sequence numbers commit in order in every process, (2) changes
the tables, (3) appends the signal changes that matchers follow, and (4)
appends one ledger event. Bulk adds validate every item before writing any,
so an import with one bad hash writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, text, update

from accord.clock import Clock, format_time
from accord.errors import AlreadyExists, InvalidInput, InvalidSignal, NotFound, UnknownBank
from accord.ledger.log import Ledger
from accord.matching.model import (
    Bank,
    BankKind,
    Content,
    Labels,
    validate_bank_name,
    validate_labels,
)
from accord.matching.tables import (
    bank_content,
    bank_keypoints,
    bank_signals,
    banks,
    signal_changes,
)
from accord.signals.base import Hashed
from accord.signals.registry import SignalRegistry
from accord.store.bulk import insert_columns
from accord.store.engine import Database

__all__ = ["BankService", "Change", "ContentInput", "Imported"]

_CHUNK = 5_000
_NO_LABELS: Labels = {}
_NO_METADATA: dict[str, Any] = {}
"""Shared by every item without labels (metadata): the bulk insert serialises them once."""


@dataclass(slots=True)
class ContentInput:
    """One item to bank: its signals by type, labels and provenance."""

    signals: dict[str, str]
    labels: Mapping[str, Any] | None = None
    note: str | None = None
    external_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    qualities: Mapping[str, int] | None = None
    keypoints: bytes | None = None
    """Packed local features of the image (:mod:`accord.matching.keypoints`), when the item
    is banked from its media: stored beside it, matched locally, never exported."""


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change feed that matchers and peers follow."""

    seq: int
    signal_id: int
    op: str
    signal_type: str
    value: str | None
    bank_id: int
    content_id: int


@dataclass(frozen=True, slots=True)
class Imported:
    """A committed column import: its feed rows are ``first_seq .. last_seq``, one add a
    value, in the order of ``signal_ids`` (all of ``signal_type``, in bank ``bank_id``)."""

    first_seq: int
    last_seq: int
    signal_type: str
    bank_id: int
    signal_ids: Sequence[int]
    content_ids: Sequence[int]
    values: Sequence[str]


class BankService:
    """Banks and their content."""

    def __init__(
        self, db: Database, ledger: Ledger, clock: Clock, registry: SignalRegistry
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.registry = registry
        self._listeners: list[Callable[[], None]] = []
        self._import_listeners: list[Callable[[Imported], object]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every committed change (in-process matchers catch up)."""
        self._listeners.append(listener)

    def on_import(self, listener: Callable[[Imported], object]) -> None:
        """Call ``listener(imported)`` after a committed column import whose feed rows are
        known to be exactly its own (before the ``on_change`` listeners): this process's
        matcher applies it from memory instead of reading it back."""
        self._import_listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # -- banks -------------------------------------------------------------------------

    def create_bank(
        self,
        name: str,
        *,
        kind: BankKind | str = BankKind.POSITIVE,
        description: str = "",
        enabled: bool = True,
        matching_enabled_ratio: float = 1.0,
        thresholds: Mapping[str, float] | None = None,
        actor: str,
    ) -> Bank:
        name = validate_bank_name(name)
        kind = _bank_kind(kind)
        ratio = _ratio(matching_enabled_ratio)
        limits = self._thresholds(thresholds)
        now = format_time(self.clock.now())
        with self.db.write() as conn:
            self.ledger.lock(conn)
            if self._bank_row(conn, name, missing_ok=True) is not None:
                raise AlreadyExists("Bank already exists", bank=name)
            conn.execute(
                insert(banks).values(
                    name=name,
                    kind=kind.value,
                    enabled=enabled,
                    matching_enabled_ratio=ratio,
                    description=description,
                    thresholds=limits,
                    created_at=now,
                    updated_at=now,
                )
            )
            self.ledger.append(
                conn,
                "bank.created",
                {
                    "bank": name,
                    "kind": kind.value,
                    "enabled": enabled,
                    "matching_enabled_ratio": ratio,
                    "thresholds": limits,
                },
                actor=actor,
            )
            bank = _bank(self._bank_row(conn, name))
        self._changed()
        return bank

    def list_banks(self) -> list[Bank]:
        with self.db.read() as conn:
            rows = conn.execute(select(banks).order_by(banks.c.name)).all()
        return [_bank(r) for r in rows]

    def get_bank(self, name: str) -> Bank:
        with self.db.read() as conn:
            return _bank(self._bank_row(conn, name))

    def update_bank(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        matching_enabled_ratio: float | None = None,
        description: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        new_name: str | None = None,
        actor: str,
    ) -> Bank:
        values: dict[str, Any] = {}
        if enabled is not None:
            values["enabled"] = bool(enabled)
        if matching_enabled_ratio is not None:
            values["matching_enabled_ratio"] = _ratio(matching_enabled_ratio)
        if description is not None:
            values["description"] = description
        if thresholds is not None:
            values["thresholds"] = self._thresholds(thresholds)
        if new_name is not None and new_name != name:
            values["name"] = validate_bank_name(new_name)
        with self.db.write() as conn:
            self.ledger.lock(conn)
            row = self._bank_row(conn, name)
            if "name" in values and self._bank_row(conn, values["name"], missing_ok=True):
                raise AlreadyExists("Bank already exists", bank=values["name"])
            if values:
                values["updated_at"] = format_time(self.clock.now())
                conn.execute(update(banks).where(banks.c.id == row.id).values(**values))
                changed = {k: v for k, v in values.items() if k != "updated_at"}
                self.ledger.append(
                    conn, "bank.updated", {"bank": name, "changes": changed}, actor=actor
                )
            bank = _bank(self._bank_row(conn, values.get("name", name)))
        self._changed()
        return bank

    def delete_bank(self, name: str, *, actor: str) -> None:
        with self.db.write() as conn:
            self.ledger.lock(conn)
            row = self._bank_row(conn, name)
            removed = self._feed_removals(conn, bank_signals.c.bank_id == row.id)
            conn.execute(delete(bank_signals).where(bank_signals.c.bank_id == row.id))
            conn.execute(delete(bank_keypoints).where(bank_keypoints.c.bank_id == row.id))
            conn.execute(delete(bank_content).where(bank_content.c.bank_id == row.id))
            conn.execute(delete(banks).where(banks.c.id == row.id))
            self.ledger.append(
                conn, "bank.deleted", {"bank": name, "signals_removed": removed}, actor=actor
            )
        self._changed()

    # -- content -----------------------------------------------------------------------

    def validate_input(self, item: ContentInput) -> ContentInput:
        """Normalise one item's signals and labels (raises InvalidInput/InvalidSignal)."""
        return self.validate_many([item])[0]

    def add_content(
        self,
        bank: str,
        item: ContentInput,
        *,
        source: str,
        actor: str,
        enabled: bool = True,
    ) -> Content:
        """Bank one item; returns it with its id."""
        ids = self.add_many(bank, [item], source=source, actor=actor, enabled=enabled)
        return self.get_content(bank, ids[0])

    def add_hashed(
        self,
        bank: str,
        hashed: Sequence[Hashed],
        *,
        labels: Mapping[str, Any] | None = None,
        note: str | None = None,
        metadata: dict[str, Any] | None = None,
        source: str,
        actor: str,
        keypoints: bytes | None = None,
    ) -> Content:
        """Bank content from the signals computed from its media (and the image's local
        features, kept beside it as a side signal that is never exported)."""
        item = ContentInput(
            signals={h.signal_type: h.value for h in hashed},
            qualities={h.signal_type: h.quality for h in hashed if h.quality is not None},
            labels=labels,
            note=note,
            metadata=metadata or {},
            keypoints=keypoints,
        )
        return self.add_content(bank, item, source=source, actor=actor)

    def validate_many(self, items: Iterable[ContentInput]) -> list[ContentInput]:
        """:meth:`validate_input` of many items, each signal type's values checked at once."""
        given = list(items)
        by_type: dict[str, list[str]] = {}
        for number, item in enumerate(given):
            if not item.signals:
                raise InvalidInput(f"item {number}: content needs at least one signal", item=number)
            for stype, value in item.signals.items():
                by_type.setdefault(stype, []).append(value)
        normal: dict[str, Iterator[str]] = {}
        for stype, values in by_type.items():
            try:
                normal[stype] = iter(self.registry.get(stype).validate_many(values))
            except InvalidSignal:
                numbers = [n for n, item in enumerate(given) if stype in item.signals]
                self._name_bad_item(stype, values, numbers)
                raise
        out: list[ContentInput] = []
        for item in given:
            signals = {stype: next(normal[stype]) for stype in item.signals}
            if signals == item.signals and item.keypoints is None and _plain(item):
                out.append(item)  # already in normal form, nothing else to check
                continue
            out.append(
                ContentInput(
                    signals=signals,
                    labels=validate_labels(item.labels) if item.labels else _NO_LABELS,
                    note=item.note,
                    external_id=item.external_id,
                    metadata=dict(item.metadata) if item.metadata else _NO_METADATA,
                    qualities=item.qualities,
                    keypoints=_checked_keypoints(item),
                )
            )
        return out

    def _name_bad_item(self, stype: str, values: Sequence[str], numbers: Sequence[int]) -> None:
        """Raise :class:`InvalidSignal` naming the first of ``values`` (of the items
        ``numbers``, counted from 0) that ``stype`` refuses; return if none is refused."""
        signal_type = self.registry.get(stype)
        for number, value in zip(numbers, values, strict=True):
            try:
                signal_type.validate(value)
            except InvalidSignal as exc:
                raise InvalidSignal(
                    f"item {number} (counting from 0): {exc.message}",
                    signal_type=stype,
                    item=number,
                ) from None

    def add_column(
        self,
        bank: str,
        signal_type: str,
        values: Sequence[str],
        *,
        external_ids: Sequence[str | None] | None = None,
        source: str,
        actor: str,
        enabled: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """Bank one item a value, every value of ``signal_type`` (the column form of an
        import; ``external_ids``, if given, one a value): the same rows and ledger event
        as :meth:`add_many` of those items, without an object an item. All values are
        validated before any is written; one bad value refuses the batch, naming it."""
        stype = self.registry.get(signal_type)
        try:
            normal = stype.validate_many(values)
        except InvalidSignal:
            self._name_bad_item(signal_type, values, range(len(values)))
            raise
        if external_ids is not None:
            if len(external_ids) != len(values):
                raise InvalidInput(
                    f"{len(external_ids)} external ids for {len(values)} values",
                    count=len(values),
                )
            if not set(map(type, external_ids)) <= {str, type(None)}:
                raise InvalidInput("external ids must be strings or null")
            if not any(e is not None for e in external_ids):
                external_ids = None
        if not normal:
            return []
        now = format_time(self.clock.now())
        content_ids: list[int] = []
        signal_ids: list[int] = []
        feed = signal_changes.c.seq
        with self.db.write() as conn:
            self.ledger.lock(conn)
            bank_row = self._bank_row(conn, bank)
            feed_before = conn.execute(select(func.max(feed))).scalar_one() or 0
            for start in range(0, len(normal), _CHUNK):
                end = min(start + _CHUNK, len(normal))
                part = external_ids[start:end] if external_ids is not None else None
                ids, sids = self._insert_column(
                    conn,
                    bank_row.id,
                    signal_type,
                    normal[start:end],
                    part,
                    now,
                    source,
                    actor,
                    enabled,
                )
                content_ids.extend(ids)
                signal_ids.extend(sids)
                if progress is not None:
                    progress(end - start)
            feed_after = conn.execute(select(func.max(feed))).scalar_one() or 0
            if len(normal) == 1:
                self._record_one(
                    conn, bank, content_ids[0], {signal_type: normal[0]}, {}, source, actor
                )
            else:
                self._record_import(
                    conn, bank, content_ids, _column_digest(signal_type, normal), source, actor
                )
        if enabled and feed_after - feed_before == len(normal):
            # the feed rows seq feed_before + 1 .. feed_after are exactly this import's
            imported = Imported(
                feed_before + 1, feed_after, signal_type, bank_row.id, signal_ids,
                content_ids, normal,
            )  # fmt: skip
            for listener in self._import_listeners:
                listener(imported)
        self._changed()
        return content_ids

    def add_many(
        self,
        bank: str,
        items: Iterable[ContentInput],
        *,
        source: str,
        actor: str,
        enabled: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """Bank many items in one transaction: all are validated before any is written.

        One ledger event records the batch: its size and the SHA-256 of its
        sorted ``type:value`` lines, which anyone holding the export can recompute.
        Items of one signal each, all of one type, with no more than an external id
        beside it, go by :meth:`add_column`.
        """
        given = items if isinstance(items, list) else list(items)
        column = _as_column(given)
        if column is not None:
            stype, values, external_ids = column
            return self.add_column(
                bank,
                stype,
                values,
                external_ids=external_ids,
                source=source,
                actor=actor,
                enabled=enabled,
                progress=progress,
            )
        validated = self.validate_many(given)
        if not validated:
            return []
        now = format_time(self.clock.now())
        content_ids: list[int] = []
        with self.db.write() as conn:
            self.ledger.lock(conn)
            bank_row = self._bank_row(conn, bank)
            for start in range(0, len(validated), _CHUNK):
                chunk = validated[start : start + _CHUNK]
                ids = self._insert_content(conn, bank_row.id, chunk, now, source, actor, enabled)
                content_ids.extend(ids)
                if progress is not None:
                    progress(len(chunk))
            if len(validated) == 1:
                one = validated[0]
                self._record_one(
                    conn, bank, content_ids[0], one.signals, one.labels or {}, source, actor
                )
            else:
                self._record_import(
                    conn, bank, content_ids, _batch_digest(validated), source, actor
                )
        self._changed()
        return content_ids

    def _record_one(
        self,
        conn: Connection,
        bank: str,
        content_id: int,
        signals: Mapping[str, str],
        labels: Mapping[str, Any],
        source: str,
        actor: str,
    ) -> None:
        self.ledger.append(
            conn,
            "bank.content_added",
            {
                "bank": bank,
                "content_id": content_id,
                "signals": signals,
                "labels": labels,
                "source": source,
            },
            actor=actor,
        )

    def _record_import(
        self,
        conn: Connection,
        bank: str,
        content_ids: Sequence[int],
        digest: str,
        source: str,
        actor: str,
    ) -> None:
        self.ledger.append(
            conn,
            "bank.imported",
            {
                "bank": bank,
                "count": len(content_ids),
                "first_content_id": content_ids[0],
                "last_content_id": content_ids[-1],
                "signals_sha256": digest,
                "source": source,
            },
            actor=actor,
        )

    def _insert_column(
        self,
        conn: Connection,
        bank_id: int,
        signal_type: str,
        values: Sequence[str],
        external_ids: Sequence[str | None] | None,
        now: str,
        source: str,
        actor: str,
        enabled: bool,
    ) -> tuple[Sequence[int], Sequence[int]]:
        """Insert the content, signal and feed rows of one value an item (returns the
        content ids and the signal ids). The ids are
        runs and the values one list: on SQLite each table takes the whole chunk in one
        statement (:func:`accord.store.bulk.insert_columns`)."""
        ids = self._reserve_ids(conn, bank_content.c.id, len(values))
        fixed: dict[str, Any] = {"bank_id": bank_id, "enabled": enabled, "source": source}
        fixed |= {"added_by": actor, "added_at": now, "note": None}
        fixed |= {"labels": _NO_LABELS, "meta": _NO_METADATA}
        columns: dict[str, Sequence[Any]] = {"id": ids}
        if external_ids is None:
            fixed["external_id"] = None
        else:
            columns["external_id"] = external_ids
        insert_columns(conn, bank_content, columns, fixed)
        signal_ids = self._reserve_ids(conn, bank_signals.c.id, len(values))
        insert_columns(
            conn,
            bank_signals,
            {"id": signal_ids, "content_id": ids, "value": values},
            {"bank_id": bank_id, "signal_type": signal_type, "quality": None},
        )
        if enabled:
            insert_columns(
                conn,
                signal_changes,
                {"signal_id": signal_ids, "content_id": ids, "value": values},
                {"op": "add", "signal_type": signal_type, "bank_id": bank_id},
            )
        return ids, signal_ids

    def _insert_content(
        self,
        conn: Connection,
        bank_id: int,
        chunk: Sequence[ContentInput],
        now: str,
        source: str,
        actor: str,
        enabled: bool,
    ) -> Sequence[int]:
        """Insert one chunk's content, signal and change-feed rows by the bulk path.

        Ids are reserved first (one statement) so that every row can be written
        with its id and the feed rows built here, without reading anything back."""
        ids = self._reserve_ids(conn, bank_content.c.id, len(chunk))
        fixed = {"bank_id": bank_id, "enabled": enabled, "source": source}
        fixed |= {"added_by": actor, "added_at": now}
        if all(_plain(item) for item in chunk):  # signals only: the rest is one value for all
            fixed |= {"labels": _NO_LABELS, "meta": _NO_METADATA, "note": None, "external_id": None}
            insert_columns(conn, bank_content, {"id": ids}, fixed)
        else:
            columns: dict[str, Sequence[Any]] = {
                "id": ids,
                "labels": [item.labels or _NO_LABELS for item in chunk],
                "note": [item.note for item in chunk],
                "external_id": [item.external_id for item in chunk],
                "meta": [item.metadata or _NO_METADATA for item in chunk],
            }
            insert_columns(conn, bank_content, columns, fixed)
        side = [
            {"content_id": cid, "bank_id": bank_id, "data": item.keypoints}
            for cid, item in zip(ids, chunk, strict=True)
            if item.keypoints is not None
        ]
        if side:  # before the feed rows, so that a matcher seeing them finds these
            conn.execute(insert(bank_keypoints), side)
        # one row a signal, columns flattened item by item in the same order
        content_ids = [cid for cid, item in zip(ids, chunk, strict=True) for _ in item.signals]
        types = [stype for item in chunk for stype in item.signals]
        values = [value for item in chunk for value in item.signals.values()]
        qualities = [
            item.qualities.get(stype) if item.qualities else None
            for item in chunk
            for stype in item.signals
        ]
        signal_ids = self._reserve_ids(conn, bank_signals.c.id, len(values))
        by_row: dict[str, Sequence[Any]] = {
            "content_id": content_ids,
            "signal_type": types,
            "value": values,
        }
        insert_columns(
            conn,
            bank_signals,
            {"id": signal_ids, **by_row, "quality": qualities},
            {"bank_id": bank_id},
        )
        if enabled:
            insert_columns(
                conn,
                signal_changes,
                {"signal_id": signal_ids, **by_row},
                {"op": "add", "bank_id": bank_id},
            )
        return ids

    def _reserve_ids(self, conn: Connection, column: Any, count: int) -> Sequence[int]:
        """``count`` new ids of an autoincrement primary key, in increasing order.

        SQLite: the next ones after the largest (the writer holds the database,
        BEGIN IMMEDIATE, so nobody else can take them), as a ``range``. PostgreSQL:
        drawn from the column's sequence in one statement."""
        if count == 0:
            return []
        if self.db.is_sqlite:
            first = (conn.execute(select(func.max(column))).scalar_one() or 0) + 1
            return range(first, first + count)
        drawn = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, :column)) "
                "FROM generate_series(1, :count)"
            ),
            {"table": column.table.name, "column": column.name, "count": count},
        ).scalars()
        return sorted(int(i) for i in drawn)

    def get_content(self, bank: str, content_id: int) -> Content:
        with self.db.read() as conn:
            bank_row = self._bank_row(conn, bank)
            row = self._content_row(conn, bank_row, content_id)
            sigs = conn.execute(
                select(bank_signals.c.signal_type, bank_signals.c.value).where(
                    bank_signals.c.content_id == content_id
                )
            ).all()
        return _content(row, bank, {s.signal_type: s.value for s in sigs})

    def iter_content(self, bank: str, *, batch: int = 10_000) -> Iterator[Content]:
        """Every content item of a bank, in id order (for exports)."""
        after = 0
        while True:
            with self.db.read() as conn:
                bank_row = self._bank_row(conn, bank)
                rows = conn.execute(
                    select(bank_content)
                    .where(bank_content.c.bank_id == bank_row.id, bank_content.c.id > after)
                    .order_by(bank_content.c.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                ids = [r.id for r in rows]
                sigs: dict[int, dict[str, str]] = {}
                for s in conn.execute(
                    select(
                        bank_signals.c.content_id, bank_signals.c.signal_type, bank_signals.c.value
                    ).where(bank_signals.c.content_id.in_(ids))
                ):
                    sigs.setdefault(s.content_id, {})[s.signal_type] = s.value
            for row in rows:
                yield _content(row, bank, sigs.get(row.id, {}))
            after = ids[-1]

    def find_external(self, bank: str, external_ids: Iterable[str]) -> dict[str, int]:
        """Content ids of a bank by their ``external_id`` (the id where they came from)."""
        wanted = list(set(external_ids))
        found: dict[str, int] = {}
        with self.db.read() as conn:
            bank_row = self._bank_row(conn, bank)
            for start in range(0, len(wanted), 500):
                for row in conn.execute(
                    select(bank_content.c.id, bank_content.c.external_id).where(
                        bank_content.c.bank_id == bank_row.id,
                        bank_content.c.external_id.in_(wanted[start : start + 500]),
                    )
                ):
                    found[row.external_id] = row.id
        return found

    def bank_feed(self, bank: str, since: int, *, limit: int = 10_000) -> list[Change]:
        """The change feed of one bank after ``since`` (what peers follow)."""
        with self.db.read() as conn:
            bank_row = self._bank_row(conn, bank)
            rows = conn.execute(
                select(signal_changes)
                .where(signal_changes.c.bank_id == bank_row.id, signal_changes.c.seq > since)
                .order_by(signal_changes.c.seq)
                .limit(limit)
            ).all()
        return [_change(r) for r in rows]

    def contents_by_id(self, bank: str, ids: Iterable[int]) -> dict[int, Content]:
        wanted = sorted(set(ids))
        out: dict[int, Content] = {}
        with self.db.read() as conn:
            bank_row = self._bank_row(conn, bank)
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                rows = conn.execute(
                    select(bank_content).where(
                        bank_content.c.bank_id == bank_row.id, bank_content.c.id.in_(part)
                    )
                ).all()
                sigs: dict[int, dict[str, str]] = {}
                for s in conn.execute(
                    select(
                        bank_signals.c.content_id, bank_signals.c.signal_type, bank_signals.c.value
                    ).where(bank_signals.c.content_id.in_(part))
                ):
                    sigs.setdefault(s.content_id, {})[s.signal_type] = s.value
                for row in rows:
                    out[row.id] = _content(row, bank, sigs.get(row.id, {}))
        return out

    def count_content(self, bank: str) -> int:
        with self.db.read() as conn:
            bank_row = self._bank_row(conn, bank)
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(bank_content)
                    .where(bank_content.c.bank_id == bank_row.id)
                ).scalar_one()
            )

    def set_content_enabled(
        self, bank: str, content_id: int, enabled: bool, *, actor: str
    ) -> Content:
        with self.db.write() as conn:
            self.ledger.lock(conn)
            bank_row = self._bank_row(conn, bank)
            row = self._content_row(conn, bank_row, content_id)
            if bool(row.enabled) != enabled:
                conn.execute(
                    update(bank_content)
                    .where(bank_content.c.id == content_id)
                    .values(enabled=enabled)
                )
                where = bank_signals.c.content_id == content_id
                if enabled:
                    self._feed_adds(conn, where)
                else:
                    self._feed_removals(conn, where)
                self.ledger.append(
                    conn,
                    "bank.content_updated",
                    {"bank": bank, "content_id": content_id, "enabled": enabled},
                    actor=actor,
                )
        self._changed()
        return self.get_content(bank, content_id)

    def update_labels(
        self, bank: str, content_id: int, labels: Mapping[str, Any], *, actor: str
    ) -> Content:
        cleaned = validate_labels(labels)
        with self.db.write() as conn:
            self.ledger.lock(conn)
            bank_row = self._bank_row(conn, bank)
            self._content_row(conn, bank_row, content_id)
            conn.execute(
                update(bank_content).where(bank_content.c.id == content_id).values(labels=cleaned)
            )
            self.ledger.append(
                conn,
                "bank.content_updated",
                {"bank": bank, "content_id": content_id, "labels": cleaned},
                actor=actor,
            )
        self._changed()
        return self.get_content(bank, content_id)

    def remove_content(self, bank: str, content_id: int, *, actor: str) -> None:
        with self.db.write() as conn:
            self.ledger.lock(conn)
            bank_row = self._bank_row(conn, bank)
            row = self._content_row(conn, bank_row, content_id)
            where = bank_signals.c.content_id == content_id
            if row.enabled:
                self._feed_removals(conn, where)
            conn.execute(delete(bank_signals).where(where))
            conn.execute(delete(bank_keypoints).where(bank_keypoints.c.content_id == content_id))
            conn.execute(delete(bank_content).where(bank_content.c.id == content_id))
            self.ledger.append(
                conn, "bank.content_removed", {"bank": bank, "content_id": content_id}, actor=actor
            )
        self._changed()

    # -- the change feed ---------------------------------------------------------------

    def changes_since(self, seq: int, *, limit: int = 100_000) -> list[Change]:
        """Feed rows with ``seq`` greater than the one given, in order."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(signal_changes)
                .where(signal_changes.c.seq > seq)
                .order_by(signal_changes.c.seq)
                .limit(limit)
            ).all()
        return [_change(r) for r in rows]

    # -- helpers -----------------------------------------------------------------------

    def _thresholds(self, thresholds: Mapping[str, float] | None) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, value in (thresholds or {}).items():
            self.registry.get(name)
            if not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"threshold for {name!r} must be a number >= 0", value=value)
            out[name] = float(value)
        return out

    @staticmethod
    def _bank_row(conn: Connection, name: str, *, missing_ok: bool = False) -> Row[Any]:
        row = conn.execute(select(banks).where(banks.c.name == name)).first()
        if row is None and not missing_ok:
            raise UnknownBank(f"no bank named {name!r}", bank=name)
        return row  # type: ignore[return-value]

    @staticmethod
    def _content_row(conn: Connection, bank_row: Row[Any], content_id: int) -> Row[Any]:
        row = conn.execute(
            select(bank_content).where(
                bank_content.c.id == content_id, bank_content.c.bank_id == bank_row.id
            )
        ).first()
        if row is None:
            raise NotFound(
                f"bank {bank_row.name!r} has no content with id {content_id}",
                bank=bank_row.name,
                content_id=content_id,
            )
        return row

    @staticmethod
    def _feed(conn: Connection, where: Any, op: str) -> int:
        """Append an ``op`` row to the change feed for every signal ``where`` selects."""
        result = conn.execute(
            insert(signal_changes).from_select(
                ["signal_id", "op", "signal_type", "value", "bank_id", "content_id"],
                select(
                    bank_signals.c.id,
                    _literal(op),
                    bank_signals.c.signal_type,
                    bank_signals.c.value,
                    bank_signals.c.bank_id,
                    bank_signals.c.content_id,
                )
                .where(where)
                .order_by(bank_signals.c.id),
            )
        )
        return int(result.rowcount or 0)

    @classmethod
    def _feed_removals(cls, conn: Connection, where: Any) -> int:
        return cls._feed(conn, where, "remove")

    @classmethod
    def _feed_adds(cls, conn: Connection, where: Any) -> int:
        return cls._feed(conn, where, "add")


def _checked_keypoints(item: ContentInput) -> bytes | None:
    """The item's packed keypoints, checked to unpack; only alongside a PDQ signal (a video's
    keyframes, ``VKP1``: a vPDQ signal), whose entries in the change feed they follow."""
    if item.keypoints is None:
        return None
    from accord.matching.keypoints import unpack
    from accord.matching.video_keypoints import is_video_features, unpack_video

    if is_video_features(item.keypoints):
        if "vpdq" not in item.signals:
            raise InvalidInput("video keypoints are banked only together with a vpdq signal")
        unpack_video(item.keypoints)
        return bytes(item.keypoints)
    if "pdq" not in item.signals:
        raise InvalidInput("keypoints are banked only together with a pdq signal")
    unpack(item.keypoints)
    return bytes(item.keypoints)


def _literal(value: str) -> Any:
    from sqlalchemy import String, literal

    return literal(value, String(8))


def _bank_kind(kind: BankKind | str) -> BankKind:
    try:
        return BankKind(kind)
    except ValueError:
        raise InvalidInput(f"bank kind must be positive or negative, not {kind!r}") from None


def _ratio(value: float) -> float:
    if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise InvalidInput(
            f"matching_enabled_ratio must be between 0 and 1, not {value!r}", value=value
        )
    return float(value)


def _plain(item: ContentInput) -> bool:
    """Whether the item is signals only (no labels, note, external id or metadata)."""
    return not (item.labels or item.metadata) and item.note is None and item.external_id is None


def _batch_digest(items: Sequence[ContentInput]) -> str:
    lines = sorted(f"{t}:{v}" for item in items for t, v in item.signals.items())
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def _column_digest(signal_type: str, values: Sequence[str]) -> str:
    """:func:`_batch_digest` of items of one ``signal_type`` value each: the lines share
    their prefix, so sorting the values sorts the lines."""
    prefix = f"{signal_type}:"
    text = prefix + ("\n" + prefix).join(sorted(values)) + "\n"
    return hashlib.sha256(text.encode()).hexdigest()


def _as_column(
    items: Sequence[ContentInput],
) -> tuple[str, list[str], list[str | None] | None] | None:
    """``(signal type, values, external ids or None)`` when every item has one signal, all
    of one type, and nothing else but perhaps an external id; None otherwise."""
    if not items or len(items[0].signals) != 1:
        return None
    (stype,) = items[0].signals
    values: list[str] = []
    external_ids: list[str | None] = []
    for item in items:
        signals = item.signals
        if (
            len(signals) != 1
            or stype not in signals
            or item.labels
            or item.metadata
            or item.note is not None
            or item.qualities
            or item.keypoints is not None
        ):
            return None
        values.append(signals[stype])
        external_ids.append(item.external_id)
    return stype, values, external_ids if any(e is not None for e in external_ids) else None


def _change(r: Row[Any]) -> Change:
    return Change(
        seq=r.seq,
        signal_id=r.signal_id,
        op=r.op,
        signal_type=r.signal_type,
        value=r.value,
        bank_id=r.bank_id,
        content_id=r.content_id,
    )


def _bank(row: Row[Any]) -> Bank:
    return Bank(
        id=row.id,
        name=row.name,
        kind=BankKind(row.kind),
        enabled=bool(row.enabled),
        matching_enabled_ratio=float(row.matching_enabled_ratio),
        description=row.description,
        thresholds=dict(row.thresholds or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _content(row: Row[Any], bank: str, signals: dict[str, str]) -> Content:
    labels: Labels = dict(row.labels or {})
    return Content(
        id=row.id,
        bank=bank,
        signals=signals,
        labels=labels,
        enabled=bool(row.enabled),
        source=row.source,
        added_by=row.added_by,
        added_at=row.added_at,
        note=row.note,
        external_id=row.external_id,
        metadata=dict(row.meta or {}),
    )
