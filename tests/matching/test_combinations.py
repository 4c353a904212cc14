"""Combinations of two edits (session 7): a picture inside a screenshot and then captioned,
whose screenshot text pulls the keypoint votes to text-rich banked items, is matched by
the keypoint look at the framed picture alone; an unrelated picture in the same screenshot
is not. Also the coarse region views and the bicubic enlargement of small queries.

The pictures are generated (see tests/matching/test_keypoints.py); the benchmark's
figures on photographs are in docs/robustness.md ("Seventh session: combinations").
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from accord.matching import keypoints, robust, transforms
from tests.matching.test_keypoints import jpeg_bytes, textured

WORDS = [
    "share",
    "before",
    "they",
    "delete",
    "wake",
    "up",
    "nobody",
    "talks",
    "about",
    "this",
    "read",
    "the",
    "thread",
    "now",
]
BACKGROUND = (242, 242, 245)
INK = (40, 40, 40)
PICTURE, UNRELATED = 6001, 6051


def page(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A page of text only, as a banked screenshot of a post would be: rich in corners that
    any other text's corners resemble."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    font = transforms._font(18)
    for y in range(8, size[1] - 20, 24):
        draw.text((10, y), " ".join(rng.choice(WORDS, 6)), fill=INK, font=font)
    return img


def screenshot(picture: Image.Image, seed: int, share: float = 0.45) -> Image.Image:
    """``picture`` at the right of a screenshot whose left side is lines of text."""
    rng = np.random.default_rng(seed)
    w, h = picture.size
    cw, ch = int(w / share), int(h * 1.5)
    img = Image.new("RGB", (cw, ch), BACKGROUND)
    draw = ImageDraw.Draw(img)
    font = transforms._font(18)
    for y in range(8, ch - 20, 24):
        draw.text((10, y), " ".join(rng.choice(WORDS, 4)), fill=INK, font=font)
    img.paste(picture, (cw - w - 10, (ch - h) // 2))
    return img


def framed_and_captioned(picture: Image.Image) -> bytes:
    """The combination: into a screenshot, then a meme caption over the picture."""
    shot = screenshot(picture, 1)
    draw = ImageDraw.Draw(shot)
    font = transforms._font(40)
    for y, text in ((90, "NOBODY TALKS"), (200, "ABOUT THIS"), (300, "READ IT NOW")):
        draw.text((450, y), text, fill="white", font=font, stroke_width=2, stroke_fill="black")
    return jpeg_bytes(shot)


def _bank(accord, image: Image.Image) -> int:
    hashed, points = accord.lookups.hash_to_bank("photo", jpeg_bytes(image))
    assert points is not None
    return int(
        accord.banks.add_hashed("TCOMBO", hashed, source="s", actor="t", keypoints=points).id
    )


def test_a_framed_and_captioned_picture_is_matched_by_the_look_inside_the_frame(accord) -> None:
    accord.banks.create_bank("TCOMBO", actor="t")
    for i in range(4):  # text-rich banked items: the screenshot's text votes for them
        _bank(accord, page(100 + i))
    content_id = _bank(accord, textured(PICTURE))
    query = framed_and_captioned(textured(PICTURE))
    pixels = np.asarray(Image.open(io.BytesIO(query)).convert("RGB"))

    # the first look alone (the whole query's keypoints) does not find it: its text's
    # corners take the votes, and the picture is not among the candidates verified
    first = accord.matcher.lookup_keypoints(
        keypoints.extract_query(pixels, sharp=True), min_inliers=keypoints.MIN_INLIERS
    )
    assert first.matches == []
    regions: list[robust.Region] = []
    views = robust.robust_views(pixels, coarse=True, regions=regions)
    assert robust.framed_box(regions) is not None
    own = robust.robust_views(np.asarray(textured(PICTURE)))[0].pdq_hex
    assert min(robust.hamming(v.pdq_hex, own) for v in views) > robust.ROBUST_THRESHOLD

    outcome = accord.lookups.match_content("photo", query)
    assert outcome.results["pdq"].matches == []
    [match] = outcome.results["keypoints"].matches
    assert match.content_id == content_id
    assert match.detail["inliers"] >= 3 * keypoints.MIN_INLIERS

    # an unrelated picture in the same screenshot, captioned the same way: nothing
    other = accord.lookups.match_content("photo", framed_and_captioned(textured(UNRELATED)))
    assert not other.matched


def test_no_second_look_outside_a_frame() -> None:
    """A photograph's own edges are not a frame: no region is offered for a second look."""
    regions: list[robust.Region] = []
    robust.robust_views(np.asarray(textured(PICTURE)), regions=regions)
    assert robust.framed_box(regions) is None
    regions = []
    robust.robust_views(np.asarray(screenshot(textured(PICTURE), 1)), regions=regions)
    box = robust.framed_box(regions)
    assert box is not None
    left, top, right, bottom = box
    assert abs((right - left) - 360) <= 4
    assert abs((bottom - top) - 270) <= 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coarse_views_only_add_to_the_views(seed: int) -> None:
    """``coarse=True`` keeps every view (same order) and adds only ``:coarse`` ones, each
    cut from a box found on the 128-px copy."""
    picture = textured(7000 + seed)
    query, _ = transforms.frame(picture, np.random.default_rng(seed))
    buffer = io.BytesIO()
    query.save(buffer, format="JPEG", quality=12)
    pixels = np.asarray(Image.open(buffer).convert("RGB"))
    plain = robust.robust_views(pixels)
    more = robust.robust_views(pixels, coarse=True)
    names = [v.name for v in more]
    assert [v for v in more if not v.name.endswith(":coarse")] == plain
    assert set(names) - {v.name for v in plain} <= {"trim:coarse", "frame:coarse"}
    assert len(names) == len(set(names))


def test_a_small_query_is_enlarged_bicubically() -> None:
    """A quarter-size copy is enlarged 4x to the working side: bicubically for image
    queries (``sharp=True``: its corners kept), bilinearly as before for banked images
    and video frames."""
    picture = textured(7100)
    small = np.asarray(picture.resize((96, 72), Image.Resampling.BOX))
    sharp = keypoints._gray(small, sharp=True)
    soft = keypoints._gray(small)
    assert sharp.shape == soft.shape == (384, 512)
    assert not np.array_equal(sharp, soft)
    # a query enlarged less than SHARP_UPSCALE times is as before
    mid = np.asarray(picture.resize((300, 225), Image.Resampling.BOX))
    assert np.array_equal(keypoints._gray(mid, sharp=True), keypoints._gray(mid))
    banked = keypoints.extract(np.asarray(picture))
    query = keypoints.extract_query(small, sharp=True)
    assert keypoints.verify(query, banked) >= keypoints.MIN_INLIERS
