"""The index of banked images' local features: candidates by descriptor votes, then RANSAC.

Data flow: the matcher adds the packed features of every enabled item banked
from its media, under the id of that item's PDQ signal (so the item's PDQ
entries in the change feed carry its features too). A query's features go
through two steps:

1. **Retrieval.** Every banked descriptor sits in one faiss binary index: an
   exhaustive one up to :data:`FLAT_MAX` descriptors, beyond that an inverted
   file (``IndexBinaryIVF``, about 2 sqrt(n) lists, :data:`NPROBE` probed; trained
   on the descriptors present and retrained when they have grown fourfold).
   Each query descriptor votes for the image that owns its nearest banked
   descriptor when that one is within :data:`VOTE_DISTANCE` bits. The
   :data:`CANDIDATES` images with the most votes (at least
   :data:`MIN_VOTES`) go on. An image banked with its mirror side has both
   sides' descriptors in the index; they vote for the same image, and the side
   with more of its votes is the one verified.
2. **Verification.** :func:`accord.matching.keypoints.verify` fits one similarity
   transform between the query and each candidate's side; a candidate matches
   with at least ``min_inliers`` agreeing keypoints.

With at most :data:`VERIFY_ALL_BELOW` images the retrieval step is skipped and
every image is verified, so small indexes answer exactly what the reference
(verify against each) answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from accord.matching import keypoints

__all__ = ["KeypointHit", "KeypointIndex"]

VOTE_DISTANCE = 64
CANDIDATES = 4
MIN_VOTES = 3
VERIFY_ALL_BELOW = 4
FLAT_MAX = 4_096
NPROBE = 8


@dataclass(frozen=True, slots=True)
class KeypointHit:
    """A banked image (by the caller's id) and how many keypoints agree with the query."""

    id: int
    inliers: int


class KeypointIndex:
    """Banked images' features by id; thread-safe for one writer and many readers."""

    def __init__(self) -> None:
        import faiss

        self._lock = threading.Lock()
        self._features: dict[int, keypoints.Features] = {}
        self._rows: dict[int, npt.NDArray[np.int64]] = {}
        self._index: Any = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(256))
        self._quantizer: Any = None
        self._trained_at = 0  # descriptors when the inverted file was trained (0: flat)
        self._owner = np.zeros(1024, dtype=np.int64)
        self._side = np.zeros(1024, dtype=np.int8)  # 1: the row is of the mirror side
        self._next_row = 0

    def __len__(self) -> int:
        return len(self._features)

    def add(self, ids: Sequence[int], blobs: Sequence[bytes]) -> None:
        """Add (or replace) images from their packed features (:func:`keypoints.pack`)."""
        if len(ids) != len(blobs):
            raise ValueError("ids and blobs differ in length")
        unpacked = [(int(i), keypoints.unpack(b)) for i, b in zip(ids, blobs, strict=True)]
        with self._lock:
            self._remove_locked([i for i, _ in unpacked if i in self._features])
            for ident, features in unpacked:
                self._features[ident] = features
                mirror = features.mirror
                n, m = len(features), len(mirror) if mirror is not None else 0
                rows = np.arange(self._next_row, self._next_row + n + m, dtype=np.int64)
                self._next_row += n + m
                if self._next_row > len(self._owner):
                    size = max(self._next_row, 2 * len(self._owner))
                    self._owner = np.resize(self._owner, size)
                    self._side = np.resize(self._side, size)
                self._owner[rows] = ident
                self._side[rows[:n]] = 0
                self._side[rows[n:]] = 1
                self._rows[ident] = rows
                if n + m:
                    self._index.add_with_ids(_descriptors(features), rows)
            total = int(self._index.ntotal)
            if total > FLAT_MAX and total > 4 * self._trained_at:
                self._rebuild_locked()

    def _rebuild_locked(self) -> None:
        """Move every descriptor into an inverted file trained on them."""
        import faiss

        ids = list(self._features)
        data = np.concatenate([_descriptors(self._features[i]) for i in ids])
        rows = np.concatenate([self._rows[i] for i in ids])
        lists = int(min(65_536, max(64, 2 * np.sqrt(len(data)))))
        quantizer = faiss.IndexBinaryFlat(256)
        index = faiss.IndexBinaryIVF(quantizer, 256, lists)
        index.nprobe = NPROBE
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 8
        # 16 descriptors per list train it well enough for voting, in a second or two.
        sample = np.random.default_rng(0).permutation(len(data))[: 16 * lists]
        index.train(np.ascontiguousarray(data[np.sort(sample)]))
        index.add_with_ids(data, rows)
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive
        self._index = index
        self._trained_at = len(data)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove images; unknown ids are ignored."""
        with self._lock:
            self._remove_locked([int(i) for i in ids])

    def _remove_locked(self, ids: list[int]) -> None:
        gone = [i for i in ids if i in self._features]
        if not gone:
            return
        rows = np.concatenate([self._rows.pop(i) for i in gone])
        for i in gone:
            del self._features[i]
        if rows.size:
            self._index.remove_ids(rows)

    def candidates(self, query: keypoints.Features) -> list[tuple[int, bool]]:
        """(id, mirror side?) of the banked images worth verifying against ``query``.

        Votes are counted per image, both sides together; the side verified is
        the one with more of them (a mirrored query's descriptors meet the
        banked mirror side). Below :data:`VERIFY_ALL_BELOW` images, every side
        of every image is returned.
        """
        with self._lock:
            if len(self._features) <= VERIFY_ALL_BELOW:
                return [
                    (i, side)
                    for i in sorted(self._features)
                    for side in (False, True)
                    if not side or self._features[i].mirror is not None
                ]
            if len(query) == 0 or self._index.ntotal == 0:
                return []
            distances, labels = self._index.search(query.descriptors, 1)
            near = labels[:, 0][(distances[:, 0] <= VOTE_DISTANCE) & (labels[:, 0] >= 0)]
            owners = self._owner[near]
            sides = self._side[near]
        if owners.size == 0:
            return []
        ident, where, votes = np.unique(owners, return_inverse=True, return_counts=True)
        mirrored = np.bincount(where, weights=sides, minlength=len(ident))
        order = np.argsort(-votes, kind="stable")[:CANDIDATES]
        keep = [k for k in order if votes[k] >= MIN_VOTES]
        return [(int(ident[k]), bool(2 * mirrored[k] > votes[k])) for k in keep]

    def query(self, query: keypoints.Features, min_inliers: int) -> list[KeypointHit]:
        """Banked images with at least ``min_inliers`` keypoints agreeing, best first."""
        best: dict[int, int] = {}
        for ident, side in self.candidates(query):
            with self._lock:
                banked = self._features.get(ident)
            if banked is None:
                continue
            target = banked.mirror if side else banked
            if target is None:
                continue
            inliers = keypoints.verify(query, target, min_inliers)
            if inliers >= min_inliers and inliers > best.get(ident, -1):
                best[ident] = inliers
        hits = [KeypointHit(i, n) for i, n in best.items()]
        hits.sort(key=lambda h: (-h.inliers, h.id))
        return hits


def _descriptors(features: keypoints.Features) -> npt.NDArray[np.uint8]:
    """Both sides' descriptors, in row order: the image's, then its mirror's."""
    if features.mirror is None:
        return features.descriptors
    return np.concatenate([features.descriptors, features.mirror.descriptors])
