"""Robust video matching on a small generated sample: every manipulation family of the
video robustness benchmark is matched to the banked original, unrelated videos are not.

The sample: 10-second videos (10 fps, 160x120) of slow pans across photo-like images,
cut into shots, encoded with PyAV; one is banked (plain vPDQ) beside unrelated ones.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from accord.matching import transforms
from accord.matching.video import frame_views, match_views, stages, view_groups, vpdq_of
from accord.signals import ContentType, MediaLimits, VpdqIndex, VpdqRule, VpdqSignal, open_video
from tests.conftest import _natural_image

FPS = 10
SIZE = (160, 120)
Frames = list[np.ndarray]


def _shots(seed: int, seconds: int = 10) -> Frames:
    """Shots of 2-3 s, each a slow pan and zoom across its own photo-like image."""
    rng = np.random.default_rng(seed)
    frames: Frames = []
    shot = 0
    while len(frames) < seconds * FPS:
        image = _natural_image(seed * 100 + shot, (400, 300))
        length = int(rng.integers(2, 4)) * FPS
        x0, y0 = (float(v) for v in rng.uniform(0, 60, size=2))
        dx, dy = (float(v) for v in rng.uniform(-30, 30, size=2))
        for i in range(length):
            t = i / length
            x, y = x0 + dx * t + 30, y0 + dy * t + 30
            box = (x, y, x + 200 - 20 * t, y + 150 - 15 * t)
            frames.append(np.asarray(image.resize(SIZE, Image.Resampling.BILINEAR, box=box)))
        shot += 1
    return frames[: seconds * FPS]


def _encode(
    frames: Frames, fps: float = FPS, *, bit_rate: int = 800_000, pts: list[int] | None = None
) -> bytes:
    h, w = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(100))
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, FPS)
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels[: h - h % 2, : w - w % 2]), format="rgb24"
            )
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _each(frames: Frames, edit: Callable[[Image.Image], Image.Image]) -> Frames:
    return [np.asarray(edit(Image.fromarray(f))) for f in frames]


def _family(family: str, seed: int = 5) -> Callable[[Image.Image], Image.Image]:
    return lambda img: transforms.apply(family, img, np.random.default_rng(seed))[0]


def _caption(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((132, 104, 154, 114), fill=(200, 30, 30))  # a corner logo
    draw.text((134, 104), "TV", fill="white")
    return out


def _noise(img: Image.Image) -> Image.Image:
    noisy = np.asarray(img, dtype=np.float32) + np.random.default_rng(0).normal(
        0, 12, (120, 160, 3)
    )
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _slide(seconds: int) -> Frames:
    img = Image.new("RGB", SIZE, (30, 60, 150))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 80, 160, 120), fill=(240, 240, 240))
    draw.text((10, 20), "BREAKING NEWS", fill=(255, 255, 255))
    draw.text((10, 90), "PART 2 WATCH NOW", fill=(0, 0, 0))
    return [np.asarray(img)] * (seconds * FPS)


ORIGINAL = _shots(1)
FILLER = _shots(50, seconds=8)

FAMILIES: dict[str, Callable[[], bytes]] = {
    "mirror": lambda: _encode(_each(ORIGINAL, ImageOps.mirror)),
    "letterbox": lambda: _encode(
        _each(ORIGINAL, lambda i: ImageOps.expand(i, border=(0, 30, 0, 30), fill=(0, 0, 0)))
    ),
    "pad": lambda: _encode(_each(ORIGINAL, _family("pad", 3))),
    "overlay": lambda: _encode(_each(ORIGINAL, _caption)),
    "colour": lambda: _encode(_each(ORIGINAL, _family("colour", 1))),
    "noise_blur": lambda: _encode(_each(ORIGINAL, _noise)),
    "resize": lambda: _encode(_each(ORIGINAL, lambda i: i.resize((80, 60)))),
    "reencode": lambda: _encode(ORIGINAL, bit_rate=60_000),
    "clip": lambda: _encode(ORIGINAL[33:77]),  # 44% of it, not on its seconds
    "drop": lambda: _encode(
        [f for i, f in enumerate(ORIGINAL) if i % 3 != 2],
        pts=[i for i in range(len(ORIGINAL)) if i % 3 != 2],
    ),
    "rate": lambda: _encode(ORIGINAL[::2], fps=FPS / 2),
    "black": lambda: _encode(
        ORIGINAL[:45] + [np.zeros_like(ORIGINAL[0])] * 25 + ORIGINAL[45:] + [ORIGINAL[0] * 0] * 5
    ),
    "slides": lambda: _encode(_slide(2) + ORIGINAL[:55] + _slide(2) + ORIGINAL[55:]),
    "embedded": lambda: _encode(FILLER[:43] + ORIGINAL + FILLER[43:]),
}


def _vpdq(data: bytes, signal: VpdqSignal) -> str:
    with open_video(data, MediaLimits()) as video:
        return signal.hash_video(video).value


def _views(data: bytes, signal: VpdqSignal):
    with open_video(data, MediaLimits()) as video:
        return frame_views(video, signal)


@pytest.fixture(scope="module")
def bank() -> tuple[VpdqSignal, VpdqIndex]:
    signal = VpdqSignal()
    index = VpdqIndex(signal, 31)
    videos = [ORIGINAL, _shots(2), _shots(3), _shots(4)]
    index.add([1, 2, 3, 4], [_vpdq(_encode(v), signal) for v in videos])
    return signal, index


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_matches_the_banked_original(bank, family: str) -> None:
    signal, index = bank
    hits = match_views(index, _views(FAMILIES[family](), signal), signal.min_quality)
    assert [h.id for h in hits][:1] == [1], hits
    assert hits[0].distance <= 20


def test_unrelated_videos_and_their_edits_do_not_match(bank) -> None:
    signal, index = bank
    other = _shots(9)
    for frames in (other, _each(other, ImageOps.mirror), other[20:70], FILLER[:30] + other):
        assert match_views(index, _views(_encode(frames), signal), signal.min_quality) == []


def test_hma_rule_misses_clips_and_embedded_copies(bank) -> None:
    signal, index = bank
    hma = VpdqSignal.hma().rule
    for family in ("clip", "embedded"):
        value = _vpdq(FAMILIES[family](), signal)
        assert index.query_frames([[h] for h in _plain(value)], rule=hma) == []


def _plain(value: str) -> list[str]:
    """The distinct usable frame hashes of a vPDQ value, in order."""
    rows = [line.split(",") for line in value.splitlines()]
    return list(dict.fromkeys(pdq for _, quality, pdq, _ in rows if int(quality) >= 50))


def test_plain_value_of_frame_views_is_vpdq(bank) -> None:
    signal, _ = bank
    data = FAMILIES["drop"]()
    frames = _views(data, signal)
    assert vpdq_of(frames, signal).value == _vpdq(data, signal)
    assert all(len([v for v in f.between if v.name == "phase"]) == 3 for f in frames[:-1])
    groups = list(stages(frames, signal.min_quality))
    assert groups[0] == [[h] for h in _plain(_vpdq(data, signal))]
    assert groups[-1] == view_groups(frames, signal.min_quality)


@pytest.mark.parametrize(
    ("query", "bank", "rule", "match"),
    [
        ((5, 5), (5, 20), VpdqRule(), True),  # a clip: all of the query, a quarter of the bank
        ((3, 3), (3, 20), VpdqRule(), False),  # too short to count as a clip
        ((5, 25), (5, 5), VpdqRule(), True),  # the bank video inside a longer one
        ((5, 25), (5, 5), VpdqRule(embedded_percent=None), False),
        ((5, 5), (5, 20), VpdqRule(clip_percent=None), False),
        ((8, 10), (8, 10), VpdqRule(clip_percent=None, embedded_percent=None), True),
        ((7, 10), (9, 10), VpdqRule(clip_percent=None, embedded_percent=None), False),
    ],
)
def test_rule(query, bank, rule: VpdqRule, match: bool) -> None:
    verdict = rule.verdict(query[0], query[1], bank[0], bank[1])
    assert verdict.match is match
    if match:
        assert verdict.distance <= 20


def test_service_matches_a_mirrored_clip_only_with_robust_matching(accord) -> None:
    accord.banks.create_bank("TVEC", actor="t")
    hashed = accord.lookups.hash(ContentType.VIDEO, _encode(ORIGINAL))
    content = accord.banks.add_hashed("TVEC", hashed, source="s", actor="t")
    query = _encode(_each(ORIGINAL[25:85], ImageOps.mirror))
    robust = accord.lookups.match_content("video", query)
    assert [m.content_id for m in robust.results["vpdq"].matches] == [content.id]
    vpdq = next(h for h in robust.hashes if h.signal_type == "vpdq")
    assert vpdq.value == _vpdq(query, accord.signals.get("vpdq"))
    assert [h.signal_type for h in robust.hashes] == [
        h.signal_type for h in accord.lookups.hash(ContentType.VIDEO, query)
    ]
    plain = accord.lookups.match_content("video", query, robust=False)
    assert plain.results["vpdq"].matches == []
    other = accord.lookups.match_content("video", _encode(_shots(9)))
    assert not other.matched


def test_partial_matches_setting_selects_the_rule(tmp_path) -> None:
    from accord.config import Settings
    from accord.signals import default_registry

    on = default_registry(Settings(home=tmp_path)).get("vpdq")
    off = default_registry(Settings(home=tmp_path, vpdq_partial_matches=False)).get("vpdq")
    assert isinstance(on, VpdqSignal)
    assert isinstance(off, VpdqSignal)
    assert on.rule == VpdqRule()
    assert off.rule == VpdqSignal.hma().rule
    assert off.rule.clip_percent is None
    assert off.rule.embedded_percent is None
