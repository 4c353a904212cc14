"""A follower loads the local features of just-added items: by a range of content ids
when they are consecutive (a bulk import), by lists of ids otherwise; either way only
the items it was given."""

from __future__ import annotations

import numpy as np

from accord.matching import keypoints
from accord.matching.keypoint_index import KeypointIndex
from accord.matching.matcher import _load_keypoints
from accord.matching.service import ContentInput
from tests.matching.test_keypoints import textured


def _bank_with_features(accord, count: int) -> list[int]:
    accord.banks.create_bank("TVEC", actor="t")
    ids = []
    for i in range(count):
        data = keypoints.pack(keypoints.extract(np.asarray(textured(700 + i))))
        pdq = f"{i + 1:02x}" * 32
        item = ContentInput(signals={"pdq": pdq}, keypoints=data)
        ids.append(accord.banks.add_content("TVEC", item, source="s", actor="t").id)
    return ids


def test_consecutive_ids_load_only_the_given_items(accord) -> None:
    ids = _bank_with_features(accord, 3)
    points = KeypointIndex()
    with accord.db.read() as conn:
        # the middle item lies in the range but was not asked for
        _load_keypoints(conn, points, {ids[0]: 101, ids[2]: 103})
    assert len(points) == 2


def test_scattered_ids_load_by_list(accord) -> None:
    ids = _bank_with_features(accord, 2)
    points = KeypointIndex()
    with accord.db.read() as conn:
        _load_keypoints(conn, points, {ids[0]: 101, ids[1] + 1000: 999})
    assert len(points) == 1
    with accord.db.read() as conn:
        _load_keypoints(conn, KeypointIndex(), {ids[1] + 500: 1, ids[1] + 9000: 2})


def test_followed_bulk_import_without_features(accord) -> None:
    accord.banks.create_bank("BULK", actor="t")
    rng = np.random.default_rng(5)
    items = [
        ContentInput(signals={"pdq": bytes(r).hex()})
        for r in rng.integers(0, 256, (500, 32), dtype=np.uint8)
    ]
    accord.banks.add_many("BULK", items, source="s", actor="t")
    accord.matcher.catch_up()
    assert accord.matcher.keypoint_count == 0
    assert accord.matcher.status("pdq")["pdq"].size == 500
