"""Safe decoding of uploaded media: the only place where untrusted bytes meet a decoder.

Data flow: bytes from an upload or a fetch → :func:`check_size` (the configured
byte limit) → :func:`decode_image` (Pillow; the header's dimensions are checked
against the pixel limit *before* the pixels are decoded, so that a
decompression bomb never allocates its payload) or :func:`open_video` (PyAV,
over a private temporary file that is always removed; container duration and
stream dimensions are checked before frames are sampled) or
:func:`decode_text` (strict UTF-8). Every failure, whatever the decoder raised
inside, leaves this module as :class:`~accord.errors.InvalidMedia` (or
:class:`~accord.errors.MediaTooLarge`) with a sentence that says what was wrong.
Hashers receive only the decoded values: an RGB ``uint8`` array per image or frame.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from accord.errors import InvalidMedia, MediaTooLarge

if TYPE_CHECKING:
    from accord.config import Settings

__all__ = [
    "DecodedImage",
    "DecodedVideo",
    "MediaLimits",
    "VideoFrame",
    "check_size",
    "decode_image",
    "decode_text",
    "open_video",
]

Pixels = npt.NDArray[np.uint8]

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
"""Formats Pillow may open. Others stay off: EPS would run Ghostscript on the upload,
and rarely used decoders are where the bugs are."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What accord agrees to decode.

    ``max_side`` refuses absurd shapes (a 1 × 50,000,000 strip) that fit under
    ``max_pixels``; neither side of an image or video frame may exceed it.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 60_000_000
    max_video_seconds: float = 4 * 3600.0
    max_side: int = 32_768

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        """The limits configured by ``ACCORD_MAX_UPLOAD_BYTES`` and friends."""
        return cls(
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            max_video_seconds=settings.max_video_seconds,
        )


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image decoded to RGB, EXIF orientation applied; ``pixels`` has shape (H, W, 3)."""

    pixels: Pixels
    width: int
    height: int
    format: str


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame: its index among the decoded frames, its time (s), its RGB pixels."""

    number: int
    timestamp: float
    pixels: Pixels


def check_size(data: bytes, limits: MediaLimits) -> None:
    """Refuse ``data`` over the byte limit (:class:`MediaTooLarge`)."""
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"Media is {len(data)} bytes; the limit is {limits.max_bytes} bytes",
            size=len(data),
            limit=limits.max_bytes,
        )


def _check_dimensions(width: int, height: int, limits: MediaLimits, what: str) -> None:
    if width <= 0 or height <= 0:
        raise InvalidMedia(
            f"The {what} has absurd dimensions {width}x{height}", width=width, height=height
        )
    if width > limits.max_side or height > limits.max_side:
        raise InvalidMedia(
            f"The {what} has absurd dimensions {width}x{height}; no side may exceed "
            f"{limits.max_side} pixels",
            width=width,
            height=height,
        )
    if width * height > limits.max_pixels:
        raise InvalidMedia(
            f"The {what} would decode to {width}x{height} = {width * height} pixels, over the "
            f"limit of {limits.max_pixels} (a decompression bomb or absurd dimensions)",
            width=width,
            height=height,
        )


_ORIENTATION = 0x0112  # the EXIF Orientation tag


