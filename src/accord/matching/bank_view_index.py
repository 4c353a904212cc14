"""The index of bank-side views: rotate-crop hashes of items banked from their media.

Why: a query turned by a few degrees and cropped upright (a "straightened" copy)
has lost its corners, so no view of the query undoes it; the banked image is
whole, so its own rotate-crops are hashed when it is banked
(:func:`accord.matching.robust.bank_rotations`: 18 angles, 1.5-5.5 degrees either
way) and packed with its keypoints (format ``ORB3``,
:func:`accord.matching.keypoints.unpack_rotations`). Like the keypoints they are a
local side signal: never exported, and following the item's PDQ signal in the
change feed.

Data flow: the matcher adds the packed blobs of items banked from their media under
their PDQ signal id ``s``; each of an item's views goes into one :class:`PdqIndex`
under the id ``s * SLOTS + k`` (its ``k``-th angle). A lookup asks it with every
view of the query (the plain PDQ, orientations, trim, frame) and reports each
item once per query view, at its nearest angle, as an :class:`IndexHit` under the
item's signal id with ``detail["rotation"]`` the angle. Blobs without views
(``ORB1``, ``ORB2``: items banked before them) add nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from accord.matching import keypoints
from accord.matching.pdq_index import PdqIndex
from accord.matching.robust import BANK_VIEW_THRESHOLD
from accord.signals.base import IndexHit

__all__ = ["SLOTS", "BankViewIndex"]

SLOTS = 64
"""Views an item may have: its signal id times this, plus the view's number, is the
id of the view in the index."""


class BankViewIndex:
    """Bank-side views by the PDQ signal id of their item. Not thread-safe: the matcher
    adds, removes and queries under its own lock."""

    def __init__(self, threshold: int = BANK_VIEW_THRESHOLD) -> None:
        self._index = PdqIndex(threshold)
        self._angles: dict[int, tuple[float, ...]] = {}

    def __len__(self) -> int:
        """Items that have views."""
        return len(self._angles)

    @property
    def views(self) -> int:
        """Views held (every item's angles)."""
        return len(self._index)

    def add(self, ids: Sequence[int], blobs: Sequence[bytes]) -> None:
        """Add (or replace) the views packed in each item's keypoint blob; an item whose
        blob holds none (an older format, a video's keyframes) is left out."""
        if len(ids) != len(blobs):
            raise ValueError("ids and blobs differ in length")
        self.remove(int(i) for i in ids)
        rows: list[int] = []
        values: list[str] = []
        for ident, blob in zip(ids, blobs, strict=True):
            views = keypoints.unpack_rotations(blob)[:SLOTS]
            if not views:
                continue
            self._angles[int(ident)] = tuple(angle for angle, _ in views)
            rows.extend(int(ident) * SLOTS + k for k in range(len(views)))
            values.extend(value for _, value in views)
        if rows:
            self._index.add(rows, values)

    def remove(self, ids: Iterable[int]) -> None:
        """Drop the views of these items (unknown ids are ignored)."""
        gone = [i for i in ids if self._angles.pop(int(i), None) is not None]
        if gone:
            base = np.asarray(gone, dtype=np.int64)[:, None] * SLOTS
            self._index.remove_arrays((base + np.arange(SLOTS, dtype=np.int64)).ravel())

    def query_many(self, values: Sequence[str], threshold: int) -> list[list[IndexHit]]:
        """For each query hash, the items with a view within ``threshold``: one hit per
        item (its nearest view), under the item's id, ``detail["rotation"]`` its angle."""
        if not values or not self._angles:
            return [[] for _ in values]
        out: list[list[IndexHit]] = []
        for hits in self._index.query_many(list(values), threshold):
            nearest: dict[int, IndexHit] = {}
            for hit in hits:  # sorted by distance: the first of an item is its nearest
                item, slot = divmod(int(hit.id), SLOTS)
                if item not in nearest:
                    angle = self._angles[item][slot]
                    nearest[item] = IndexHit(item, hit.distance, {"rotation": angle})
            out.append(list(nearest.values()))
        return out
