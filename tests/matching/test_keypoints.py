"""Local-feature matching: crops, overlays and frames that PDQ's views miss are matched by
keypoints of images banked from their media; unrelated images are not; the features stay
beside the banked item and are never exported.

The images are generated with real texture (noise down to a few pixels, a hundred small
shapes and strokes), because ORB describes corners: on smooth synthetic fields it finds
none, and a test on them would say nothing about photographs. The figures on real
photographs are the benchmark's (docs/robustness.md).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from accord.errors import InvalidInput, InvalidSignal
from accord.matching import keypoints, robust, transforms
from accord.matching.keypoint_index import FLAT_MAX, KeypointIndex
from accord.matching.service import ContentInput
from tests.matching.exported import exported_texts
from tests.matching.waiting import photo_follower, within

N_BANKED = 5
N_UNBANKED = 3


def textured(seed: int, size: tuple[int, int] = (360, 270)) -> Image.Image:
    """A photo-like image with texture at every scale, from ``seed``."""
    rng = np.random.default_rng(seed)
    w, h = size
    acc = np.zeros((h, w, 3), dtype=np.float64)
    for cells, weight in ((3, 1.0), (7, 0.7), (16, 0.5), (40, 0.35), (100, 0.25)):
        small = rng.integers(0, 256, size=(cells, max(2, cells * w // h), 3), dtype=np.uint8)
        big = Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BICUBIC)
        acc += weight * (np.asarray(big, dtype=np.float64) - 128.0)
    img = Image.fromarray(np.clip(128 + acc, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x0, y0 = int(rng.integers(-10, w)), int(rng.integers(-10, h))
        s = int(rng.integers(4, 40))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((x0, y0, x0 + s, y0 + int(s * rng.uniform(0.4, 1.6))), fill=fill)
        elif kind == 1:
            corners = [
                (x0 + int(rng.integers(-s, s)), y0 + int(rng.integers(-s, s))) for _ in "abc"
            ]
            draw.polygon(corners, fill=fill)
        else:
            end = (x0 + int(rng.integers(-60, 60)), y0 + int(rng.integers(-60, 60)))
            draw.line((x0, y0, *end), fill=fill, width=int(rng.integers(1, 4)))
    return img.filter(ImageFilter.GaussianBlur(0.6))


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [textured(3000 + i) for i in range(N_BANKED + N_UNBANKED)]


@pytest.fixture(scope="module")
def index(images: list[Image.Image]) -> KeypointIndex:
    points = KeypointIndex()
    packed = [
        keypoints.pack(keypoints.extract(np.asarray(im), mirror=True)) for im in images[:N_BANKED]
    ]
    points.add(list(range(N_BANKED)), packed)
    return points


@pytest.fixture(scope="module")
def bank(images: list[Image.Image]) -> np.ndarray:
    rows = [robust.robust_views(np.asarray(im))[0].pdq_hex for im in images[:N_BANKED]]
    return np.stack([robust.hex_to_bits(h) for h in rows])


def service_rule(query: Image.Image, bank: np.ndarray, index: KeypointIndex) -> int | None:
    """What the lookup service does: PDQ views at ROBUST_THRESHOLD, else keypoints."""
    m = robust.best_match(robust.robust_views(query), bank, threshold=robust.ROBUST_THRESHOLD)
    if m is not None:
        return m.row
    hits = index.query(keypoints.extract_query(np.asarray(query)), keypoints.MIN_INLIERS)
    return hits[0].id if hits else None


# Crops, rotate-crops, overlays and frames are what keypoints are for: all must match.
# Combinations, mirrors chained with a crop included (the banked mirror side), too.
REQUIRED = dict.fromkeys(transforms.FAMILIES, 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("family", transforms.FAMILIES)
def test_each_family_is_matched_with_keypoints(
    family: str, images: list[Image.Image], bank: np.ndarray, index: KeypointIndex
) -> None:
    found, misses = 0, []
    for i in range(N_BANKED):
        query, desc = transforms.apply(family, images[i], np.random.default_rng([11, i]))
        if service_rule(query, bank, index) == i:
            found += 1
        else:
            misses.append(desc)
    assert found / N_BANKED >= REQUIRED[family], misses


@pytest.mark.parametrize("family", ["crop", "rotate_crop", "overlay", "frame"])
def test_keypoints_alone_match_what_pdq_cannot(
    family: str, images: list[Image.Image], index: KeypointIndex
) -> None:
    for i in range(2):
        query, desc = transforms.apply(family, images[i], np.random.default_rng([13, i]))
        hits = index.query(keypoints.extract_query(np.asarray(query)), 1)
        assert hits, desc
        assert hits[0].id == i, desc
        assert hits[0].inliers >= keypoints.MIN_INLIERS, desc


@pytest.mark.slow
@pytest.mark.parametrize("family", transforms.FAMILIES)
def test_unrelated_images_are_not_matched(
    family: str, images: list[Image.Image], bank: np.ndarray, index: KeypointIndex
) -> None:
    for i in range(N_BANKED, N_BANKED + N_UNBANKED):
        query, desc = transforms.apply(family, images[i], np.random.default_rng([11, i]))
        assert service_rule(query, bank, index) is None, desc
        hits = index.query(keypoints.extract_query(np.asarray(query)), 1)
        assert max((h.inliers for h in hits), default=0) < keypoints.MIN_INLIERS // 2


def test_pack_round_trips_and_bad_bytes_are_refused(images: list[Image.Image]) -> None:
    features = keypoints.extract(np.asarray(images[0]))
    assert 100 <= len(features) <= keypoints.BANK_FEATURES
    data = keypoints.pack(features)
    assert len(data) == 10 + 36 * len(features)
    back = keypoints.unpack(data)
    assert np.array_equal(back.descriptors, features.descriptors)
    assert np.abs(back.xy - features.xy).max() <= 1 / 16
    assert keypoints.verify(back, features) >= 50
    for bad in (b"", b"ORB1", b"PNG1" + data[4:], data[:-1], data + b"\0"):
        with pytest.raises(InvalidSignal):
            keypoints.unpack(bad)


def test_mirror_side_round_trips_and_old_bytes_still_read(images: list[Image.Image]) -> None:
    features = keypoints.extract(np.asarray(images[0]), mirror=True)
    assert features.mirror is not None
    assert 100 <= len(features.mirror) <= keypoints.BANK_FEATURES
    data = keypoints.pack(features)
    assert data[:4] == b"ORB2"
    assert len(data) == 10 + 36 * len(features) + 2 + 36 * len(features.mirror)
    back = keypoints.unpack(data)
    assert back.mirror is not None
    assert np.array_equal(back.descriptors, features.descriptors)
    assert np.array_equal(back.mirror.descriptors, features.mirror.descriptors)
    # ORB1 (banked before mirrors were kept) still reads, without a mirror side.
    plain = keypoints.unpack(keypoints.pack(keypoints.extract(np.asarray(images[0]))))
    assert plain.mirror is None
    for bad in (data[:-1], data + b"\0", data[: 10 + 36 * len(features)], b"ORB2" + data[4:12]):
        with pytest.raises(InvalidSignal):
            keypoints.unpack(bad)


@pytest.mark.parametrize("second", ["crop", "overlay", "rotate_crop"])
def test_mirrored_copy_chained_with_a_crop_meets_the_mirror_side(
    second: str, images: list[Image.Image], index: KeypointIndex
) -> None:
    """ORB is not mirror-invariant: a mirror then a crop matches only through the
    banked mirror side, which the index picks by its votes."""
    for i in range(2):
        rng = np.random.default_rng([19, i])
        mirrored = images[i].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        query, desc = transforms.BASE_FAMILIES[second](mirrored, rng)
        features = keypoints.extract_query(np.asarray(query))
        banked = keypoints.extract(np.asarray(images[i]), mirror=True)
        assert banked.mirror is not None
        assert keypoints.verify(features, banked) < keypoints.MIN_INLIERS // 2, desc
        assert keypoints.verify(features, banked.mirror) >= keypoints.MIN_INLIERS, desc
        hits = index.query(features, keypoints.MIN_INLIERS)
        assert [h.id for h in hits] == [i], desc


def smooth(seed: int) -> Image.Image:
    """A soft, low-contrast picture: few corners pass FAST's first threshold."""
    arr = np.asarray(textured(seed).filter(ImageFilter.GaussianBlur(3)), dtype=np.float32)
    return Image.fromarray(np.clip(128 + (arr - 128) * 0.35, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("seed", [4000, 4003])
def test_caption_over_a_smooth_picture_is_matched_by_the_fill_keypoints(seed: int) -> None:
    """Text beside a smooth picture keeps FAST's threshold high over the whole query, so
    the picture keeps no corner; the fill keypoints come from its own (weak) cells."""
    picture = smooth(seed)
    query = picture.copy()
    draw = ImageDraw.Draw(query)
    font = transforms._font(30)
    for y, text in ((5, "SHARE BEFORE THEY DELETE"), (230, "WAKE UP NOBODY LOL")):
        draw.text((10, y), text, fill="white", font=font, stroke_width=2, stroke_fill="black")
    banked = keypoints.extract(np.asarray(picture))
    first_only = keypoints.extract(np.asarray(query), keypoints.QUERY_FEATURES)
    assert keypoints.verify(first_only, banked) < keypoints.MIN_INLIERS
    full = keypoints.extract_query(np.asarray(query))
    assert len(first_only) < len(full) <= keypoints.QUERY_FEATURES + keypoints.QUERY_FILL
    assert keypoints.verify(full, banked) >= 5 * keypoints.MIN_INLIERS


def test_verify_skips_ransac_below_the_count(images: list[Image.Image]) -> None:
    query = keypoints.extract_query(np.asarray(images[0]))
    other = keypoints.extract(np.asarray(images[6]))
    assert keypoints.verify(query, other, min_inliers=10_000) == 0
    same = keypoints.extract(np.asarray(images[0]))
    assert keypoints.verify(query, same, min_inliers=keypoints.MIN_INLIERS) == keypoints.verify(
        query, same
    )


def test_flat_image_has_no_keypoints_and_matches_nothing(index: KeypointIndex) -> None:
    flat = np.full((200, 300, 3), 90, dtype=np.uint8)
    features = keypoints.extract(flat)
    assert len(features) == 0
    assert index.query(features, 1) == []
    assert keypoints.unpack(keypoints.pack(features)).descriptors.shape == (0, 32)


def test_index_add_replace_remove(images: list[Image.Image]) -> None:
    points = KeypointIndex()
    packed = [keypoints.pack(keypoints.extract(np.asarray(im))) for im in images[:6]]
    points.add([1, 2, 3, 4, 5, 6], packed)
    query = keypoints.extract_query(np.asarray(images[2]))
    assert [h.id for h in points.query(query, keypoints.MIN_INLIERS)] == [3]
    points.remove([3, 99])
    assert len(points) == 5
    assert points.query(query, keypoints.MIN_INLIERS) == []
    points.add([1], [packed[2]])  # id 1 now holds image 2's features
    assert [h.id for h in points.query(query, keypoints.MIN_INLIERS)] == [1]
    with pytest.raises(ValueError):
        points.add([1, 2], [packed[0]])


def test_index_beyond_flat_size_uses_an_inverted_file(images: list[Image.Image]) -> None:
    rng = np.random.default_rng(5)
    points = KeypointIndex()
    noise = [
        keypoints.Features(
            rng.uniform(0, 500, (256, 2)).astype(np.float32),
            rng.integers(0, 256, (256, 32), dtype=np.uint8),
            512,
            384,
        )
        for _ in range(FLAT_MAX // 256 + 4)
    ]
    points.add(list(range(100, 100 + len(noise))), [keypoints.pack(f) for f in noise])
    points.add([1, 2, 3], [keypoints.pack(keypoints.extract(np.asarray(im))) for im in images[:3]])
    assert points._trained_at > FLAT_MAX  # the inverted file is in use
    for ident, image in zip((1, 2, 3), images[:3], strict=True):
        query, _ = transforms.apply("crop", image, np.random.default_rng([17, ident]))
        features = keypoints.extract_query(np.asarray(query))
        assert [h.id for h in points.query(features, keypoints.MIN_INLIERS)] == [ident]
    points.remove([2])
    query, _ = transforms.apply("crop", images[1], np.random.default_rng([17, 2]))
    features = keypoints.extract_query(np.asarray(query))
    assert points.query(features, keypoints.MIN_INLIERS) == []


# -- through the service ------------------------------------------------------------------


def _bank_from_media(accord, bank: str, data: bytes) -> int:
    hashed, points = accord.lookups.hash_to_bank("photo", data)
    assert points is not None
    return int(accord.banks.add_hashed(bank, hashed, source="s", actor="t", keypoints=points).id)


def test_service_matches_a_crop_by_keypoints_only_after_views_miss(accord, images) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    content_id = _bank_from_media(accord, "TVEC", jpeg_bytes(images[0]))
    w, h = images[0].size
    cropped = jpeg_bytes(images[0].crop((int(w * 0.18), 0, w, int(h * 0.85))))
    outcome = accord.lookups.match_content("photo", cropped)
    assert outcome.results["pdq"].matches == []
    [match] = outcome.results["keypoints"].matches
    assert match.content_id == content_id
    assert match.bank == "TVEC"
    assert match.detail["inliers"] >= keypoints.MIN_INLIERS
    assert outcome.matched

    # An exact copy matches by PDQ: keypoints are not asked.
    same = accord.lookups.match_content("photo", jpeg_bytes(images[0]))
    assert [m.content_id for m in same.results["pdq"].matches] == [content_id]
    assert "keypoints" not in same.results

    # Unrelated images match nothing, by either.
    other = accord.lookups.match_content("photo", jpeg_bytes(images[N_BANKED]))
    assert not other.matched

    # Disabled, then removed: no longer matched.
    accord.banks.set_content_enabled("TVEC", content_id, False, actor="t")
    assert not accord.lookups.match_content("photo", cropped).matched
    accord.banks.set_content_enabled("TVEC", content_id, True, actor="t")
    assert accord.lookups.match_content("photo", cropped).matched
    accord.banks.remove_content("TVEC", content_id, actor="t")
    assert not accord.lookups.match_content("photo", cropped).matched


def test_service_matches_a_mirrored_crop_through_the_banked_mirror_side(accord, images) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    content_id = _bank_from_media(accord, "TVEC", jpeg_bytes(images[1]))
    w, h = images[1].size
    mirrored = images[1].transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    query = jpeg_bytes(mirrored.crop((0, int(h * 0.1), int(w * 0.8), h)))
    outcome = accord.lookups.match_content("photo", query)
    assert outcome.results["pdq"].matches == []
    [match] = outcome.results["keypoints"].matches
    assert match.content_id == content_id
    assert match.detail["inliers"] >= keypoints.MIN_INLIERS


def test_hash_exchange_banks_have_no_keypoints(accord, images) -> None:
    """Content banked from a hash (an exchange, an import) keeps plain PDQ matching."""
    accord.banks.create_bank("TVEC", actor="t")
    hashed = accord.lookups.hash("photo", jpeg_bytes(images[1]))
    accord.banks.add_hashed("TVEC", hashed, source="s", actor="t")
    w, h = images[1].size
    cropped = jpeg_bytes(images[1].crop((int(w * 0.2), int(h * 0.1), w, h)))
    outcome = accord.lookups.match_content("photo", cropped)
    assert not outcome.matched
    assert "keypoints" not in outcome.results
    assert accord.matcher.keypoint_count == 0


def test_keypoints_need_a_pdq_signal_and_valid_bytes(accord, images) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    data = keypoints.pack(keypoints.extract(np.asarray(images[0])))
    with pytest.raises(InvalidInput, match="pdq"):
        accord.banks.add_content(
            "TVEC", ContentInput(signals={"md5": "0" * 32}, keypoints=data), source="s", actor="t"
        )
    with pytest.raises(InvalidSignal):
        accord.banks.add_content(
            "TVEC",
            ContentInput(signals={"pdq": "a5" * 32}, keypoints=b"ORB1junk"),
            source="s",
            actor="t",
        )


def test_keypoints_are_never_exported(client, headers, accord, images) -> None:
    """Banked by upload through /v1 and HMA: the features stay in bank_keypoints, and no
    content route, export, exchange feed or ledger event carries them."""
    admin = headers["admin"]
    assert client.post("/v1/banks", json={"name": "TVEC"}, headers=admin).is_success
    ids = []
    for route, image in (("/v1/banks/TVEC/media", images[0]), ("/c/bank/TVEC/content", images[1])):
        upload = {"photo": ("a.jpg", jpeg_bytes(image), "image/jpeg")}
        response = client.post(route, files=upload, headers=admin)
        assert response.is_success, response.text
        ids.append(response.json()["id"])
        assert "keypoints" not in response.json()["signals"]
    assert accord.matcher.keypoint_count == 2

    texts = exported_texts(accord, client, admin, ids)
    for text in texts:
        assert "ORB1" not in text
        assert "T1JCM" not in text
        assert len(text) < 4000, text[:200]
    for content_id in ids:
        assert set(accord.banks.get_content("TVEC", content_id).signals) <= {"pdq", "md5", "sha256"}


@pytest.mark.slow
def test_second_process_follows_keypoint_adds_and_removes(store, images, tmp_path) -> None:
    """Keypoints ride on the PDQ signal's feed rows: another process matches a crop within
    5 s of the item being banked from its media, and stops within 5 s of its removal."""
    store.banks.create_bank("TVEC", actor="t")
    w, h = images[2].size
    query = tmp_path / "crop.jpg"
    query.write_bytes(jpeg_bytes(images[2].crop((0, int(h * 0.15), int(w * 0.8), h))))
    with photo_follower(store, query, "keypoints") as ask:
        assert ask() == []
        original = jpeg_bytes(images[2])
        hashed = store.lookups.hash("photo", original)
        points = keypoints.pack(keypoints.extract(np.asarray(images[2])))
        content = store.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points)
        within(5, ask, [content.id], "not matchable in the other process within 5 s")
        store.banks.remove_content("TVEC", content.id, actor="t")
        within(5, ask, [], "still matched 5 s after removal")
