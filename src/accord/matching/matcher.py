"""The matcher: in-memory indexes per signal type that follow bank changes.

Start-up loads every enabled banked signal from one database snapshot and
remembers the change feed's position in that snapshot. From then on a
background thread applies only the feed rows after that position, every
``poll_seconds``; changes made in this process are applied before the next
lookup (the bank service calls :meth:`Matcher.mark_dirty`). So a hash added
through any process is matchable in every process within one poll interval,
without rebuilding or shipping whole indexes.

A lookup asks the type's index for hits at the widest threshold in force, then
applies each bank's own threshold, its enabled flag and its coin flip, and
finally the negative banks: a positive match stands only if the query is
strictly closer to it than to any known-safe content.

Beside the signal indexes sits a :class:`KeypointIndex` of the local features of
items banked from their media (``bank_keypoints``). It has no feed of its own:
features are keyed by the item's PDQ signal id and follow that signal's adds
and removes, so enabling, disabling, removing and multi-process changes behave
exactly as for PDQ. :meth:`Matcher.lookup_keypoints` answers from it. The same rows
carry the item's bank-side views (rotate-crop hashes, format ``ORB3``), kept in a
:class:`BankViewIndex` that follows them the same way and that
:meth:`Matcher.lookup_bank_views` answers from.

Snapshots: loading 10M PDQ hashes from the database takes minutes, loading them from
a snapshot (plain ``.npy`` arrays, the id map and the feed position, under
``$ACCORD_HOME/index``) seconds, then only the feed after it is replayed. The
follower thread keeps the snapshot fresh by itself (:meth:`Matcher.snapshot_if_due`):
once the feed has moved on by ``snapshot_changes`` rows and a tenth of the index
since the snapshot on disk, and no large change has come for a few seconds (not in
the middle of a bulk load; a trickle of single changes does not hold it back), one
process, the one that takes the folder's lock, writes a
new one. The index is frozen under the matcher's lock in milliseconds and written
outside it, so lookups go on meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select

from accord.clock import format_time
from accord.errors import InvalidInput
from accord.matching import keypoints
from accord.matching.bank_view_index import BankViewIndex
from accord.matching.keypoint_index import KeypointIndex
from accord.matching.model import Bank, BankKind, Match, coin_flip
from accord.matching.pdq_index import PdqIndex
from accord.matching.robust import BANK_VIEW_THRESHOLD
from accord.matching.tables import (
    NOT_PDQ,
    bank_content,
    bank_keypoints,
    bank_signals,
    banks,
    signal_changes,
)
from accord.matching.video_keypoints import Keyframe, VideoKeypointIndex

if TYPE_CHECKING:
    from accord.matching.service import Imported
from accord.signals.base import IndexHit, SignalIndex, SignalType
from accord.signals.registry import SignalRegistry
from accord.signals.vpdq import VpdqIndex, VpdqSignal
from accord.store.bulk import fetch_tuples, paused_gc
from accord.store.engine import Database

__all__ = ["LookupResult", "Matcher", "TypeStatus"]

log = logging.getLogger(__name__)

_LOAD_BATCH = 200_000
_LABEL_TTL = 5.0
_LABEL_CACHE_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Matches of one query signal; ``suppressed_by`` lists negative-bank matches that won."""

    signal_type: str
    matches: list[Match]
    suppressed_by: list[Match] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TypeStatus:
    size: int
    built_to: int
    present: bool
    updated_at: str | None


_Ints = Sequence[int] | npt.NDArray[np.integer[Any]]


def _ints(values: _Ints, dtype: type[np.integer[Any]]) -> npt.NDArray[Any]:
    """``values`` (a list, or an array read from a snapshot) as a numpy array."""
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    return np.fromiter(values, dtype=dtype, count=len(values))


SNAPSHOT_QUIET_SECONDS = 5.0
"""A snapshot waits until no large change came for this long (not during a bulk load)..."""
SNAPSHOT_BUSY_ROWS = 1000
"""...where large is this many feed rows applied at once (a bulk request is 10,000)."""
SNAPSHOT_RETRY_SECONDS = 60.0
"""A process looks at whether a snapshot is due at most this often."""
SNAPSHOT_FRACTION = 0.1
"""...and writes one only once the feed has moved on by this fraction of the index."""


