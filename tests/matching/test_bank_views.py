"""Bank-side views: a rotate-crop (turned a few degrees, cropped upright) of an image
banked from its media is matched through the rotate-crops hashed from the banked image
itself, even where keypoints fail (a smooth picture: bokeh, gradients); unrelated images
are not; the hashes ride on the item's keypoint row and are never exported.

The smooth pictures are generated (blurred discs over a gradient): ORB finds a few dozen
corners on them, which do not repeat after a rotation and a crop, as on the benchmark's
bokeh and gradient tiles (docs/robustness.md, "Bank-side views").
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import select

from accord.errors import InvalidSignal
from accord.matching import keypoints, robust, transforms
from accord.matching.bank_view_index import SLOTS, BankViewIndex
from accord.matching.tables import bank_keypoints
from tests.matching.exported import exported_texts
from tests.matching.waiting import photo_follower, within

BANKED, UNRELATED = 1, 9


def bokeh(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A smooth picture: a colour gradient and blurred dark or bright discs, from ``seed``."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    base = np.stack(
        [
            rng.uniform(40, 200) + rng.uniform(-80, 80) * xx + rng.uniform(-80, 80) * yy
            for _ in range(3)
        ],
        axis=-1,
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        r = int(rng.integers(30, 90))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        draw.ellipse(
            (x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.choice([10, 245], 3))
        )
    return img.filter(ImageFilter.GaussianBlur(14))


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def rotate_cropped(image: Image.Image, seed: int) -> tuple[bytes, float]:
    """A rotate-crop of ``image`` (the benchmark's transform) as JPEG, and its angle."""
    out, description = transforms.rotate_crop(image, np.random.default_rng([seed, 5]))
    return jpeg_bytes(out), float(description.split()[1])


def _bank_from_media(accord, data: bytes, *, views: bool = True) -> int:
    hashed, points = accord.lookups.hash_to_bank("photo", data)
    assert points is not None
    if not views:  # as banked before the bank-side views: keypoints and mirror side only
        points = keypoints.pack(keypoints.unpack(points))
    return int(accord.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points).id)


# -- the bank-side function and the stored format ----------------------------------------


