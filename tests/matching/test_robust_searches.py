"""The compiled region searches of robust views give exactly what the numpy code gave.

Why: :mod:`accord.matching.robust_kernels` replaced the numpy region searches of
:func:`accord.matching.robust.robust_views` (border trim, salient rectangle, exact
edges, rotation fill, frame check) to save CPU on every photo upload; the views and
hashes must not move by one bit. The numpy code they replaced is copied below as the
specification (``ref_*``), and every search is compared with it on generated images:
plain photographs of many sizes, borders and letterboxes of any colour (some just
inside and just outside the tolerance), pictures inside screenshot-like and meme-like
frames, rotations with filled corners, tiny, very thin, grey-ish, uniform and noisy
images, and hypothesis-made bordered images. Boxes, angles and flags must be equal.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from PIL import Image

from accord.matching import robust, transforms
from tests.matching.test_robust import natural

Box = tuple[int, int, int, int]


# ---------------------------------------------------------------------------------------
# The specification: the numpy searches as they were before the compiled kernels.
# ---------------------------------------------------------------------------------------
def ref_channel_max(diff: NDArray[np.int16]) -> NDArray[np.int16]:
    out: NDArray[np.int16] = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
    return out


def ref_median_colour(pixels: NDArray[np.int16]) -> NDArray[np.int16]:
    ordered = np.sort(pixels, axis=0)
    mid = len(ordered) // 2
    out: NDArray[np.int16]
    if len(ordered) % 2:
        out = ordered[mid].astype(np.int16)
    else:
        out = ((ordered[mid - 1] + ordered[mid].astype(np.float64)) / 2).astype(np.int16)
    return out


def ref_side_runs(
    arr: NDArray[np.int16],
    ratio: float,
    tol: int,
    axis: int,
    from_end: bool,
    limit: int | None = None,
) -> int:
    lines = arr if axis == 0 else arr.transpose(1, 0, 2)
    if from_end:
        lines = lines[::-1]
    lines = lines[: max(1, min(len(lines) // 2, limit or len(lines)))]
    colour = ref_median_colour(lines[0])
    first = ref_channel_max(np.abs(lines[0] - colour)) <= tol
    if np.count_nonzero(first) < ratio * first.shape[0]:
        return 0  # the common case: no border on this side
    close = ref_channel_max(np.abs(lines - colour)) <= tol
    is_border = np.count_nonzero(close, axis=1) >= ratio * close.shape[1]
    if not is_border[0]:
        return 0
    return int(np.argmin(is_border)) if not is_border.all() else len(is_border)


def ref_trim_box(
    img: Image.Image | NDArray[np.uint8],
    *,
    ratio: float,
    tol: int,
    passes: int,
    min_trim: float = robust._MIN_TRIM,
) -> tuple[int, int, int, int] | None:
    arr = np.asarray(img, dtype=np.int16)
    h, w = arr.shape[:2]
    top, left, bottom, right = 0, 0, h, w
    for _ in range(passes):
        sub = arr[top:bottom, left:right]
        sh, sw = sub.shape[:2]
        if sh < 16 or sw < 16:
            return None
        t = ref_side_runs(sub, ratio, tol, 0, from_end=False)
        b = ref_side_runs(sub, ratio, tol, 0, from_end=True)
        lf = ref_side_runs(sub, ratio, tol, 1, from_end=False)
        r = ref_side_runs(sub, ratio, tol, 1, from_end=True)
        if t + b == 0 and lf + r == 0:
            break
        if t + b >= sh - 8 or lf + r >= sw - 8:
            return None  # a uniform image: nothing inside the border
        top, bottom, left, right = top + t, bottom - b, left + lf, right - r
    if (top + h - bottom) < min_trim * h and (left + w - right) < min_trim * w:
        return None
    if (bottom - top) < 0.15 * h and (right - left) < 0.15 * w:
        return None
    return (left, top, right, bottom)


def ref_longest_run(flags: NDArray[np.bool_]) -> tuple[int, int]:
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    if len(starts) == 0:
        return 0, 0
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def ref_salient_box(
    img: Image.Image | NDArray[np.uint8], tol: int = 24
) -> tuple[int, int, int, int] | None:
    pixels = np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    h, w = pixels.shape[:2]
    rim = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).astype(np.int16)
    bg = ref_median_colour(rim)
    # a pixel is background when every channel is within tol of bg (OpenCV's inRange, the
    # same test as the largest channel difference <= tol, without int16 copies)
    lower = tuple(float(v) for v in np.clip(bg - tol, 0, 255))
    upper = tuple(float(v) for v in np.clip(bg + tol, 0, 255))
    mask = cv2.inRange(pixels, lower, upper) == 0
    x0, x1, y0, y1 = 0, w, 0, h
    for _ in range(2):
        cols = mask[y0:y1].mean(axis=0)
        x0, x1 = ref_longest_run(cols >= 0.6 * cols.max()) if cols.max() > 0 else (0, 0)
        if x1 - x0 < 8:
            return None
        rows = mask[:, x0:x1].mean(axis=1)
        y0, y1 = ref_longest_run(rows >= 0.6 * rows.max())
        if y1 - y0 < 8:
            return None
    if (x1 - x0) * (y1 - y0) < 0.1 * w * h or (x1 - x0) * (y1 - y0) > 0.95 * w * h:
        return None
    return (x0, y0, x1, y1)


def ref_refine(
    img: Image.Image | NDArray[np.uint8],
    box: tuple[int, int, int, int] | None,
    small: Image.Image | NDArray[np.uint8],
) -> tuple[int, int, int, int] | None:
    scaled = robust._scaled(box, small, img)
    if scaled is None:
        return None
    (width, height), (small_w, small_h) = robust._size(img), robust._size(small)
    fx, fy = width / small_w, height / small_h
    left, top, right, bottom = scaled
    outer = (
        max(0, round(left - 2 * fx)), max(0, round(top - 2 * fy)),
        min(width, round(right + 2 * fx)), min(height, round(bottom + 2 * fy)),
    )  # fmt: skip
    if isinstance(img, Image.Image):
        arr = np.asarray(img.crop(outer), dtype=np.int16)
    else:
        arr = img[outer[1] : outer[3], outer[0] : outer[2]].astype(np.int16)
    # per side: an exact edge where the widened margin is one colour, else where its
    # background lines give way to the picture (text above a picture in a screenshot), else
    # the coarse edge; only the margin (four reduced pixels wide) is searched, and only on
    # sides with a margin (a coarse edge inside the image)
    ly, lx = int(np.ceil(4 * fy)) + 2, int(np.ceil(4 * fx)) + 2
    t = ref_side_runs(arr, 0.9, 24, 0, from_end=False, limit=ly) or (
        ref_band_edge(arr, 0.9, 24, 0, from_end=False, limit=ly) if top > 0 else 0
    )
    b = ref_side_runs(arr, 0.9, 24, 0, from_end=True, limit=ly) or (
        ref_band_edge(arr, 0.9, 24, 0, from_end=True, limit=ly) if bottom < height else 0
    )
    lf = ref_side_runs(arr, 0.9, 24, 1, from_end=False, limit=lx) or (
        ref_band_edge(arr, 0.9, 24, 1, from_end=False, limit=lx) if left > 0 else 0
    )
    r = ref_side_runs(arr, 0.9, 24, 1, from_end=True, limit=lx) or (
        ref_band_edge(arr, 0.9, 24, 1, from_end=True, limit=lx) if right < width else 0
    )
    return (
        outer[0] + lf if lf else left,
        outer[1] + t if t else top,
        outer[2] - r if r else right,
        outer[3] - b if b else bottom,
    )


def ref_band_edge(
    arr: NDArray[np.int16], ratio: float, tol: int, axis: int, from_end: bool, limit: int
) -> int:
    lines = arr if axis == 0 else arr.transpose(1, 0, 2)
    if from_end:
        lines = lines[::-1]
    lines = lines[: max(1, min(len(lines) // 2, limit))]
    if len(lines) < 3:
        return 0
    colour = ref_median_colour(lines[0])
    share = np.count_nonzero(ref_channel_max(np.abs(lines - colour)) <= tol, axis=1)
    background = share >= ratio * lines.shape[1]
    picture = share < 0.5 * lines.shape[1]
    found = np.flatnonzero(background[:-2] & picture[1:-1] & picture[2:])
    return int(found[-1]) + 1 if len(found) else 0


def ref_rotation_angle(img: Image.Image | NDArray[np.uint8], tol: int = 28) -> float | None:
    pixels = np.asarray(img)
    fill = np.asarray(ref_corner_colour(pixels), dtype=np.int16)
    # only the outermost lines are read (not the whole image turned to int16):
    # which of their pixels are of the fill colour
    top, bottom, left, right = (
        ref_channel_max(np.abs(line.astype(np.int16) - fill)) <= tol
        for line in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1])
    )
    estimates = []
    for a_close, b_close, ccw_when_a_longer in (
        (top, left, True),  # top-left: top row from the left, left column down
        (bottom[::-1], right[::-1], True),  # bottom-right, its mirror
        (top[::-1], right, False),  # top-right: top row from the right, right column down
        (bottom, left[::-1], False),  # bottom-left, its mirror
    ):
        a = int(np.argmin(a_close)) if not a_close.all() else 0
        b = int(np.argmin(b_close)) if not b_close.all() else 0
        if min(a, b) < 2:
            continue  # no fill triangle in this corner
        t = float(np.degrees(np.arctan2(min(a, b), max(a, b))))
        estimates.append(t if (a > b) == ccw_when_a_longer else -t)
    if len(estimates) < 2:
        return None
    angle = float(np.median(estimates))
    agree = [e for e in estimates if abs(e - angle) <= 1.0]
    if len(agree) < 2 or not 0.7 <= abs(angle) <= 12:
        return None
    return float(np.mean(agree))


def ref_corner_colour(img: Image.Image | NDArray[np.uint8]) -> tuple[int, int, int]:
    arr = np.asarray(img)
    corners = np.stack([arr[0, 0], arr[0, -1], arr[-1, 0], arr[-1, -1]]).astype(np.int32)
    r, g, b = (int(v) for v in np.median(corners, axis=0))
    return (r, g, b)


def ref_framed(small: NDArray[np.uint8], tol: int = 24, share: float = 0.8) -> bool:
    arr = np.asarray(small, dtype=np.int16)
    plain: list[NDArray[np.int16]] = []
    for line in (arr[0], arr[-1], arr[:, 0], arr[:, -1]):
        colour = ref_median_colour(line)
        close = ref_channel_max(np.abs(line - colour)) <= tol
        if np.count_nonzero(close) >= share * close.shape[0]:
            plain.append(colour)
    return any(
        sum(int(ref_channel_max(np.abs(other - colour)) <= tol) for other in plain) >= 3
        for colour in plain
    )


# ---------------------------------------------------------------------------------------
# Generated images.
# ---------------------------------------------------------------------------------------


def _rgb(img: Image.Image) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
    return (r, g, b)


def bordered(img: Image.Image, rng: np.random.Generator, jitter: int = 0) -> Image.Image:
    """``img`` on a canvas of one colour, with random margins (some 0); with ``jitter``,
    each border pixel off that colour by up to ``jitter`` per channel."""
    w, h = img.size
    margins = [int(rng.integers(0, max(2, s // 3))) * int(rng.random() < 0.8) for s in (w, h, w, h)]
    canvas = np.empty((h + margins[1] + margins[3], w + margins[0] + margins[2], 3), np.int16)
    canvas[:] = _colour(rng)
    if jitter:
        canvas += rng.integers(-jitter, jitter + 1, size=canvas.shape, dtype=np.int16)
    canvas[margins[1] : margins[1] + h, margins[0] : margins[0] + w] = np.asarray(img)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))


def letterboxed(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    bar = int(rng.integers(4, h // 2 + 5))
    out = Image.new("RGB", (w, h + 2 * bar), (0, 0, 0) if rng.random() < 0.7 else _colour(rng))
    out.paste(img, (0, bar))
    return out


def rotated(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.uniform(0.5, 14.0)) * (1 if rng.random() < 0.5 else -1)
    return img.rotate(
        angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=_colour(rng)
    )


def greyish(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base = 128 + rng.normal(0, 6, size=(h, w, 1)) + rng.normal(0, 2, size=(h, w, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def noisy(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))


def uniform(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    return Image.new("RGB", size, _colour(rng))


def generated() -> list[tuple[str, NDArray[np.uint8]]]:
    """(kind, pixels) of every kind of image the searches meet, several sizes each."""
    out: list[tuple[str, NDArray[np.uint8]]] = []
    sizes = [(512, 512), (384, 288), (200, 330), (97, 61), (64, 40), (300, 120)]
    for seed, size in enumerate(sizes * 3):
        rng = np.random.default_rng(7000 + seed)
        photo = natural(seed, (max(96, size[0]), max(96, size[1]))).resize(size)
        out.append(("plain", _rgb(photo)))
        out.append(("bordered", _rgb(bordered(photo, rng))))
        out.append(("bordered near tol", _rgb(bordered(photo, rng, jitter=26))))
        out.append(("letterboxed", _rgb(letterboxed(photo, rng))))
        out.append(("rotated", _rgb(rotated(photo, rng))))
        for family in ("pad", "frame", "rotate", "combo", "overlay", "crop"):
            out.append((family, _rgb(transforms.apply(family, photo, rng)[0])))
        out.append(("framed bordered", _rgb(bordered(transforms.frame(photo, rng)[0], rng))))
        out.append(("greyish", _rgb(greyish(rng, size))))
        out.append(("noisy", _rgb(noisy(rng, size))))
        out.append(("uniform", _rgb(uniform(rng, size))))
    rng = np.random.default_rng(1)
    for size in ((8, 8), (16, 16), (8, 300), (300, 8), (9, 17), (33, 12), (1000, 9)):
        out.append(("tiny", _rgb(noisy(rng, size))))
        out.append(("tiny uniform", _rgb(uniform(rng, size))))
        out.append(("tiny bordered", _rgb(bordered(greyish(rng, size), rng))))
    return out


IMAGES = generated()


def copies(pixels: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The 256-px working copy and the 128-px search copy, as robust_views makes them."""
    work = robust._reduced_array(pixels, 256)
    return work, robust._reduced_array(work, 128)