class _IdMap:
    """signal id -> (bank id, content id) in two growable int32 arrays (8 bytes a signal)."""

    def __init__(self) -> None:
        self.bank = np.zeros(1024, dtype=np.int32)
        self.content = np.zeros(1024, dtype=np.int32)

    def set(self, ids: _Ints, bank_ids: _Ints, content_ids: _Ints) -> None:
        if not len(ids):
            return
        at = _ints(ids, np.int64)
        top = int(at.max())
        if top >= len(self.bank):
            # a new array, never a change in place: a snapshot being written reads the old
            size = max(top + 1, len(self.bank) * 2)
            self.bank = np.resize(self.bank, size)
            self.content = np.resize(self.content, size)
        self.bank[at] = _ints(bank_ids, np.int32)
        self.content[at] = _ints(content_ids, np.int32)

    def get(self, signal_id: int) -> tuple[int, int]:
        return int(self.bank[signal_id]), int(self.content[signal_id])


class Matcher:
    """In-memory indexes over every enabled banked signal, kept current."""

    def __init__(
        self,
        db: Database,
        registry: SignalRegistry,
        *,
        poll_seconds: float = 0.5,
        snapshot_dir: Path | None = None,
        snapshot_changes: int = 0,
    ) -> None:
        self.db = db
        self.registry = registry
        self.poll_seconds = poll_seconds
        self.snapshot_dir = snapshot_dir
        self.snapshot_changes = snapshot_changes
        self._changed_at = time.monotonic()
        self._snapshot_looked_at = float("-inf")
        self._snapshot_busy = threading.Lock()
        self._lock = threading.RLock()
        self._indexes: dict[str, SignalIndex] = {}
        self._keypoints = KeypointIndex()
        self._bank_views = BankViewIndex()
        self._video_points = VideoKeypointIndex()
        self._ids = _IdMap()
        self._banks: dict[int, Bank] = {}
        self._last_seq = 0
        self._dirty = True
        self._loaded = False
        self._updated_at: str | None = None
        self._label_cache: dict[int, tuple[dict[str, list[str]], float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded

    def start(self) -> None:
        """Load the indexes (if not yet) and follow changes in a background thread."""
        self.ensure_loaded()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name="accord-matcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()

    def mark_dirty(self) -> None:
        """Something changed in this process: catch up before the next lookup."""
        self._dirty = True
        self._label_cache = {}

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.catch_up()
            except Exception:
                log.exception("matcher failed to follow bank changes; retrying")
                continue
            try:
                self.snapshot_if_due()
            except Exception:
                log.exception("matcher failed to write its snapshot; it will try again")

    def _new_index(self, signal_type: SignalType) -> SignalIndex:
        """The index a matcher keeps for one type: the multi-index PDQ index for PDQ (exact,
        and 10-30x faster than brute force at 1M-10M hashes), the type's own otherwise."""
        threshold = int(_configured_threshold(signal_type))
        if signal_type.name == "pdq":
            return PdqIndex(threshold)
        if isinstance(signal_type, VpdqSignal):  # its frames in the same kind of index
            return VpdqIndex(signal_type, threshold, frames=PdqIndex(threshold))
        return signal_type.new_index()

    def _load(self) -> None:
        indexes = {t.name: self._new_index(t) for t in self.registry}
        ids = _IdMap()
        snapshot = self._read_snapshot(indexes, ids)
        with self.db.snapshot() as conn:
            last = conn.execute(select(func.max(signal_changes.c.seq))).scalar_one() or 0
            if snapshot is not None and snapshot > last:
                log.warning(
                    "ignoring the matcher snapshot in %s: it is at feed position %d, "
                    "the database only at %d (another or a restored database)",
                    self.snapshot_dir,
                    snapshot,
                    last,
                )
                snapshot, ids = None, _IdMap()
                indexes["pdq"] = self._new_index(self.registry.get("pdq"))
            skip_pdq = snapshot is not None
            bank_rows = conn.execute(select(banks)).all()
            after = 0
            while True:
                query = (
                    select(
                        bank_signals.c.id,
                        bank_signals.c.signal_type,
                        bank_signals.c.value,
                        bank_signals.c.bank_id,
                        bank_signals.c.content_id,
                    )
                    .join(bank_content, bank_content.c.id == bank_signals.c.content_id)
                    .where(bank_content.c.enabled.is_(True), bank_signals.c.id > after)
                    .order_by(bank_signals.c.id)
                    .limit(_LOAD_BATCH)
                )
                if skip_pdq:  # the PDQ index came from the snapshot
                    query = query.where(NOT_PDQ)
                rows = fetch_tuples(conn, query)
                if not rows:
                    break
                self._apply_adds(indexes, ids, list(zip(*rows, strict=True)))
                after = rows[-1][0]
            points = KeypointIndex()
            bank_views = BankViewIndex()
            _load_keypoints(conn, points, None, views=bank_views)
            video_points = VideoKeypointIndex()
            _load_keypoints(conn, video_points, None, signal_type="vpdq")
        from accord.matching.service import _bank

        self._indexes = indexes
        self._keypoints = points
        self._bank_views = bank_views
        self._video_points = video_points
        self._ids = ids
        self._banks = {r.id: _bank(r) for r in bank_rows}
        # From a snapshot, replay the feed after it: adds replace, removes of absent
        # ids are no-ops, so the types loaded from the database come out the same.
        self._last_seq = int(snapshot) if snapshot is not None else int(last)
        self._dirty = snapshot is not None
        self._loaded = True
        self._updated_at = format_time_now()
        self._changed_at = time.monotonic()
        if snapshot is not None:
            self._catch_up_locked()

    # -- snapshots ---------------------------------------------------------------------

    def save_snapshot(self, *, wait: bool = True) -> int | None:
        """Write the PDQ index and its id map as plain arrays; returns the feed position.

        The index is frozen under the matcher's lock (milliseconds: the segments' arrays
        are shared, their tombstones copied) and written outside it, to a new folder
        renamed into place, so lookups and changes go on meanwhile and a reader sees the
        old snapshot or the new one, never half of one. One process writes at a time (a
        lock file beside the folder); with ``wait=False`` this returns None at once when
        another holds it.
        """
        if self.snapshot_dir is None:
            raise InvalidInput("this matcher has no snapshot folder")
        self.ensure_loaded()
        target = self.snapshot_dir
        target.parent.mkdir(parents=True, exist_ok=True)
        with _folder_lock(target.with_name(f".{target.name}.lock"), wait=wait) as held:
            if not held:
                return None
            with self._lock:
                self._catch_up_locked()
                index = self._indexes["pdq"]
                if not isinstance(index, PdqIndex):
                    raise InvalidInput("the PDQ index of this matcher cannot be snapshotted")
                frozen = index.frozen()
                bank_of, content_of = self._ids.bank, self._ids.content
                seq = self._last_seq
            present = frozen.ids()
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            frozen.save(tmp / "pdq")
            np.save(tmp / "bank.npy", bank_of[present], allow_pickle=False)
            np.save(tmp / "content.npy", content_of[present], allow_pickle=False)
            (tmp / "matcher.json").write_text(
                json.dumps(
                    {
                        "format": "accord-matcher-snapshot",
                        "version": 1,
                        "feed_seq": seq,
                        "size": int(present.size),
                    }
                )
            )
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
            return seq

    def snapshot_seq(self) -> int | None:
        """The feed position of the snapshot on disk (None: there is none)."""
        if self.snapshot_dir is None:
            return None
        try:
            header = json.loads((self.snapshot_dir / "matcher.json").read_text())
            return int(header["feed_seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def snapshot_due(self) -> bool:
        """Whether the feed has moved on from the snapshot on disk by ``snapshot_changes``
        rows and by a tenth of the PDQ index (0 ``snapshot_changes``: never)."""
        if not self.snapshot_changes or self.snapshot_dir is None or not self._loaded:
            return False
        index = self._indexes.get("pdq")
        size = len(index) if index is not None else 0
        moved = self._last_seq - (self.snapshot_seq() or 0)
        return moved >= max(self.snapshot_changes, SNAPSHOT_FRACTION * size)

    def snapshot_if_due(self) -> int | None:
        """Write a snapshot if one is due and no large change came for
        :data:`SNAPSHOT_QUIET_SECONDS` (the follower thread asks after each poll, at most
        every :data:`SNAPSHOT_RETRY_SECONDS`); returns its feed position, or None."""
        now = time.monotonic()
        if (
            not self.snapshot_changes
            or now - self._changed_at < SNAPSHOT_QUIET_SECONDS
            or now - self._snapshot_looked_at < SNAPSHOT_RETRY_SECONDS
            or not self._snapshot_busy.acquire(blocking=False)
        ):
            return None
        try:
            self._snapshot_looked_at = now
            if not self.snapshot_due():
                return None
            started = time.monotonic()
            seq = self.save_snapshot(wait=False)
            if seq is not None:
                log.info(
                    "matcher snapshot at feed position %d written in %.1f s",
                    seq,
                    time.monotonic() - started,
                )
            return seq
        finally:
            self._snapshot_busy.release()

    def _read_snapshot(self, indexes: dict[str, SignalIndex], ids: _IdMap) -> int | None:
        folder = self.snapshot_dir
        if folder is None or not (folder / "matcher.json").exists() or "pdq" not in indexes:
            return None
        try:
            header = json.loads((folder / "matcher.json").read_text())
            index = PdqIndex.load(folder / "pdq")
            present = index.ids()
            bank_ids = np.load(folder / "bank.npy", allow_pickle=False)
            content_ids = np.load(folder / "content.npy", allow_pickle=False)
            if bank_ids.shape != present.shape or content_ids.shape != present.shape:
                raise InvalidInput("id map and index disagree")
            seq = int(header["feed_seq"])
        except (OSError, ValueError, KeyError, InvalidInput) as exc:
            log.warning("ignoring the matcher snapshot in %s: %s", folder, exc)
            return None
        ids.set(present, bank_ids, content_ids)
        indexes["pdq"] = index
        return seq

    def _apply_adds(
        self, indexes: dict[str, SignalIndex], ids: _IdMap, columns: Sequence[Sequence[Any]]
    ) -> None:
        """Add rows given as columns ``(signal ids, types, values, bank ids, content ids,
        ...)`` to the indexes, a type at a time: a bulk import's 10,000 rows are added
        without Python work per row beyond grouping them by type."""
        sig_ids, types, values, bank_ids, content_ids = columns[:5]
        kinds = set(types)
        for stype in kinds:
            if stype not in indexes:
                continue  # a type this process does not know (a newer peer); skip it
            if len(kinds) == 1:
                ids.set(sig_ids, bank_ids, content_ids)
                indexes[stype].add(sig_ids, values)
                continue
            at = [i for i, t in enumerate(types) if t == stype]
            pick = [sig_ids[i] for i in at]
            ids.set(pick, [bank_ids[i] for i in at], [content_ids[i] for i in at])
            indexes[stype].add(pick, [values[i] for i in at])

    def apply_import(self, imported: Imported) -> bool:
        """Apply a column import made in this process from memory, if it is the very next
        thing in the feed (``imported.first_seq`` follows the last row applied); otherwise
        leave it to :meth:`catch_up`. Returns whether it was applied."""
        with self._lock:
            if (
                not self._loaded
                or self._last_seq != imported.first_seq - 1
                or imported.signal_type not in self._indexes
            ):
                return False
            with paused_gc():
                count = len(imported.values)
                columns = [
                    imported.signal_ids,
                    [imported.signal_type] * count,
                    imported.values,
                    [imported.bank_id] * count,
                    imported.content_ids,
                ]
                self._apply_adds(self._indexes, self._ids, columns)
                # no keypoints: a column import banks hashes only
            self._last_seq = imported.last_seq
            self._updated_at = self._changed(count)
            return True

    def catch_up(self) -> int:
        """Apply feed rows after the last one seen; returns how many were applied."""
        if not self._loaded:
            self.ensure_loaded()
            return 0
        with self._lock:
            return self._catch_up_locked()

    def _catch_up_locked(self) -> int:
        # A bulk import is tens of thousands of new tuples and strings at once, none of
        # them garbage: no cyclic collection meanwhile (they set off full ones, which
        # walk every object of the process).
        with paused_gc():
            return self._catch_up_unpaused()

    def _catch_up_unpaused(self) -> int:
        self._dirty = False
        feed = signal_changes.c
        with self.db.read() as conn:
            # the driver's tuples, transposed to columns in C (a bulk import is 10,000 rows)
            rows = fetch_tuples(
                conn,
                select(
                    feed.signal_id,
                    feed.signal_type,
                    feed.value,
                    feed.bank_id,
                    feed.content_id,
                    feed.op,
                    feed.seq,
                )
                .where(feed.seq > self._last_seq)
                .order_by(feed.seq),
            )
            bank_rows = conn.execute(select(banks)).all()
        from accord.matching.service import _bank

        self._banks = {r.id: _bank(r) for r in bank_rows}
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        ops = columns[5]
        start = 0  # rows[start:i] are adds not applied yet
        for i in [i for i, op in enumerate(ops) if op != "add"]:
            if start < i:
                self._apply_run(columns, start, i)
            start = i + 1
            signal_id, signal_type = int(columns[0][i]), columns[1][i]
            index = self._indexes.get(signal_type)
            if index is not None:
                index.remove([signal_id])
            if signal_type == "pdq":
                self._keypoints.remove([signal_id])
                self._bank_views.remove([signal_id])
            elif signal_type == "vpdq":
                self._video_points.remove([signal_id])
        if start < len(rows):
            self._apply_run(columns, start, len(rows))
        self._last_seq = int(rows[-1][6])
        self._updated_at = self._changed(len(rows))
        return len(rows)

    def _changed(self, rows: int) -> str:
        """Note that ``rows`` changes were applied now; the time to show as ``updated_at``.
        Only a large change (a bulk load's) restarts the wait for a still feed: a trickle
        of single changes must not keep a snapshot from ever being written."""
        if rows >= SNAPSHOT_BUSY_ROWS:
            self._changed_at = time.monotonic()
        return format_time_now()

    def _apply_run(self, columns: Sequence[Sequence[Any]], start: int, end: int) -> None:
        """Apply the adds ``start:end`` of the feed's columns, and their keypoints."""
        run = [c[start:end] for c in columns] if start or end < len(columns[0]) else columns
        self._apply_adds(self._indexes, self._ids, run)
        self._add_keypoints(run)

    def _add_keypoints(self, columns: Sequence[Sequence[Any]]) -> None:
        """The features of the items whose PDQ signals were just added, if they have any
        (``columns`` as for :meth:`_apply_adds`)."""
        sig_ids, types, _values, _banks, content_ids = columns[:5]
        kinds = set(types)
        by_content: dict[int, int] = {}
        videos: dict[int, int] = {}
        if kinds == {"pdq"}:  # a bulk import: the dict is made in C
            by_content = dict(zip(map(int, content_ids), map(int, sig_ids), strict=True))
        elif kinds & {"pdq", "vpdq"}:
            for i, t, c in zip(sig_ids, types, content_ids, strict=True):
                if t == "pdq":
                    by_content[int(c)] = int(i)
                elif t == "vpdq":
                    videos[int(c)] = int(i)
        if by_content or videos:
            with self.db.read() as conn:
                if by_content:
                    _load_keypoints(conn, self._keypoints, by_content, views=self._bank_views)
                if videos:  # a video's keyframes (VKP1) follow its vPDQ signal
                    _load_keypoints(conn, self._video_points, videos, signal_type="vpdq")

    # -- queries -----------------------------------------------------------------------

    @property
    def keypoint_count(self) -> int:
        """Banked items whose local features are indexed."""
        self.ensure_loaded()
        return len(self._keypoints)

    def lookup_keypoints(
        self,
        query: keypoints.Features,
        *,
        min_inliers: int,
        banks_filter: Iterable[str] | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
    ) -> LookupResult:
        """Banked images whose local features agree with ``query`` on at least ``min_inliers``
        keypoints, under the same bank rules as :meth:`lookup` (signal type ``keypoints``;
        the distance is ``1 - inliers / 100``, floored at 0, the inliers are in ``detail``)."""
        found = self._keypoint_hits(
            lambda: self._keypoints.query(query, min_inliers),
            lambda hit: (max(0.0, 1.0 - hit.inliers / 100), {"inliers": float(hit.inliers)}),
        )
        wanted = set(banks_filter) if banks_filter is not None else None
        flip_key = query.descriptors[:8].tobytes().hex()
        return self._result(
            "keypoints", found, wanted, flip_key, bypass_coinflip, with_labels=with_labels
        )

    @property
    def bank_view_count(self) -> int:
        """Banked items whose bank-side views (rotate-crops) are indexed (changes made in
        this process included)."""
        self._prepare("pdq", None)
        return len(self._bank_views)

    def lookup_bank_views(
        self,
        values: Sequence[str],
        *,
        banks_filter: Iterable[str] | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
    ) -> list[LookupResult]:
        """For each PDQ hash (the views of one upload), the banked items one of whose
        bank-side views is within :data:`~accord.matching.robust.BANK_VIEW_THRESHOLD`
        (and the bank's PDQ threshold), under the bank rules of :meth:`lookup`; reported
        as ``pdq`` matches, ``detail["rotation"]`` the angle of the banked view."""
        stype, wanted = self._prepare("pdq", banks_filter)
        with self._lock:
            bank_by_id = self._banks
            answers = self._bank_views.query_many(list(values), BANK_VIEW_THRESHOLD)
            founds = [self._found(hits, bank_by_id, stype, None) for hits in answers]
        return [
            self._result("pdq", found, wanted, value, bypass_coinflip, with_labels=with_labels)
            for found, value in zip(founds, values, strict=True)
        ]

    def _keypoint_hits(
        self,
        search: Callable[[], Sequence[Any]],
        score: Callable[[Any], tuple[float, dict[str, float]]],
    ) -> list[tuple[Bank, int, float, dict[str, float]]]:
        """Run a local-feature ``search`` outside the lock, keep the hits of enabled banks,
        each as ``(bank, content id, distance, detail)`` from ``score(hit)``."""
        self.ensure_loaded()
        if self._dirty:
            self.catch_up()
        with self._lock:
            bank_by_id = self._banks
        hits = search()
        found: list[tuple[Bank, int, float, dict[str, float]]] = []
        with self._lock:
            for hit in hits:
                bank_id, content_id = self._ids.get(hit.id)
                bank = bank_by_id.get(bank_id)
                if bank is None or not bank.enabled:
                    continue
                distance, detail = score(hit)
                found.append((bank, content_id, distance, detail))
        return found

    @property
    def video_keypoint_count(self) -> int:
        """Banked videos whose keyframes' local features are indexed."""
        self.ensure_loaded()
        return len(self._video_points)

    def lookup_video_keypoints(
        self,
        query: Sequence[Keyframe],
        *,
        min_inliers: int,
        banks_filter: Iterable[str] | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
    ) -> LookupResult:
        """Banked videos that the query's frames verify against by keypoints, in time order
        (:mod:`accord.matching.video_keypoints`), under the same bank rules as
        :meth:`lookup` (signal type ``keypoints``; the distance is ``100 -`` the larger of
        the chain's shares of the query and of the video, as vPDQ's; ``detail`` has the
        frames, the fewest inliers of a frame and both shares)."""

        def score(hit: Any) -> tuple[float, dict[str, float]]:
            detail = {
                "frames": float(hit.frames),
                "inliers": float(hit.inliers),
                "query_match_percent": hit.query_percent,
                "compared_match_percent": hit.bank_percent,
            }
            return 100.0 - max(hit.query_percent, hit.bank_percent), detail

        found = self._keypoint_hits(lambda: self._video_points.query(query, min_inliers), score)
        wanted = set(banks_filter) if banks_filter is not None else None
        flip_key = query[0].features.descriptors[:8].tobytes().hex() if query else ""
        return self._result(
            "keypoints", found, wanted, flip_key, bypass_coinflip, with_labels=with_labels
        )

    def lookup(
        self,
        signal_type: str,
        value: str,
        *,
        banks_filter: Iterable[str] | None = None,
        threshold: float | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
        frames: Sequence[Sequence[str]] | None = None,
    ) -> LookupResult:
        """Matches of one valid signal against every enabled bank (or the named ones).

        ``frames`` (vPDQ only): the query's frames as groups of PDQ hashes, for robust
        video matching (:func:`accord.matching.video.match_views`); ``value`` is then
        the plain vPDQ of the same video."""
        stype, wanted = self._prepare(signal_type, banks_filter)
        with self._lock:
            index = self._indexes[signal_type]
            bank_by_id = self._banks
            widest = threshold if threshold is not None else self._widest(stype.name, stype)
            if frames is not None and isinstance(index, VpdqIndex):
                hits = index.query_frames(frames, widest)
            else:
                hits = index.query(value, widest)
            found = self._found(hits, bank_by_id, stype, threshold)
        return self._result(
            signal_type, found, wanted, value, bypass_coinflip, with_labels=with_labels
        )

    def lookup_many(
        self,
        signal_type: str,
        values: Sequence[str],
        *,
        banks_filter: Iterable[str] | None = None,
        bypass_coinflip: bool = False,
        with_labels: bool = True,
    ) -> list[LookupResult]:
        """:meth:`lookup` of several valid values of one signal type (the PDQ views of one
        upload), asked of the index in one call where it answers many at once."""
        stype, wanted = self._prepare(signal_type, banks_filter)
        with self._lock:
            index = self._indexes[signal_type]
            bank_by_id = self._banks
            widest = self._widest(stype.name, stype)
            many = getattr(index, "query_many", None)
            answers = (
                many(list(values), widest) if many else [index.query(v, widest) for v in values]
            )
            founds = [self._found(hits, bank_by_id, stype, None) for hits in answers]
        return [
            self._result(
                signal_type, found, wanted, value, bypass_coinflip, with_labels=with_labels
            )
            for found, value in zip(founds, values, strict=True)
        ]

    def _prepare(
        self, signal_type: str, banks_filter: Iterable[str] | None
    ) -> tuple[SignalType, set[str] | None]:
        """Load or catch up before a lookup; the signal type and the wanted banks."""
        self.ensure_loaded()
        if self._dirty:
            self.catch_up()
        wanted = set(banks_filter) if banks_filter is not None else None
        return self.registry.get(signal_type), wanted

    def _found(
        self,
        hits: Iterable[IndexHit],
        bank_by_id: Mapping[int, Bank],
        stype: SignalType,
        threshold: float | None,
    ) -> list[tuple[Bank, int, float, dict[str, float]]]:
        """The hits in enabled banks within each bank's threshold (or ``threshold``)."""
        found: list[tuple[Bank, int, float, dict[str, float]]] = []
        for hit in hits:
            bank_id, content_id = self._ids.get(hit.id)
            bank = bank_by_id.get(bank_id)
            if bank is None or not bank.enabled:
                continue
            limit = (
                threshold
                if threshold is not None
                else bank.thresholds.get(stype.name, _configured_threshold(stype))
            )
            if hit.distance > limit:
                continue
            found.append((bank, content_id, hit.distance, hit.detail))
        return found

    def _result(
        self,
        signal_type: str,
        found: list[tuple[Bank, int, float, dict[str, float]]],
        wanted: set[str] | None,
        value: str,
        bypass_coinflip: bool,
        *,
        with_labels: bool,
    ) -> LookupResult:
        """Bank rules over the raw hits: wanted banks, coin flips, negative banks, labels."""
        negatives = [f for f in found if f[0].kind is BankKind.NEGATIVE]
        positives = [
            f
            for f in found
            if f[0].kind is BankKind.POSITIVE
            and (wanted is None or f[0].name in wanted)
            and (bypass_coinflip or coin_flip(f[0].name, value, f[0].matching_enabled_ratio))
        ]
        labels = self._labels([f[1] for f in found]) if with_labels and found else {}

        def as_match(f: tuple[Bank, int, float, dict[str, float]]) -> Match:
            bank, content_id, distance, detail = f
            return Match(
                bank=bank.name,
                content_id=content_id,
                signal_type=signal_type,
                distance=distance,
                labels=labels.get(content_id, {}),
                detail=detail,
            )

        # Nearest wins: a positive match stands only if the query is strictly closer to
        # it than to every known-safe item (the safe twin of a banked image does not
        # silence the banked image itself).
        nearest_safe = min((f[2] for f in negatives), default=float("inf"))
        kept = [f for f in positives if f[2] < nearest_safe]
        silenced = bool(negatives) and len(kept) < len(positives)
        ordered = sorted(kept, key=lambda f: (f[2], f[0].name, f[1]))
        return LookupResult(
            signal_type,
            [as_match(f) for f in ordered],
            suppressed_by=[as_match(f) for f in negatives] if silenced else [],
        )

    def _widest(self, name: str, stype: Any) -> float:
        widest = _configured_threshold(stype)
        for bank in self._banks.values():
            widest = max(widest, bank.thresholds.get(name, widest))
        return widest

    def _labels(self, content_ids: list[int]) -> dict[int, dict[str, list[str]]]:
        """Labels of matched content, cached for a few seconds (label edits in this process
        clear the cache at once; edits elsewhere show within ``_LABEL_TTL`` seconds)."""
        now = time.monotonic()
        out: dict[int, dict[str, list[str]]] = {}
        missing: list[int] = []
        for cid in set(content_ids):
            cached = self._label_cache.get(cid)
            if cached is not None and cached[1] > now:
                out[cid] = cached[0]
            else:
                missing.append(cid)
        if missing:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(bank_content.c.id, bank_content.c.labels).where(
                        bank_content.c.id.in_(missing)
                    )
                ).all()
            if len(self._label_cache) > _LABEL_CACHE_SIZE:
                self._label_cache.clear()
            for r in rows:
                labels = dict(r.labels or {})
                out[r.id] = labels
                self._label_cache[r.id] = (labels, now + _LABEL_TTL)
        return out

    def status(self, signal_type: str | None = None) -> dict[str, TypeStatus]:
        self.ensure_loaded()
        if self._dirty:
            self.catch_up()
        names = [signal_type] if signal_type else list(self._indexes)
        out: dict[str, TypeStatus] = {}
        for name in names:
            self.registry.get(name)
            index = self._indexes.get(name)
            out[name] = TypeStatus(
                size=len(index) if index is not None else 0,
                built_to=self._last_seq,
                present=index is not None,
                updated_at=self._updated_at,
            )
        return out

    def wait_for(self, seq: int, timeout: float = 10.0) -> bool:
        """Wait until the feed position ``seq`` is applied (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._last_seq >= seq:
                return True
            time.sleep(0.02)
        return self._last_seq >= seq


def _load_keypoints(
    conn: Any,
    points: KeypointIndex | VideoKeypointIndex,
    by_content: dict[int, int] | None,
    batch: int = 2_000,
    *,
    signal_type: str = "pdq",
    views: BankViewIndex | None = None,
) -> None:
    """Add stored features to ``points`` under their item's PDQ signal id: for the items of
    ``by_content`` (content id -> PDQ signal id), or for every enabled item when None.
    With ``signal_type="vpdq"``, videos' keyframes under their vPDQ signal id. With
    ``views``, the bank-side views packed with the features go there too."""

    def add(ids: list[int], blobs: list[bytes]) -> None:
        points.add(ids, blobs)
        if views is not None:
            views.add(ids, blobs)

    if by_content is not None:
        wanted = sorted(by_content)
        if wanted[-1] - wanted[0] < 2 * len(wanted):
            # the ids of a bulk import are consecutive: one range query (the items that
            # have features, usually none) instead of an IN list of 2,000 ids at a time
            rows = conn.execute(
                select(bank_keypoints.c.content_id, bank_keypoints.c.data).where(
                    bank_keypoints.c.content_id.between(wanted[0], wanted[-1])
                )
            ).all()
            rows = [r for r in rows if r.content_id in by_content]
            if rows:
                add([by_content[r.content_id] for r in rows], [bytes(r.data) for r in rows])
            return
        for start in range(0, len(wanted), batch):
            part = wanted[start : start + batch]
            rows = conn.execute(
                select(bank_keypoints.c.content_id, bank_keypoints.c.data).where(
                    bank_keypoints.c.content_id.in_(part)
                )
            ).all()
            if rows:
                add([by_content[r.content_id] for r in rows], [bytes(r.data) for r in rows])
        return
    after = 0
    while True:
        rows = conn.execute(
            select(bank_keypoints.c.content_id, bank_keypoints.c.data, bank_signals.c.id)
            .join(bank_content, bank_content.c.id == bank_keypoints.c.content_id)
            .join(
                bank_signals,
                (bank_signals.c.content_id == bank_keypoints.c.content_id)
                & (bank_signals.c.signal_type == signal_type),
            )
            .where(bank_content.c.enabled.is_(True), bank_keypoints.c.content_id > after)
            .order_by(bank_keypoints.c.content_id)
            .limit(batch)
        ).all()
        if not rows:
            return
        add([int(r.id) for r in rows], [bytes(r.data) for r in rows])
        after = int(rows[-1].content_id)


def _configured_threshold(signal_type: SignalType) -> float:
    """The type's threshold as configured (ACCORD_PDQ_THRESHOLD ...), else its default."""
    return float(getattr(signal_type, "threshold", signal_type.default_threshold))


def format_time_now() -> str:
    from datetime import UTC, datetime

    return format_time(datetime.now(UTC))


@contextlib.contextmanager
def _folder_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on ``path`` between processes (``flock``); yields whether it is
    held (always with ``wait``). The kernel lets it go if the process dies."""
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
