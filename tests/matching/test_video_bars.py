"""The video-level border estimate: still bars, padding and a rotation's corners found from
what does not move over the video, and the views it adds to every frame."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from accord.matching import video_bars
from accord.matching.video import frame_views, match_views
from accord.signals import MediaLimits, VpdqIndex, VpdqSignal, open_video
from tests.matching.test_video_robustness import ORIGINAL, _each, _encode, _shots


def _border(frames: list[np.ndarray]) -> video_bars.Border | None:
    still = video_bars.StillBorder()
    for pixels in frames[::10]:
        still.add(pixels)
    return still.estimate()


def _dark(img: Image.Image) -> Image.Image:
    """A dark shot: its own edges are as black as the bars."""
    return Image.eval(img, lambda v: v // 5)


def test_letterbox_on_a_dark_shot_is_found_from_the_whole_video() -> None:
    frames = _each(
        ORIGINAL, lambda i: ImageOps.expand(_dark(i), border=(0, 30, 0, 30), fill=(0, 0, 0))
    )
    border = _border(frames)
    assert border is not None
    assert border.box is not None
    left, top, right, bottom = border.box
    assert left == pytest.approx(0, abs=0.03)
    assert right == pytest.approx(1, abs=0.03)
    assert top == pytest.approx(30 / 180, abs=0.03)
    assert bottom == pytest.approx(150 / 180, abs=0.03)


def test_rotation_angle_is_found_from_the_still_corners() -> None:
    frames = _each(ORIGINAL, lambda i: i.rotate(4, resample=Image.Resampling.BILINEAR, expand=True))
    border = _border(frames)
    assert border is not None
    assert border.angle == pytest.approx(4, abs=0.6)


@pytest.mark.parametrize(
    "frames",
    [ORIGINAL, [ORIGINAL[0]] * 40, ORIGINAL[:15]],
    ids=["full-frame", "static", "too-few-frames"],
)
def test_no_border_no_estimate(frames) -> None:
    assert _border(frames) is None


def _dark_edges(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The first shots have black bands at their own left and right edges (dark shots)."""
    out = []
    for number, pixels in enumerate(frames):
        edited = pixels.copy()
        if number < 60:
            edited[:, :28] = 0
            edited[:, -20:] = 0
        out.append(edited)
    return out


def test_bars_views_match_a_padded_video_whose_shots_have_dark_edges() -> None:
    signal = VpdqSignal()
    index = VpdqIndex(signal, 31)
    content = _dark_edges(ORIGINAL)
    index.add([1, 2], [_vpdq_of(content, signal), _vpdq_of(_shots(2), signal)])
    padded = _encode(
        _each(content, lambda i: ImageOps.expand(i, border=(24, 18, 8, 30), fill=(0, 0, 0)))
    )
    with open_video(padded, MediaLimits()) as video:
        with_bars = frame_views(video, signal)
    with open_video(padded, MediaLimits()) as video:
        without = frame_views(video, signal, bars=False)
    assert not any(v.name.startswith("bars") for f in without for v in f.views)
    # each frame's own trim cuts the dark shots' edges away too: 6 of 10 frames are lost
    assert match_views(index, without, signal.min_quality) == []
    assert all(any(v.name == "bars" for v in f.views) for f in with_bars)
    assert [h.id for h in match_views(index, with_bars, signal.min_quality)] == [1]
    other = _encode(
        _each(_shots(9), lambda i: ImageOps.expand(i, border=(24, 18, 8, 30), fill=(0, 0, 0)))
    )
    with open_video(other, MediaLimits()) as video:
        assert match_views(index, frame_views(video, signal), signal.min_quality) == []


def _vpdq_of(frames: list[np.ndarray], signal: VpdqSignal) -> str:
    with open_video(_encode(frames), MediaLimits()) as video:
        return signal.hash_video(video).value