def check_all(pixels: NDArray[np.uint8]) -> None:
    """Every search on ``pixels`` (and its reduced copies) against the specification."""
    work, small = copies(pixels)
    for ratio, tol, passes in ((0.97, 24, 1), (0.9, 10, 3), (0.8, 40, 2)):
        assert robust._trim_box(small, ratio=ratio, tol=tol, passes=passes) == ref_trim_box(
            small, ratio=ratio, tol=tol, passes=passes
        )
    for tol in (24, 10):
        assert robust._salient_box(small, tol) == ref_salient_box(small, tol)
    for tol in (28, 5):
        assert robust.rotation_angle(work, tol) == ref_rotation_angle(work, tol)
    assert robust.corner_colour(work) == ref_corner_colour(work)
    assert robust.corner_colour(small) == ref_corner_colour(small)
    for tol, share in ((24, 0.8), (10, 0.5)):
        assert robust.framed(small, tol, share) == ref_framed(small, tol, share)
    found = [
        ref_trim_box(small, ratio=0.97, tol=24, passes=1),
        ref_salient_box(small),
    ]
    rng = np.random.default_rng(int(pixels.sum()) % 1000)
    sh, sw = small.shape[:2]
    for _ in range(4):  # boxes anywhere: the band-edge search on every kind of margin
        x0, y0 = int(rng.integers(0, sw)), int(rng.integers(0, sh))
        found.append((x0, y0, int(rng.integers(x0 + 1, sw + 1)), int(rng.integers(y0 + 1, sh + 1))))
    for box in found:
        assert robust._refine(pixels, box, small) == ref_refine(pixels, box, small)