def test_bank_rotations_hash_the_grid_of_rotate_crops() -> None:
    image = bokeh(BANKED)
    views = robust.bank_rotations(image)
    assert [a for a, _ in views] == list(robust.BANK_ROTATIONS)
    assert len(views) == 18
    assert min(abs(a) for a, _ in views) == 1.5
    assert max(abs(a) for a, _ in views) == 5.5
    assert all(len(h) == 64 for _, h in views)
    # the crop is the transform's "largest upright rectangle"
    turned, _ = transforms.rotate_crop(image, np.random.default_rng(3))
    left, top, right, bottom = robust.rotate_crop_box(*image.size, 3.0)
    assert abs((right - left) / (bottom - top) - image.width / image.height) < 1e-9
    assert abs(turned.width / turned.height - image.width / image.height) < 0.02
    assert robust.bank_view_name(3.5) == "bank:rot+3.5"
    assert robust.bank_view_name(-2.0) == "bank:rot-2"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rotate_crop_lands_near_its_angle_and_far_from_the_plain_hash(seed: int) -> None:
    image = Image.open(io.BytesIO(jpeg_bytes(bokeh(BANKED)))).convert("RGB")
    views = robust.bank_rotations(image)
    data, angle = rotate_cropped(image, seed)
    query = robust.robust_views(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    banked_plain = robust.robust_views(np.asarray(image))[0].pdq_hex
    plain = robust.best_match(query, robust.hex_to_bits(banked_plain)[None])
    assert plain is not None
    assert plain.distance > 40  # no query view comes near the banked hash
    bank = np.stack([robust.hex_to_bits(h) for _, h in views])
    hit = robust.best_match(query, bank)
    assert hit is not None
    assert hit.distance <= robust.BANK_VIEW_THRESHOLD
    assert abs(views[hit.row][0] - angle) <= 0.75


def test_orb3_round_trips_and_older_formats_have_no_rotations() -> None:
    image = bokeh(BANKED)
    features = keypoints.extract(np.asarray(image), mirror=True)
    rotations = robust.bank_rotations(image)
    blob = keypoints.pack(features, rotations=rotations)
    assert blob[:4] == b"ORB3"
    assert len(blob) == len(keypoints.pack(features)) + 2 + 34 * 18
    back = keypoints.unpack(blob)
    assert np.array_equal(back.descriptors, features.descriptors)
    assert back.mirror is not None
    assert features.mirror is not None
    assert np.array_equal(back.mirror.descriptors, features.mirror.descriptors)
    assert keypoints.unpack_rotations(blob) == rotations
    assert keypoints.unpack_rotations(keypoints.pack(features)) == []  # ORB2
    one_side = keypoints.extract(np.asarray(image))
    assert keypoints.unpack_rotations(keypoints.pack(one_side)) == []  # ORB1
    alone = keypoints.pack(one_side, rotations=rotations[:2])  # no mirror side: count 0
    assert keypoints.unpack(alone).mirror is None
    assert keypoints.unpack_rotations(alone) == rotations[:2]
    for bad in (blob[:-1], blob + b"\0", blob[: len(blob) - 34 * 18 - 1]):
        with pytest.raises(InvalidSignal):
            keypoints.unpack(bad)
        with pytest.raises(InvalidSignal):
            keypoints.unpack_rotations(bad)


def test_bank_view_index_adds_replaces_and_removes() -> None:
    images = [bokeh(s) for s in (BANKED, UNRELATED, 4)]
    blobs = [
        keypoints.pack(keypoints.extract(np.asarray(im)), rotations=robust.bank_rotations(im))
        for im in images
    ]
    index = BankViewIndex()
    index.add([10, 11, 12], blobs)
    assert len(index) == 3
    assert index.views == 54
    data, angle = rotate_cropped(images[0], 2)
    query = [v.pdq_hex for v in robust.robust_views(np.asarray(Image.open(io.BytesIO(data))))]
    answers = index.query_many(query, robust.BANK_VIEW_THRESHOLD)
    assert {h.id for hits in answers for h in hits} == {10}
    best = min((h for hits in answers for h in hits), key=lambda h: h.distance)
    assert abs(best.detail["rotation"] - angle) <= 0.75
    # replaced by a blob without views (an older format): none left for the item
    index.add([10], [keypoints.pack(keypoints.extract(np.asarray(images[0])))])
    assert len(index) == 2
    assert index.views == 36
    assert all(hits == [] for hits in index.query_many(query, robust.BANK_VIEW_THRESHOLD))
    index.remove([11, 12, 99])
    assert len(index) == 0
    assert index.views == 0
    assert index.query_many(query, 31) == [[] for _ in query]
    assert len(robust.BANK_ROTATIONS) <= SLOTS


# -- through the service ------------------------------------------------------------------


def test_a_smooth_rotate_crop_missed_by_keypoints_is_matched_by_bank_views(accord) -> None:
    """Banked as before (keypoints only) the rotate-crop of a smooth picture is missed; with
    the bank-side views it is matched as a PDQ match that names the banked angle."""
    accord.banks.create_bank("TVEC", actor="t")
    original = jpeg_bytes(bokeh(BANKED))
    query, angle = rotate_cropped(Image.open(io.BytesIO(original)).convert("RGB"), 1)

    before = _bank_from_media(accord, original, views=False)
    outcome = accord.lookups.match_content("photo", query)
    assert not outcome.matched
    assert outcome.results["keypoints"].matches == []  # too few corners
    assert accord.matcher.bank_view_count == 0
    accord.banks.remove_content("TVEC", before, actor="t")

    content_id = _bank_from_media(accord, original)
    assert accord.matcher.bank_view_count == 1
    outcome = accord.lookups.match_content("photo", query)
    [match] = outcome.results["pdq"].matches
    assert match.content_id == content_id
    assert match.bank == "TVEC"
    assert match.distance <= robust.BANK_VIEW_THRESHOLD
    assert abs(match.detail["rotation"] - angle) <= 0.75
    assert match.detail["view"] == 0.0  # the query's plain PDQ met the banked view
    assert "keypoints" not in outcome.results  # found before the keypoint step

    # an exact copy still matches by its plain hash, with no rotation
    [same] = accord.lookups.match_content("photo", original).results["pdq"].matches
    assert same.content_id == content_id
    assert "rotation" not in same.detail

    # an unrelated smooth picture's rotate-crop matches nothing
    other_image = Image.open(io.BytesIO(jpeg_bytes(bokeh(UNRELATED)))).convert("RGB")
    other, _ = rotate_cropped(other_image, 1)
    assert not accord.lookups.match_content("photo", other).matched

    # disabled, then removed: no longer matched
    accord.banks.set_content_enabled("TVEC", content_id, False, actor="t")
    assert not accord.lookups.match_content("photo", query).matched
    accord.banks.set_content_enabled("TVEC", content_id, True, actor="t")
    assert accord.lookups.match_content("photo", query).matched
    accord.banks.remove_content("TVEC", content_id, actor="t")
    assert not accord.lookups.match_content("photo", query).matched
    assert accord.matcher.bank_view_count == 0


def test_bank_views_are_never_exported(client, headers, accord) -> None:
    """Banked by upload through /v1 and HMA: the rotate-crop hashes are in the item's
    bank_keypoints row only; no content route, export, exchange feed or ledger event
    carries any of them."""
    admin = headers["admin"]
    assert client.post("/v1/banks", json={"name": "TVEC"}, headers=admin).is_success
    ids = []
    for route, seed in (("/v1/banks/TVEC/media", BANKED), ("/c/bank/TVEC/content", UNRELATED)):
        upload = {"photo": ("a.jpg", jpeg_bytes(bokeh(seed)), "image/jpeg")}
        response = client.post(route, files=upload, headers=admin)
        assert response.is_success, response.text
        ids.append(response.json()["id"])
    assert accord.matcher.bank_view_count == 2
    with accord.db.read() as conn:
        blobs = [bytes(r.data) for r in conn.execute(select(bank_keypoints.c.data)).all()]
    hexes = [h for blob in blobs for _, h in keypoints.unpack_rotations(blob)]
    assert len(hexes) == 36

    texts = exported_texts(accord, client, admin, ids)
    for text in texts:
        assert "ORB3" not in text
        assert "T1JCM" not in text
        for value in hexes:
            assert value not in text


@pytest.mark.slow
def test_second_process_follows_bank_view_adds_and_removes(store, tmp_path) -> None:
    """The views ride on the item's keypoint row, so on its PDQ signal's feed rows: another
    process matches a rotate-crop within 5 s of the item being banked from its media, and
    stops within 5 s of its removal (SQLite and PostgreSQL)."""
    store.banks.create_bank("TVEC", actor="t")
    original = jpeg_bytes(bokeh(BANKED))
    data, _ = rotate_cropped(Image.open(io.BytesIO(original)).convert("RGB"), 1)
    query = tmp_path / "turned.jpg"
    query.write_bytes(data)
    with photo_follower(store, query, "pdq", detail="rotation") as ask:
        assert ask() == []
        hashed, points = store.lookups.hash_to_bank("photo", original)
        assert points is not None
        assert points[:4] == b"ORB3"
        content = store.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points)
        within(5, ask, [content.id], "not matchable in the other process within 5 s")
        store.banks.remove_content("TVEC", content.id, actor="t")
        within(5, ask, [], "still matched 5 s after removal")


def test_bank_views_follow_bank_rules(accord) -> None:
    """A bank's own lower PDQ threshold holds for its bank-side views, and the same
    picture banked as known-safe (a negative bank) silences the positive match."""
    original = jpeg_bytes(bokeh(BANKED))
    query, _ = rotate_cropped(Image.open(io.BytesIO(original)).convert("RGB"), 1)
    accord.banks.create_bank("STRICT", thresholds={"pdq": 2}, actor="t")
    hashed, points = accord.lookups.hash_to_bank("photo", original)
    accord.banks.add_hashed("STRICT", hashed, source="s", actor="t", keypoints=points)
    assert not accord.lookups.match_content("photo", query).matched

    accord.banks.create_bank("TVEC", actor="t")
    content_id = _bank_from_media(accord, original)
    [match] = accord.lookups.match_content("photo", query).results["pdq"].matches
    assert match.content_id == content_id

    accord.banks.create_bank("SAFE", kind="negative", actor="t")
    accord.banks.add_hashed("SAFE", hashed, source="s", actor="t", keypoints=points)
    result = accord.lookups.match_content("photo", query).results["pdq"]
    assert result.matches == []
    assert [m.bank for m in result.suppressed_by] == ["SAFE"]
