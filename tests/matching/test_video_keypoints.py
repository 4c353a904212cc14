"""Video keypoints: banked keyframes' local features verified against a query's frames.

The sample is the generated one of test_video_robustness (10-second pans across photo-like
images): a cropped and an overlaid copy, which no vPDQ view matches, are matched by
keypoints in time order; unrelated videos are not; the service banks the keyframes beside
a video banked from its media and follows removals.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from accord.errors import InvalidInput, InvalidSignal
from accord.matching import keypoints
from accord.matching import video_keypoints as vk
from accord.matching.video import frame_views, match_views
from accord.signals import ContentType, MediaLimits, VpdqIndex, VpdqSignal, open_video
from tests.matching.test_video_robustness import FILLER, ORIGINAL, _each, _encode, _shots


def _crop(img: Image.Image) -> Image.Image:
    """12% off the left, 4% off the right, 8% off the top: every frame's PDQ moves."""
    w, h = img.size
    return img.crop((round(0.12 * w), round(0.08 * h), round(0.96 * w), h))


def _banner(img: Image.Image) -> Image.Image:
    """A caption band over the lower third and a logo in a corner."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    draw.rectangle((0, round(0.62 * h), w, h), fill=(10, 10, 10))
    draw.text((6, round(0.66 * h)), "BREAKING: WATCH THE FULL VIDEO", fill=(255, 255, 0))
    draw.text((6, round(0.80 * h)), "share before it is removed", fill=(255, 255, 255))
    draw.rectangle((4, 4, 40, 20), fill=(200, 30, 30))
    return out


CROPPED = _each(ORIGINAL, _crop)
OVERLAID = _each(ORIGINAL, _banner)
BANKED = [ORIGINAL, _shots(2), _shots(3)]


def _bank_blob(frames: list[np.ndarray]) -> bytes:
    with open_video(_encode(frames), MediaLimits()) as video:
        return vk.pack_video(vk.bank_keyframes(video))


def _query(frames: list[np.ndarray]) -> list[vk.Keyframe]:
    with open_video(_encode(frames), MediaLimits()) as video:
        fv = frame_views(video, VpdqSignal(), keep=vk.MAX_QUERY_FRAMES)
    return vk.query_keyframes([(f.timestamp, f.pixels) for f in fv if f.pixels is not None])


@pytest.fixture(scope="module")
def index() -> vk.VideoKeypointIndex:
    points = vk.VideoKeypointIndex()
    points.add([1, 2, 3], [_bank_blob(v) for v in BANKED])
    return points


def test_pack_round_trip_and_storage() -> None:
    blob = _bank_blob(ORIGINAL)
    frames = vk.unpack_video(blob)
    assert 4 <= len(frames) <= 10  # 10 s: one every 2 s, and at cuts
    assert [f.time for f in frames] == sorted(f.time for f in frames)
    assert frames[0].time == 0.0
    assert vk.pack_video(frames) == blob
    assert vk.is_video_features(blob)
    assert len(blob) < 2 * 9_300 * len(frames)  # at most 256 keypoints of 36 bytes a side


@pytest.mark.parametrize(
    "data",
    [b"", b"VKP2\x00\x00", b"VKP1\x01\x00", b"VKP1\x01\x00" + b"\x00" * 8, b"VKP1\x00\x00x"],
)
def test_unpack_rejects_broken_data(data: bytes) -> None:
    with pytest.raises(InvalidSignal):
        vk.unpack_video(data)


def test_chain_keeps_time_order() -> None:
    # a copy played forwards with a shift; one pair out of order (an unrelated look-alike)
    pairs = [(0.0, 4.0), (1.0, 4.0), (2.0, 6.0), (3.0, 0.0), (4.0, 8.0), (5.0, 8.0)]
    assert vk.chain(pairs) == [(0.0, 4.0), (1.0, 4.0), (2.0, 6.0), (4.0, 8.0), (5.0, 8.0)]
    # the same query second against two keyframes counts once
    assert len(vk.chain([(0.0, 0.0), (0.0, 2.0), (1.0, 2.0)])) == 2
    assert vk.chain([]) == []


@pytest.mark.parametrize(
    ("pairs", "query", "bank", "match"),
    [
        ([(0, 0, 20), (1, 2, 20), (2, 4, 20)], 4, 8, True),  # 75% of the query
        ([(0, 0, 20), (1, 2, 20)], 2, 2, False),  # two frames are too few
        ([(5, 0, 20), (6, 2, 20), (7, 4, 20)], 20, 4, True),  # embedded: 3 of 4 keyframes
        ([(5, 0, 20), (6, 2, 20), (7, 4, 20)], 20, 20, False),  # 15% and 15%
        ([(0, 8, 20), (1, 4, 20), (2, 0, 20)], 3, 5, False),  # backwards: a chain of one
    ],
)
def test_decide(pairs, query: int, bank: int, match: bool) -> None:
    ok, best, q_share, b_share = vk.decide(pairs, query, bank)
    assert ok is match
    assert 0 <= q_share <= 100
    assert 0 <= b_share <= 100
    assert len(best) <= len(pairs)


@pytest.mark.parametrize("frames", [CROPPED, OVERLAID], ids=["crop", "overlay"])
def test_crop_and_overlay_match_by_keypoints_not_by_vpdq(index, frames) -> None:
    signal = VpdqSignal()
    vpdq = VpdqIndex(signal, 31)
    with open_video(_encode(ORIGINAL), MediaLimits()) as video:
        vpdq.add([1], [signal.hash_video(video).value])
    with open_video(_encode(frames), MediaLimits()) as video:
        fv = frame_views(video, signal)
    assert match_views(vpdq, fv, signal.min_quality) == []  # what the views cannot do

    hits = index.query(_query(frames))
    assert [h.id for h in hits] == [1]
    assert hits[0].frames >= vk.MIN_FRAMES
    assert hits[0].inliers >= keypoints.MIN_INLIERS
    assert hits[0].query_percent >= 50


def test_a_clip_inside_other_footage_matches(index) -> None:
    hits = index.query(_query(FILLER[:40] + CROPPED[30:90] + FILLER[40:]))
    assert [h.id for h in hits] == [1]


def test_unrelated_videos_do_not_match(index) -> None:
    other = _shots(9)
    for frames in (other, _each(other, _crop), _each(other, _banner), FILLER):
        query = _query(frames)
        assert index.query(query) == []
        # no frame of them comes near the count a match needs
        pairs = index.pairs(query, 0)
        assert max((n for found in pairs.values() for _, _, n in found), default=0) < 8


def test_remove_and_replace() -> None:
    points = vk.VideoKeypointIndex()
    blob = _bank_blob(ORIGINAL)
    points.add([1, 2], [blob, _bank_blob(_shots(2))])
    points.add([1], [blob])  # replacing keeps one copy
    assert len(points) == 2
    query = _query(CROPPED)
    assert [h.id for h in points.query(query)] == [1]
    points.remove([1, 99])
    assert len(points) == 1
    assert points.query(query) == []


def test_service_banks_keyframes_and_matches_a_cropped_copy(accord) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    hashed, points = accord.lookups.hash_to_bank(ContentType.VIDEO, _encode(ORIGINAL))
    assert points is not None
    assert vk.is_video_features(points)
    content = accord.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points)
    other_hashed, other_points = accord.lookups.hash_to_bank(ContentType.VIDEO, _encode(_shots(2)))
    accord.banks.add_hashed("TVEC", other_hashed, source="s", actor="t", keypoints=other_points)

    found = accord.lookups.match_content("video", _encode(CROPPED))
    assert found.results["vpdq"].matches == []
    matches = found.results["keypoints"].matches
    assert [m.content_id for m in matches] == [content.id]
    assert matches[0].detail["frames"] >= vk.MIN_FRAMES
    assert matches[0].detail["inliers"] >= keypoints.MIN_INLIERS
    assert matches[0].distance <= 50

    assert not accord.lookups.match_content("video", _encode(_each(_shots(9), _crop))).matched
    # a plain re-upload matches by vPDQ; the keypoint stage is not asked
    plain = accord.lookups.match_content("video", _encode(ORIGINAL))
    assert [m.content_id for m in plain.results["vpdq"].matches] == [content.id]
    assert "keypoints" not in plain.results

    accord.banks.remove_content("TVEC", content.id, actor="t")
    assert not accord.lookups.match_content("video", _encode(CROPPED)).matched


def test_video_keypoints_need_a_vpdq_signal(accord) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    _hashed, points = accord.lookups.hash_to_bank(ContentType.VIDEO, _encode(ORIGINAL))
    pdq_only = accord.lookups.hash(ContentType.PHOTO, _png())
    with pytest.raises(InvalidInput):
        accord.banks.add_hashed("TVEC", pdq_only, source="s", actor="t", keypoints=points)


def _png() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(ORIGINAL[0]).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_long_video_keeps_a_bounded_number_of_keyframes(monkeypatch) -> None:
    monkeypatch.setattr(vk, "MAX_BANK_KEYFRAMES", 4)
    with open_video(_encode(ORIGINAL + ORIGINAL), MediaLimits()) as video:
        frames = vk.bank_keyframes(video)
    assert 2 <= len(frames) <= 4
    assert frames[-1].time >= 8.0  # spread over the whole video, not the first seconds


def test_another_matcher_loads_and_follows_video_keypoints(store) -> None:
    """On SQLite and PostgreSQL: a second matcher on the same database loads the stored
    keyframes at start, follows a new video's through its vPDQ feed rows, and drops them
    when the content is disabled."""
    from accord.matching.matcher import Matcher

    store.banks.create_bank("TVEC", actor="t")
    hashed, points = store.lookups.hash_to_bank(ContentType.VIDEO, _encode(_shots(2)))
    store.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points)
    other = Matcher(store.db, store.signals)
    other.ensure_loaded()
    assert other.video_keypoint_count == 1
    assert other.keypoint_count == 0  # a video's features are not an image's

    hashed, points = store.lookups.hash_to_bank(ContentType.VIDEO, _encode(ORIGINAL))
    content = store.banks.add_hashed("TVEC", hashed, source="s", actor="t", keypoints=points)
    query = _query(OVERLAID)
    other.catch_up()
    found = other.lookup_video_keypoints(query, min_inliers=keypoints.MIN_INLIERS)
    assert [m.content_id for m in found.matches] == [content.id]
    assert found.signal_type == "keypoints"

    store.banks.set_content_enabled("TVEC", content.id, False, actor="t")
    other.catch_up()
    assert other.lookup_video_keypoints(query, min_inliers=keypoints.MIN_INLIERS).matches == []
    assert other.video_keypoint_count == 1