@pytest.mark.parametrize(
    ("kind", "pixels"), IMAGES, ids=[f"{k}-{p.shape[1]}x{p.shape[0]}" for k, p in IMAGES]
)
def test_searches_equal_the_numpy_specification(kind: str, pixels: NDArray[np.uint8]) -> None:
    check_all(pixels)


def test_the_generated_images_reach_every_outcome() -> None:
    """The comparison means something: borders, frames and angles are found on some
    generated images and not on others."""
    trims = salients = angles = frames = 0
    for _, pixels in IMAGES:
        work, small = copies(pixels)
        trims += ref_trim_box(small, ratio=0.97, tol=24, passes=1) is not None
        salients += ref_salient_box(small) is not None
        angles += ref_rotation_angle(work) is not None
        frames += ref_framed(small)
    assert 0.1 * len(IMAGES) < trims < 0.9 * len(IMAGES)
    assert 0.1 * len(IMAGES) < salients < 0.9 * len(IMAGES)
    assert 5 < angles < 0.5 * len(IMAGES)
    assert 0.1 * len(IMAGES) < frames < 0.9 * len(IMAGES)


def test_robust_views_reports_the_specification_s_regions() -> None:
    """The regions robust_views reports are the specification's exact boxes."""
    for kind, pixels in IMAGES[:40]:
        if min(pixels.shape[:2]) < 8:
            continue
        _work, small = copies(pixels)
        expected = [
            (name, ref_refine(pixels, found, small), ref_framed(small))
            for name, found in (
                ("trim", ref_trim_box(small, ratio=0.97, tol=24, passes=1)),
                ("frame", ref_salient_box(small)),
            )
        ]
        regions: list[robust.Region] = []
        robust.robust_views(pixels, regions=regions, orient_regions=False)
        assert regions == [robust.Region(*e) for e in expected if e[1] is not None], kind


