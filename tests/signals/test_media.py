"""Bad input to the media decoders: each refusal is the right error with a clear message, and a
brief fuzz of mutated valid files lets nothing but accord's errors escape."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from accord.errors import AccordError, InvalidMedia, MediaTooLarge
from accord.signals import (
    ContentType,
    MediaLimits,
    check_size,
    decode_image,
    decode_text,
    default_registry,
    open_video,
)

from .conftest import encode_image

LIMITS = MediaLimits()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with one tiny compressed row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_valid_image_decodes_to_rgb(make_image) -> None:
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
        decoded = decode_image(encode_image(make_image(1).resize((64, 48)), fmt), LIMITS)
        assert decoded.pixels.shape == (48, 64, 3)
        assert decoded.pixels.dtype == np.uint8
        assert (decoded.width, decoded.height, decoded.format) == (64, 48, fmt)


def test_modes_are_converted_to_rgb() -> None:
    for mode in ("L", "RGBA", "P", "1", "I;16", "CMYK", "LA"):
        decoded = decode_image(encode_image(Image.new(mode, (8, 8)), "TIFF"), LIMITS)
        assert decoded.pixels.shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (os.urandom(2048), "not an image of a supported format"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
        (b"GIF89a" + b"\x00" * 3, "not an image|cannot be read|truncated|corrupt"),
        (b"just some text, not a picture", "not an image"),
    ],
    ids=["empty", "random", "eps", "gif-stub", "text"],
)
def test_not_an_image(data: bytes, message: str) -> None:
    with pytest.raises(InvalidMedia, match=message):
        decode_image(data, LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(make_image, fmt: str) -> None:
    data = encode_image(make_image(2), fmt)
    with pytest.raises(InvalidMedia, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2], LIMITS)


def test_corrupt_png_checksum(make_image) -> None:
    data = bytearray(encode_image(make_image(2), "PNG"))
    data[40] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    with pytest.raises(InvalidMedia):
        decode_image(bytes(data), LIMITS)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidMedia, match=r"100000x100000|bomb"):
        decode_image(_png_header(100_000, 100_000), LIMITS)


def test_pixel_limit_is_configurable() -> None:
    small = MediaLimits(max_pixels=1000)
    with pytest.raises(InvalidMedia, match="decompression bomb or absurd dimensions"):
        decode_image(encode_image(Image.new("RGB", (40, 40)), "PNG"), small)


def test_absurd_dimensions() -> None:
    with pytest.raises(InvalidMedia, match="absurd dimensions 1x50000"):
        decode_image(_png_header(1, 50_000), LIMITS)


def test_oversize_upload() -> None:
    limits = MediaLimits(max_bytes=100)
    with pytest.raises(MediaTooLarge, match="101 bytes; the limit is 100"):
        check_size(b"x" * 101, limits)
    with pytest.raises(MediaTooLarge):
        decode_image(b"x" * 101, limits)
    with pytest.raises(MediaTooLarge), open_video(b"x" * 101, limits):
        pass
    with pytest.raises(MediaTooLarge):
        default_registry().hash(ContentType.TEXT, b"x" * 101, limits)


def test_text_must_be_utf8() -> None:
    assert decode_text("\ufeffhé".encode()) == "hé"
    with pytest.raises(InvalidMedia, match="not valid UTF-8: byte 1"):
        decode_text(b"a\xffb")


def _temp_files() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("accord-video-")}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (os.urandom(4096), "not a video container|no frame|cannot be decoded"),
        (b"this is not a video at all" * 10, "not a video container|no frame|cannot be decoded"),
    ],
    ids=["empty", "random", "text"],
)
def test_not_a_video(data: bytes, message: str) -> None:
    before = _temp_files()
    with pytest.raises(InvalidMedia, match=message), open_video(data, LIMITS):
        pass
    assert _temp_files() == before


def test_image_is_not_a_video_stream(make_image) -> None:
    # A PNG is a one-frame "video" to FFmpeg; an audio-only file has no video stream.
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with (
        pytest.raises(InvalidMedia, match="no video stream"),
        open_video(buffer.getvalue(), LIMITS),
    ):
        pass


def test_video_that_fails_to_decode(make_video) -> None:
    data = bytearray(make_video(3))
    # keep the container header, destroy every coded frame
    body = data.find(b"mdat")
    assert body > 0
    data[body + 8 :] = os.urandom(len(data) - body - 8)
    with pytest.raises(InvalidMedia), open_video(bytes(data), LIMITS):
        pass


def test_truncated_video(make_video) -> None:
    data = make_video(3)
    with pytest.raises(InvalidMedia), open_video(data[: len(data) // 3], LIMITS) as video:
        list(video.frames(1.0))


def test_too_long_video(make_video) -> None:
    with (
        pytest.raises(InvalidMedia, match="limit is 2 s"),
        open_video(make_video(3, seconds=4), MediaLimits(max_video_seconds=2)),
    ):
        pass


def test_video_dimensions_over_limit(make_video) -> None:
    with (
        pytest.raises(InvalidMedia, match="absurd dimensions"),
        open_video(make_video(3, seconds=1), MediaLimits(max_pixels=1000)),
    ):
        pass


def test_temp_file_removed_after_use_and_on_error(make_video) -> None:
    before = _temp_files()
    with open_video(make_video(3, seconds=1), LIMITS) as video:
        assert len(_temp_files() - before) == 1
        list(video.frames(1.0))
    assert _temp_files() == before
    with pytest.raises(RuntimeError), open_video(make_video(3, seconds=1), LIMITS):
        raise RuntimeError("the caller failed")
    assert _temp_files() == before


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    if cut is not None:
        out = out[: max(1, cut % len(out))]
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12)
CUTS = st.none() | st.integers(0, 1 << 20)


@pytest.fixture(scope="module")
def fuzz_images() -> list[bytes]:
    from .conftest import _picture

    image = _picture(9, 64)
    return [encode_image(image, fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")]


@pytest.fixture(scope="module")
def fuzz_video() -> bytes:
    from .conftest import _video

    return _video(9, seconds=1, size=32, rate=5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(which=st.integers(0, 5), edits=EDITS, cut=CUTS)
def test_fuzz_decode_image(fuzz_images: list[bytes], which: int, edits, cut) -> None:
    data = _mutate(fuzz_images[which], edits, cut)
    try:
        decoded = decode_image(data, LIMITS)
    except AccordError:
        return
    assert decoded.pixels.ndim == 3


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=EDITS, cut=CUTS)
def test_fuzz_open_video(fuzz_video: bytes, edits, cut) -> None:
    data = _mutate(fuzz_video, edits, cut)
    try:
        with open_video(data, LIMITS) as video:
            for frame in video.frames(1.0):
                assert frame.pixels.ndim == 3
    except AccordError:
        return