def decode_image(data: bytes, limits: MediaLimits) -> DecodedImage:
    """Decode an image safely, or raise :class:`InvalidMedia` saying why not."""
    check_size(data, limits)
    if not data:
        raise InvalidMedia("The image is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow's own bomb check warns (or raises) on open; ours below is stricter and
        # speaks accord's language. Its other warnings (odd EXIF, extra bytes) concern
        # images that decode fine: they are tolerated the same way in tests and service.
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            raise InvalidMedia(
                f"The data is not an image of a supported format ({', '.join(IMAGE_FORMATS)})"
            ) from None
        except Image.DecompressionBombError as exc:
            raise InvalidMedia(f"The image is a decompression bomb: {exc}", reason="bomb") from None
        except Exception as exc:  # Pillow raises many types on hostile headers
            raise InvalidMedia(f"The image header cannot be read: {exc}") from exc
        with image:
            fmt = image.format or "unknown"
            width, height = image.size
            _check_dimensions(width, height, limits, "image")
            try:
                image.load()
                # both calls copy the whole image when they have nothing to do (1.2 ms of
                # a 512x512 upload's ~4 ms decode), so each runs only when it must
                if image.getexif().get(_ORIENTATION, 1) != 1:
                    ImageOps.exif_transpose(image, in_place=True)
                rgb = image if image.mode == "RGB" else image.convert("RGB")
                pixels = np.array(rgb, dtype=np.uint8)
            except Exception as exc:  # truncated or corrupt data, bad EXIF, codec errors
                raise InvalidMedia(
                    f"The {fmt} image is truncated or corrupt and cannot be decoded: {exc}",
                    format=fmt,
                ) from exc
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.size == 0:
        raise InvalidMedia(f"The {fmt} image decoded to an unusable shape {pixels.shape}")
    return DecodedImage(
        pixels=pixels, width=int(pixels.shape[1]), height=int(pixels.shape[0]), format=fmt
    )


def decode_text(data: bytes) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMedia(
            f"The text is not valid UTF-8: byte {exc.start} (0x{data[exc.start]:02x}) "
            f"cannot be decoded",
            position=exc.start,
        ) from None
    return text.removeprefix("\ufeff")


class DecodedVideo:
    """A video opened by :func:`open_video`: its duration, and frames sampled by time."""

    def __init__(self, path: str, limits: MediaLimits, duration: float | None) -> None:
        self._path = path
        self._limits = limits
        self._duration = duration

    @property
    def duration(self) -> float:
        """Seconds, from the container (or the last frame's time if it did not say)."""
        if self._duration is None:
            last = 0.0
            for frame in self.frames(fps=1.0):
                last = frame.timestamp
            self._duration = last
        return self._duration

    def frames(self, fps: float, *, max_side: int | None = None) -> Iterator[VideoFrame]:
        """Frames sampled at ``fps`` by presentation time: the first frame at or after each
        multiple of ``1/fps`` seconds. ``max_side`` downscales larger frames (aspect kept)."""
        if fps <= 0:
            raise InvalidMedia(f"fps must be positive, not {fps}")
        import av

        step = 1.0 / fps
        try:
            with av.open(self._path, mode="r") as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                next_time = 0.0
                last_time = -1.0
                for number, frame in enumerate(container.decode(stream)):
                    timestamp = _frame_time(frame, number, stream)
                    if timestamp <= last_time:  # missing or repeated timestamps
                        timestamp = last_time + 1e-6
                    last_time = timestamp
                    if timestamp > self._limits.max_video_seconds:
                        raise InvalidMedia(
                            f"The video runs past {self._limits.max_video_seconds:g} s, "
                            "the longest accepted",
                            limit=self._limits.max_video_seconds,
                        )
                    if timestamp + 1e-9 < next_time:
                        continue
                    while next_time <= timestamp + 1e-9:
                        next_time += step
                    yield VideoFrame(
                        number=number,
                        timestamp=round(timestamp, 6),
                        pixels=_frame_pixels(frame, self._limits, max_side),
                    )
        except InvalidMedia:
            raise
        except Exception as exc:  # any decoder failure on hostile input
            raise InvalidMedia(f"The video cannot be decoded: {exc}") from exc


def _frame_time(frame: Any, number: int, stream: Any) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    return float(number / rate)


def _frame_pixels(frame: Any, limits: MediaLimits, max_side: int | None) -> Pixels:
    width, height = int(frame.width), int(frame.height)
    _check_dimensions(width, height, limits, "video frame")
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        frame = frame.reformat(width=width, height=height, format="rgb24")
        pixels: Pixels = frame.to_ndarray()
    else:
        pixels = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(pixels, dtype=np.uint8)


@contextlib.contextmanager
def open_video(data: bytes, limits: MediaLimits) -> Iterator[DecodedVideo]:
    """Open a video safely; yields a :class:`DecodedVideo`; the temporary file is always removed.

    Refused with :class:`InvalidMedia`: empty data, no container PyAV recognises, no video
    stream, absurd dimensions, a known duration over the limit, no frame that decodes.
    """
    check_size(data, limits)
    if not data:
        raise InvalidMedia("The video is empty (0 bytes)")
    fd, path = tempfile.mkstemp(prefix="accord-video-", suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        duration = _probe(path, limits)
        video = DecodedVideo(path, limits, duration)
        # Decoding one frame now turns an undecodable stream into a clear error here,
        # not halfway through a hasher.
        if next(iter(video.frames(fps=1.0)), None) is None:
            raise InvalidMedia("The video has no frame that can be decoded")
        yield video
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _probe(path: str, limits: MediaLimits) -> float | None:
    import av

    try:
        with av.open(path, mode="r") as container:
            if not container.streams.video:
                raise InvalidMedia("The file has no video stream")
            stream = container.streams.video[0]
            width = int(stream.codec_context.width or 0)
            height = int(stream.codec_context.height or 0)
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
    except InvalidMedia:
        raise
    except Exception as exc:  # PyAV raises FFmpeg errors of many kinds on bad input
        raise InvalidMedia(f"The data is not a video container that can be read: {exc}") from exc
    _check_dimensions(width, height, limits, "video")
    if duration is not None and duration > limits.max_video_seconds:
        raise InvalidMedia(
            f"The video lasts {duration:.1f} s; the limit is {limits.max_video_seconds:g} s",
            duration=duration,
            limit=limits.max_video_seconds,
        )
    if duration is not None and duration < 0:
        duration = None
    return duration
