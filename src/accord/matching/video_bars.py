"""A video-level estimate of bars, padding, a template around the picture, or a rotation.

Why: :func:`accord.matching.robust.robust_views` finds a border or a rotation on
each frame alone, from the colour of its edges. On a dark shot inside black
bars the picture's edge has the bars' colour and the frame's trim or angle
comes out wrong; a video then falls under the 80% of its frames that vPDQ's
rule needs. But the bars (or the meme template, or the rotation's filled
corners) are the *same on every frame*, while the picture moves: a pixel that
never changes over the video is border, one that does is picture. One
estimate for the whole video, applied to every frame, needs no frame to show
its own edge.

Data flow::

    frames vPDQ samples ──► StillBorder.add: a 128-px copy, per pixel the running
        minimum and maximum over the video
    StillBorder.estimate ──► Border: the bounding box of the pixels that changed
        (a fraction of the frame), and the angle the still corners show
        (:func:`robust.rotation_angle` on the still/moving mask, not on colours)
    border_views(frame pixels, border) ──► views ``bars`` (+ 7 orientations) or
        ``bars:unrotate``, added to each vPDQ frame's views by
        :func:`accord.matching.video.frame_views`
    crop_to(frame pixels, border) ──► the picture alone, which the keypoint stage
        describes (:mod:`accord.matching.video_keypoints`)

Pure: numpy and Pillow; nothing here decodes or looks anything up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from accord.matching import robust
from accord.matching.robust import ORIENTATIONS, View
from accord.signals import pdqfast

__all__ = ["Border", "StillBorder", "border_views", "crop_to"]

SIDE = 128
"""The mask is computed on a copy whose longer side has this many pixels."""
STILL = 20
"""A pixel is still when no channel varied by more than this over the video (re-encoding
noise on flat bars stays well below it)."""
MOVING_LINE = 0.03
"""A row or column belongs to the picture when this share of its pixels moved."""
MIN_MOVING = 0.10
"""Below this share of moving pixels the video is (nearly) static: no estimate."""
MIN_FRAMES = 3
"""Frames needed before still and moving pixels can be told apart."""
MIN_TRIM = 0.02
"""A box is worth a view only if it removes this share of a side."""


@dataclass(frozen=True, slots=True)
class Border:
    """Where the picture is in every frame: ``box`` as fractions (left, top, right, bottom) of
    the frame, or ``None``; ``angle`` (degrees, PIL's sense) when its corners are still
    fill triangles of a rotation, or ``None``."""

    box: tuple[float, float, float, float] | None
    angle: float | None


class StillBorder:
    """Running per-pixel minimum and maximum of a video's frames, on a small copy."""

    def __init__(self) -> None:
        self._low: NDArray[np.int16] | None = None
        self._high: NDArray[np.int16] | None = None
        self.frames = 0

    def add(self, pixels: NDArray[np.uint8]) -> None:
        """One frame (H x W x 3 uint8); frames of another size than the first are ignored."""
        img = Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]))
        scale = min(1.0, SIDE / max(img.size))
        size = (max(8, round(img.width * scale)), max(8, round(img.height * scale)))
        arr = np.asarray(img.resize(size, Image.Resampling.BOX), dtype=np.int16)
        if self._low is None or self._high is None:
            self._low, self._high = arr.copy(), arr.copy()
        elif arr.shape != self._low.shape:
            return
        else:
            np.minimum(self._low, arr, out=self._low)
            np.maximum(self._high, arr, out=self._high)
        self.frames += 1

    def moving(self) -> NDArray[np.bool_] | None:
        """The mask of pixels that changed over the video (``None`` before enough frames)."""
        if self._low is None or self._high is None or self.frames < MIN_FRAMES:
            return None
        return np.asarray((self._high - self._low).max(axis=2) > STILL)

    def estimate(self) -> Border | None:
        """The video's border, or ``None`` when there is none to undo (or it cannot tell)."""
        mask = self.moving()
        if mask is None or mask.mean() < MIN_MOVING:
            return None
        h, w = mask.shape
        rows = np.flatnonzero(mask.mean(axis=1) >= MOVING_LINE)
        cols = np.flatnonzero(mask.mean(axis=0) >= MOVING_LINE)
        if rows.size == 0 or cols.size == 0:
            return None
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        trimmed = max(left / w, (w - right) / w, top / h, (h - bottom) / h)
        inner = mask[top:bottom, left:right]
        angle = None
        if inner.shape[0] >= 16 and inner.shape[1] >= 16:
            # the still corners' triangles, measured on the mask (moving white, still black)
            picture = np.where(inner, 255, 0).astype(np.uint8)
            angle = robust.rotation_angle(Image.fromarray(np.stack([picture] * 3, axis=-1)))
        box = (left / w, top / h, right / w, bottom / h) if trimmed >= MIN_TRIM else None
        if box is None and angle is None:
            return None
        return Border(box, angle)


def _pixel_box(border: Border, width: int, height: int) -> tuple[int, int, int, int] | None:
    if border.box is None:
        return None
    left, top, right, bottom = border.box
    box = (round(left * width), round(top * height), round(right * width), round(bottom * height))
    return box if box[2] - box[0] >= 8 and box[3] - box[1] >= 8 else None


def crop_to(pixels: NDArray[np.uint8], border: Border | None) -> NDArray[np.uint8]:
    """The frame inside the border's box (the frame itself without a box)."""
    box = _pixel_box(border, pixels.shape[1], pixels.shape[0]) if border is not None else None
    if box is None:
        return pixels
    return np.ascontiguousarray(pixels[box[1] : box[3], box[0] : box[2]])


def border_views(pixels: NDArray[np.uint8], border: Border) -> list[View]:
    """The views of one frame that undo ``border``: the box (``bars`` and its 7 other
    orientations), or, with an angle, the box turned back (``bars:unrotate``)."""
    img = Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]))
    if border.box is not None:
        box = _pixel_box(border, img.width, img.height)
        if box is None:
            return []
        img = img.crop(box)
    if border.angle is not None:
        work = robust.reduced(img, 256)
        turned = work.rotate(
            -border.angle,
            resample=Image.Resampling.BILINEAR,
            expand=True,
            fillcolor=robust.corner_colour(work),
        )
        value, quality = pdqfast.hash_hex(
            robust.pdq_buffer(turned, robust.unrotated_box(work, turned, border.angle))
        )
        return [View("bars:unrotate", value, quality)]
    hashes, quality = pdqfast.hashes_hex_dihedral(robust.pdq_buffer(img))
    return [
        View("bars" if name == ORIENTATIONS[0] else f"bars:{name}", value, quality)
        for name, value in zip(ORIENTATIONS, hashes, strict=True)
    ]
