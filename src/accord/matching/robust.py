"""Query-side PDQ views that survive manipulation, matched against plain PDQ banks.

Why: a bank shared between platforms holds plain PDQ hashes (256 bits of the
signs of low-frequency DCT coefficients). Plain PDQ of a mirrored, padded,
framed or rotated copy lands far from the banked hash. accord does not change
what is banked (so banks stay exchangeable): it changes what is *asked*. From
one decoded query image it derives a few "views" that undo likely
manipulations, hashes each with PDQ, and the matcher takes the minimum distance
over views against the banked plain hashes.

Data flow::

    RGB image ──► plain PDQ ("pdq", identical to what a bank holds) and the PDQ of the
              │     image in its 7 other orientations (mirror, 90° turns), in one go
              └─► working copy (max side 256) and a 128-px copy to search on
                    ├─► border trim (padding, letterbox, borders of one colour), exact at full size
                    ├─► salient rectangle (image inside a screenshot or meme frame), exact too
                    │     (image lookups: each region also as found on the 128-px copy, "coarse")
                    └─► angle measured from filled corners ─► turned back (small rotations)
              each region ─► 64x64 area-average ─► pdqhash ─► (view name, hex, quality)

The orientations are hashed with the plain hash (:func:`accord.signals.pdqfast.oriented_hex`:
each is the plain PDQ the turned image would have, so a mirrored copy of a banked image
is looked up by the banked hash itself); every other view is hashed from a 64x64
area-averaged buffer (PDQ does no further filtering at that size).
The reductions (working copy, search copy, buffers) are OpenCV's ``INTER_AREA``
on the decoded array, true area averages that cost 0.03-0.1 ms each; Pillow
serves only the rare paths (turning an image back, a region smaller than its
buffer). The region searches (border, salient rectangle, exact edges, rotation
fill, frame check) are compiled loops (:mod:`accord.matching.robust_kernels`,
0.04 ms together on a plain photograph). A view costs about 0.2 ms, so the query cost is
dominated by the one full-size PDQ hash and by the number of lookups (one per
view). :func:`robust_views` is the function the matcher calls; :func:`best_match`
is the reference matching rule (minimum Hamming distance over views) and
:data:`ROBUST_THRESHOLD` the distance to match at (31, as plain PDQ: the
benchmark's tuned threshold depends on the bank size, see docs/robustness.md).

The bank side, for images banked from their media only: :func:`bank_rotations`
hashes the banked image's own rotate-crops (turned 1.5-5.5 degrees either way,
cropped to the largest upright rectangle: what no query view can undo), which are
stored beside the item's keypoints and looked up with the query's views
(:mod:`accord.matching.bank_view_index`); they are never exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from accord.errors import InvalidMedia
from accord.matching import robust_kernels
from accord.signals import pdqfast

__all__ = [
    "BANK_ROTATIONS",
    "BANK_VIEW_THRESHOLD",
    "ORIENTATIONS",
    "PLAIN_PDQ_THRESHOLD",
    "ROBUST_THRESHOLD",
    "Match",
    "Region",
    "View",
    "bank_rotations",
    "bank_view_name",
    "best_match",
    "corner_colour",
    "framed",
    "framed_box",
    "hamming",
    "hex_to_bits",
    "pdq_buffer",
    "reduced",
    "robust_views",
    "rotate_crop_box",
    "rotation_angle",
    "unrotated_box",
]

#: The threshold HMA and ThreatExchange use for plain PDQ.
PLAIN_PDQ_THRESHOLD = 31

#: Largest min-over-views distance reported as a match. The benchmark holds 99.9%
#: precision up to 47 against 200 banked images, but that depends on bank size:
#: at 31 each view is as discriminating as a plain PDQ lookup (docs/robustness.md).
ROBUST_THRESHOLD = 31

#: Angles (degrees, PIL's sense: counter-clockwise) at which a banked image's rotate-crops
#: are hashed on the bank side (:func:`bank_rotations`): 1.5 to 5.5 degrees either way,
#: every 0.5 (PDQ needs the angle within ~0.5 degrees; docs/robustness.md).
BANK_ROTATIONS: tuple[float, ...] = tuple(
    sign * (1.5 + 0.5 * step) for step in range(9) for sign in (1.0, -1.0)
)

#: Largest distance between a query view and a bank-side view reported as a match: the
#: PDQ default. On the benchmark no unrelated (query view, bank-side view) pair came
#: within 34 bits in 80 million, and rotate-crops of banked tiles were at 10 (median).
BANK_VIEW_THRESHOLD = 31

#: Names of pdqhash's dihedral outputs, in its order (checked by the tests).
ORIENTATIONS: tuple[str, ...] = (
    "id", "rot90", "rot180", "rot270", "flip_tb", "flip_lr", "transpose", "transverse",
)  # fmt: skip

_WORK_SIDE = 256
_DETECT_SIDE = 128
_BUFFER = 64
_ROTATIONS: tuple[float, ...] = ()
_MIN_TRIM = 0.02  # a trim view is only worth a lookup if it removes this share of a side


class View(NamedTuple):
    """One hashed view of a query image: its name, PDQ hex (64 chars) and PDQ quality."""

    name: str
    pdq_hex: str
    quality: int


class Region(NamedTuple):
    """A region of a query image a view was cut from (``trim`` or ``frame``), in pixels of
    the full image, and whether the image sits in a frame: three of its four outermost
    lines mostly of one colour (a screenshot, a meme template, a border all round, a
    rotation's fill), not a photograph's edges (see :func:`framed`)."""

    name: str
    box: tuple[int, int, int, int]
    framed: bool


class Match(NamedTuple):
    """The closest bank entry over all views: its row in the bank, the distance and the view."""

    row: int
    distance: int
    view: str


def hex_to_bits(pdq_hex: str) -> NDArray[np.uint8]:
    """The 32 bytes of a PDQ hex string (the form :func:`hamming` and indexes use)."""
    return np.frombuffer(bytes.fromhex(pdq_hex), dtype=np.uint8)


def hamming(a: str, b: str) -> int:
    """Hamming distance between two PDQ hex strings."""
    return int(np.unpackbits(hex_to_bits(a) ^ hex_to_bits(b)).sum())


def _as_array(image: Image.Image | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The H x W x 3 uint8 pixels of an image (no copy when they are already so)."""
    if isinstance(image, Image.Image):
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    arr: NDArray[np.uint8] = np.asarray(image)
    if arr.ndim == 2 and arr.dtype == np.uint8:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise InvalidMedia(
            "an image must be an H x W x 3 array of uint8", shape=arr.shape, dtype=str(arr.dtype)
        )
    return np.ascontiguousarray(arr[:, :, :3])


def _rgb(img: Image.Image | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The H x W x 3 uint8 pixels the region searches read (:func:`_as_array`; as they
    are when they are already so)."""
    if isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape[2:] == (3,):
        return img
    return _as_array(img)


def _area(
    pixels: NDArray[np.uint8], size: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> NDArray[np.uint8]:
    """The area average of ``pixels`` (or of ``box`` in them) at ``size`` (width, height).

    What :func:`pdq_buffer` and :func:`reduced` compute with Pillow's BOX filter, by
    OpenCV's ``INTER_AREA`` (each output pixel the mean of the input area it covers,
    partial pixels weighted by their share, rounded once): 0.1 ms for 512 -> 256
    against Pillow's 1.2-1.4 ms, and no copy into Pillow's storage. Only for
    reductions: a region smaller than ``size`` goes by Pillow's BOX, as before.
    """
    import cv2

    region = pixels if box is None else pixels[box[1] : box[3], box[0] : box[2]]
    h, w = region.shape[:2]
    out: NDArray[np.uint8]
    if w < size[0] or h < size[1]:
        out = np.asarray(Image.fromarray(region).resize(size, Image.Resampling.BOX))
    elif (w, h) == size:
        out = region
    else:
        out = np.asarray(cv2.resize(region, size, interpolation=cv2.INTER_AREA), np.uint8)
    return out


def _reduced_size(width: int, height: int, side: int) -> tuple[int, int] | None:
    """The size whose longer side is at most ``side`` at the same aspect ratio; None when
    ``width`` x ``height`` is already so (no reduction)."""
    scale = side / max(width, height)
    if scale >= 1.0:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduced_array(pixels: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    """:func:`reduced` on pixels: an area average whose longer side is at most ``side``."""
    size = _reduced_size(*_size(pixels), side)
    return pixels if size is None else _area(pixels, size)


def _size(img: Image.Image | NDArray[np.uint8]) -> tuple[int, int]:
    """Width and height of a Pillow image or of an H x W (x C) array."""
    if isinstance(img, Image.Image):
        return img.size
    return int(img.shape[1]), int(img.shape[0])


def pdq_buffer(img: Image.Image, box: tuple[int, int, int, int] | None = None) -> NDArray[np.uint8]:
    """The 64x64 area average of ``img`` (or of ``box`` in it), as PDQ's input."""
    out = img.resize((_BUFFER, _BUFFER), Image.Resampling.BOX, box=box)
    return np.asarray(out)


def reduced(img: Image.Image, side: int) -> Image.Image:
    """An area-averaged copy whose longer side is at most ``side`` (``img`` if already so)."""
    size = _reduced_size(img.width, img.height, side)
    return img if size is None else img.resize(size, Image.Resampling.BOX)


def _hash(buffer: NDArray[np.uint8]) -> tuple[str, int]:
    return pdqfast.hash_hex(buffer)


def _trim_box(
    img: Image.Image | NDArray[np.uint8],
    *,
    ratio: float,
    tol: int,
    passes: int,
    min_trim: float = _MIN_TRIM,
) -> tuple[int, int, int, int] | None:
    """The box left after removing border lines (iteratively, one colour per side per pass):
    lines of at least ``ratio`` of their pixels within ``tol`` of the outermost line's
    median colour; ``None`` when too little (``min_trim``) or too much would go."""
    found, left, top, right, bottom = robust_kernels.trim(_rgb(img), ratio, tol, passes, min_trim)
    return (int(left), int(top), int(right), int(bottom)) if found else None


def _salient_box(
    img: Image.Image | NDArray[np.uint8], tol: int = 24
) -> tuple[int, int, int, int] | None:
    """The largest dense rectangle of non-background pixels (an image inside a frame).

    The background is the median colour of the outermost pixels; a pixel is background
    when every channel is within ``tol`` of it. Columns, then rows within those columns,
    then columns within those rows, keep the longest run whose share of non-background
    pixels is at least 60% of the densest line: text and icons in a screenshot or meme
    frame are too sparse to count.
    """
    found, x0, y0, x1, y1 = robust_kernels.salient(np.ascontiguousarray(_rgb(img)), tol)
    return (int(x0), int(y0), int(x1), int(y1)) if found else None


def _refine(
    img: Image.Image | NDArray[np.uint8],
    box: tuple[int, int, int, int] | None,
    small: Image.Image | NDArray[np.uint8],
) -> tuple[int, int, int, int] | None:
    """A box found on the reduced copy, made exact on the full image.

    One pixel of the 128-pixel copy is several of the original, and PDQ moves
    by tens of bits when an edge is off by 1%: so the box, widened by two
    reduced pixels, is trimmed again at full resolution.
    """
    scaled = _scaled(box, small, img)
    if scaled is None:
        return None
    (width, height), (small_w, small_h) = _size(img), _size(small)
    fx, fy = width / small_w, height / small_h
    left, top, right, bottom = scaled
    outer = (
        max(0, round(left - 2 * fx)), max(0, round(top - 2 * fy)),
        min(width, round(right + 2 * fx)), min(height, round(bottom + 2 * fy)),
    )  # fmt: skip
    # per side: an exact edge where the widened margin is one colour, else where its
    # background lines give way to the picture (text above a picture in a screenshot), else
    # the coarse edge; only the margin (four reduced pixels wide) is searched, and only on
    # sides with a margin (a coarse edge inside the image); read in place, in the box
    ly, lx = int(np.ceil(4 * fy)) + 2, int(np.ceil(4 * fx)) + 2
    t, b, lf, r = robust_kernels.refine_edges(
        _rgb(img), outer[1], outer[3], outer[0], outer[2], ly, lx,
        top > 0, bottom < height, left > 0, right < width, 0.9, 24,
    )  # fmt: skip
    return (
        outer[0] + lf if lf else left,
        outer[1] + t if t else top,
        outer[2] - r if r else right,
        outer[3] - b if b else bottom,
    )


def _scaled(
    box: tuple[int, int, int, int] | None,
    small: Image.Image | NDArray[np.uint8],
    big: Image.Image | NDArray[np.uint8],
) -> tuple[int, int, int, int] | None:
    """A box found on a reduced copy, in the coordinates of the larger image."""
    if box is None:
        return None
    (big_w, big_h), (small_w, small_h) = _size(big), _size(small)
    fx, fy = big_w / small_w, big_h / small_h
    left, top, right, bottom = box
    return (round(left * fx), round(top * fy), round(right * fx), round(bottom * fy))


def unrotated_box(
    query: Image.Image, turned: Image.Image, angle: float
) -> tuple[int, int, int, int]:
    """Where the original lies in ``turned`` if ``query`` was it rotated by ``-angle`` with expand.

    A w x h image rotated by t with expand becomes (w cos t + h sin t) x (w sin t + h cos t);
    this solves for w and h and centres the box, so no border search is needed.
    """
    t = np.deg2rad(abs(angle))
    c, s = float(np.cos(t)), float(np.sin(t))
    det = c * c - s * s
    w = (query.width * c - query.height * s) / det
    h = (query.height * c - query.width * s) / det
    w, h = max(8.0, min(w, turned.width)), max(8.0, min(h, turned.height))
    x0, y0 = (turned.width - w) / 2, (turned.height - h) / 2
    return (round(x0), round(y0), round(x0 + w), round(y0 + h))


def rotation_angle(img: Image.Image | NDArray[np.uint8], tol: int = 28) -> float | None:
    """The angle (degrees, PIL's sense) of a rotation with filled corners, or ``None``.

    A w x h image turned by t with expand leaves four triangles of fill colour.
    The top-left one has legs w cos t (along the top) and w sin t (along the
    left side) for a counter-clockwise turn, h sin t and h cos t for a clockwise
    one; the bottom-right one is its mirror. The ratio of the legs gives t.
    """
    # only the outermost lines are read: from each end, how many of their pixels are of
    # the fill colour (within tol of :func:`corner_colour` on every channel)
    _, runs = robust_kernels.outer_runs(_rgb(img), tol)
    top, top_r, bottom, bottom_r, left, left_r, right, right_r = (int(v) for v in runs)
    estimates = []
    for a, b, ccw_when_a_longer in (
        (top, left, True),  # top-left: top row from the left, left column down
        (bottom_r, right_r, True),  # bottom-right, its mirror
        (top_r, right, False),  # top-right: top row from the right, right column down
        (bottom, left_r, False),  # bottom-left, its mirror
    ):
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


def corner_colour(img: Image.Image | NDArray[np.uint8]) -> tuple[int, int, int]:
    """The median of the four corner pixels, per channel (truncated to an integer): the
    fill colour of a rotation with expand."""
    fill, _ = robust_kernels.outer_runs(_rgb(img), 0)
    r, g, b = (int(v) for v in fill)
    return (r, g, b)


def framed(small: Image.Image | NDArray[np.uint8], tol: int = 24, share: float = 0.8) -> bool:
    """Whether an image (its reduced copy) sits in a frame: at least three of its four
    outermost lines have ``share`` of their pixels within ``tol`` of one colour, the same
    for the three. A screenshot's or a meme template's canvas and a rotation's fill
    corners are; a photograph's edges are not, even smooth ones (sky above, ground below:
    each line plain, but not of one colour)."""
    return bool(robust_kernels.framed(_rgb(small), tol, share))


def framed_box(regions: Sequence[Region]) -> tuple[int, int, int, int] | None:
    """The box of the picture inside a frame, for the keypoint step's look at that picture
    alone: the ``frame`` region of an image that sits in a frame (:func:`framed`), else
    ``None``."""
    for region in regions:
        if region.name == "frame" and region.framed:
            return region.box
    return None


def robust_views(
    image: Image.Image | NDArray[np.uint8],
    *,
    rotations: Iterable[float] = _ROTATIONS,
    orient_regions: bool = True,
    oriented: tuple[Sequence[str], int] | None = None,
    coarse: bool = False,
    regions: list[Region] | None = None,
) -> list[View]:
    """The PDQ views of a decoded RGB image to look up against plain PDQ banks.

    The first view, ``pdq``, is exactly the plain PDQ hash of the image (what a
    platform banks), so robust matching never finds less than plain matching.
    The others, in order: the 7 other orientations (``rot90`` ...), the
    trimmed content (``trim``; padding, letterbox, borders of any colour), the
    salient rectangle (``frame``; an image inside a screenshot or meme
    template), the image turned back by the angle its filled corners show
    (``unrotate``), then one view per angle in ``rotations`` (none by default;
    blind angles need to be within ~0.5 degrees to help). With
    ``orient_regions`` the trim and frame views are also hashed in every
    orientation (``trim:rot90`` ...; a mirrored and padded copy). Regions that
    repeat an earlier one are left out, so a plain photograph yields 8 views and
    a padded, framed and rotated one up to 25. Look each up and keep the
    smallest distance; a match is a distance at most :data:`ROBUST_THRESHOLD`.
    The 8 orientations are the plain PDQ hashes of the whole image turned each way
    (:func:`accord.signals.pdqfast.oriented_hex`); ``oriented``: those 8 hashes and the
    quality when the caller has them already (the photo lookup hashes the upload so), so
    that the image is not hashed twice.
    ``coarse``: also hash each region as found on the 128-px copy, before it is made
    exact at full resolution (``trim:coarse``, ``frame:coarse``; one view each, only when
    the two boxes differ by 4 pixels or more): JPEG's 8 x 8 blocks smear a picture's
    edge into the frame around it, and the exact edge then lands a block off (the
    image lookup asks them; video frames do not).
    ``regions``: when a list is given, the regions found (:class:`Region`) are
    appended to it, for the keypoint step's look at a framed picture alone.
    """
    # the pixels as one array; every reduction below is an area average of it
    # (OpenCV's INTER_AREA, :func:`_area`), with no copy into Pillow's storage
    img = _as_array(image)
    if min(img.shape[:2]) < 8:
        raise InvalidMedia("an image must be at least 8 x 8 pixels", size=_size(img))
    hashes, quality = pdqfast.oriented_hex(img) if oriented is None else oriented
    names = ("pdq", *ORIENTATIONS[1:])
    views = [View(name, h, quality) for name, h in zip(names, hashes, strict=True)]

    work = _reduced_array(img, _WORK_SIDE)

    seen: list[tuple[int, int, int, int]] = []

    def hashed_already(box: tuple[int, int, int, int]) -> bool:
        """Whether a region within 4 pixels of ``box`` on every side was hashed already."""
        return any(max(abs(a - b) for a, b in zip(box, s, strict=True)) < 4 for s in seen)

    def add_region(
        name: str, src: NDArray[np.uint8], box: tuple[int, int, int, int] | None
    ) -> None:
        if box is None or hashed_already(box):
            return
        seen.append(box)
        buf = _area(src, (_BUFFER, _BUFFER), box)
        if orient_regions:
            hashes, q = pdqfast.hashes_hex_dihedral(buf)
            views.append(View(name, hashes[0], q))
            views.extend(
                View(f"{name}:{o}", h, q) for o, h in zip(ORIENTATIONS[1:], hashes[1:], strict=True)
            )
        else:
            views.append(View(name, *_hash(buf)))

    small = _reduced_array(work, _DETECT_SIDE)
    is_framed = framed(small) if regions is not None else False
    for name, found in (
        ("trim", _trim_box(small, ratio=0.97, tol=24, passes=1)),
        ("frame", _salient_box(small)),
    ):
        exact = _refine(img, found, small)
        add_region(name, img, exact)
        if regions is not None and exact is not None:
            regions.append(Region(name, exact, is_framed))
        rough = _scaled(found, small, img) if coarse else None
        if rough is not None and not hashed_already(rough):
            seen.append(rough)
            views.append(View(f"{name}:coarse", *_hash(_area(img, (_BUFFER, _BUFFER), rough))))

    angle = rotation_angle(work)
    if angle is not None:
        # counter-rotate by the angle measured from the fill triangles in the corners
        fill = corner_colour(work)
        work_img = Image.fromarray(work, "RGB")
        turned = work_img.rotate(
            -angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill
        )
        box = unrotated_box(work_img, turned, angle)
        views.append(View("unrotate", *_hash(pdq_buffer(turned, box))))
    extras = tuple(rotations)
    if extras:
        small_img = Image.fromarray(small, "RGB")
        for extra in extras:
            turned = small_img.rotate(extra, resample=Image.Resampling.BILINEAR, expand=True)
            box = unrotated_box(small_img, turned, extra)
            views.append(View(f"rot{extra:+g}", *_hash(pdq_buffer(turned, box))))
    return views


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels a photo lookup runs, now: the PDQ
    passes and every region search, by the views of a small framed, bordered picture. A
    fresh install compiles them in about 15 s, a cached one loads them in about 0.3 s;
    the service calls this in the background as it starts, so no upload waits for it."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    canvas = np.full((200, 160, 3), 250, dtype=np.uint8)
    canvas[40:160, 35:125] = picture
    canvas[5:12, 10:150] = 20  # a line of "text" above the picture
    # numba compiles for read-only arrays (np.asarray of a Pillow image) apart from
    # writeable ones (a decoded upload): both
    frozen = canvas.copy()
    frozen.flags.writeable = False
    for pixels in (canvas, frozen):
        robust_views(pixels, coarse=True, regions=[])


def rotate_crop_box(width: int, height: int, angle: float) -> tuple[float, float, float, float]:
    """The largest centred upright rectangle of the image's own aspect ratio inside a
    ``width`` x ``height`` image turned by ``angle`` degrees in place (no expand): what a
    photo editor's "straighten" keeps. Its sides are the image's times
    ``1 / (cos t + sin t * max(w/h, h/w))``."""
    t = np.deg2rad(abs(angle))
    scale = 1.0 / (np.cos(t) + np.sin(t) * max(width / height, height / width))
    cw, ch = width * scale, height * scale
    return ((width - cw) / 2, (height - ch) / 2, (width + cw) / 2, (height + ch) / 2)


def bank_view_name(angle: float) -> str:
    """The name a match through a bank-side view reports: ``bank:rot+3.5`` (degrees)."""
    return f"bank:rot{angle:+g}"


def bank_rotations(
    image: Image.Image | NDArray[np.uint8], angles: Sequence[float] = BANK_ROTATIONS
) -> list[tuple[float, str]]:
    """Bank-side views of an image banked from its media: ``(angle, PDQ hex)`` of its
    rotate-crop at each of ``angles``.

    Why on the bank side: a query turned by a few degrees and cropped to an upright
    rectangle has lost its corners, so the query side cannot undo it (the angle would
    have to be guessed within ~0.5 degrees and the cut corners cannot be restored).
    The banked image itself is whole: each of its rotate-crops (turned in place on
    the 256-px working copy, cropped by :func:`rotate_crop_box`, a 64 x 64 area
    average) is hashed as the other views are, and a query's plain PDQ (or another of
    its views) lands near the one at its angle. These hashes are a local side
    signal, kept beside the item's keypoints and never exported.
    """
    if isinstance(image, Image.Image) and image.mode == "RGB":
        img = image
    else:
        img = Image.fromarray(_as_array(image))
    if img.width < 8 or img.height < 8:
        raise InvalidMedia("an image must be at least 8 x 8 pixels", size=img.size)
    work = reduced(img, _WORK_SIDE)
    out: list[tuple[float, str]] = []
    for angle in angles:
        turned = work.rotate(angle, resample=Image.Resampling.BILINEAR)
        box = rotate_crop_box(work.width, work.height, angle)
        buffer = np.asarray(turned.resize((_BUFFER, _BUFFER), Image.Resampling.BOX, box=box))
        out.append((float(angle), _hash(buffer)[0]))
    return out


def best_match(
    views: Sequence[View], bank: NDArray[np.uint8], *, threshold: int | None = None
) -> Match | None:
    """The reference matching rule: the smallest distance over views to any bank hash.

    ``bank`` holds packed hashes, one row of 32 bytes each (:func:`hex_to_bits`).
    Returns ``None`` for an empty bank, or when the best distance is over
    ``threshold`` (when one is given).
    """
    if len(bank) == 0 or not views:
        return None
    queries = np.stack([hex_to_bits(v.pdq_hex) for v in views])
    q64 = queries.view(np.uint64)
    b64 = np.ascontiguousarray(bank).view(np.uint64)
    dist = np.bitwise_count(q64[:, None, :] ^ b64[None, :, :]).sum(axis=2)
    flat = int(np.argmin(dist))
    vi, bi = divmod(flat, dist.shape[1])
    d = int(dist[vi, bi])
    if threshold is not None and d > threshold:
        return None
    return Match(row=bi, distance=d, view=views[vi].name)