def test_inputs_other_than_contiguous_rgb_arrays() -> None:
    """Pillow images, strided views and RGBA arrays are read as their RGB pixels."""
    pixels = IMAGES[3][1]
    work, small = copies(pixels)
    strided = np.asarray(work)[::2, ::3]
    image = Image.fromarray(work)
    assert robust.rotation_angle(image) == ref_rotation_angle(image)
    assert robust.rotation_angle(strided) == ref_rotation_angle(strided)
    assert robust.framed(strided) == ref_framed(strided)
    assert robust._salient_box(strided) == ref_salient_box(strided)
    assert robust._trim_box(strided, ratio=0.97, tol=24, passes=1) == ref_trim_box(
        strided, ratio=0.97, tol=24, passes=1
    )
    rgba = np.concatenate([small, np.full((*small.shape[:2], 1), 7, np.uint8)], axis=2)
    assert robust.framed(rgba) == ref_framed(small)
    assert robust._salient_box(rgba) == ref_salient_box(small)


@st.composite
def framed_images(draw: st.DrawFn) -> NDArray[np.uint8]:
    """A random picture (smooth or noisy) on a canvas of one colour, margins and sizes
    drawn, the canvas jittered around the tolerance, sometimes turned with fill."""
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    w, h = draw(st.integers(8, 160)), draw(st.integers(8, 160))
    kind = draw(st.sampled_from(["smooth", "noise", "grey", "flat"]))
    if kind == "smooth":
        small = rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8)
        picture = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif kind == "noise":
        picture = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    elif kind == "grey":
        picture = np.asarray(greyish(rng, (w, h)))
    else:
        picture = np.full((h, w, 3), _colour(rng), np.uint8)
    margins = [draw(st.integers(0, 60)) for _ in range(4)]
    fill = np.asarray(draw(st.tuples(*[st.integers(0, 255)] * 3)), np.int16)
    jitter = draw(st.sampled_from([0, 0, 20, 24, 25, 30]))
    canvas = np.empty((h + margins[1] + margins[3], w + margins[0] + margins[2], 3), np.int16)
    canvas[:] = fill
    if jitter:
        canvas += rng.integers(-jitter, jitter + 1, size=canvas.shape, dtype=np.int16)
    canvas[margins[1] : margins[1] + h, margins[0] : margins[0] + w] = picture
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    if draw(st.booleans()):
        angle = draw(st.floats(-14, 14))
        turned = Image.fromarray(out).rotate(
            angle, resample=Image.Resampling.BILINEAR, expand=True,
            fillcolor=tuple(int(v) for v in fill),
        )  # fmt: skip
        out = np.asarray(turned)
    return np.ascontiguousarray(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(framed_images())
def test_searches_equal_the_specification_on_drawn_images(pixels: NDArray[np.uint8]) -> None:
    check_all(pixels)
    # the searches also run on the image itself (not only on its reduced copies)
    assert robust._salient_box(pixels) == ref_salient_box(pixels)
    assert robust.framed(pixels) == ref_framed(pixels)
    assert robust.rotation_angle(pixels) == ref_rotation_angle(pixels)
    assert robust._trim_box(pixels, ratio=0.97, tol=24, passes=2) == ref_trim_box(
        pixels, ratio=0.97, tol=24, passes=2
    )
