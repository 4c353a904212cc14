"""Fixtures of the signal tests: media generated in the test (images, videos, texts), never
downloaded, and generators of valid signals with near-duplicates for every registered type."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from accord.signals import MediaLimits, default_registry
from accord.signals.registry import SignalRegistry

ImageMaker = Callable[..., Image.Image]
VideoMaker = Callable[..., bytes]


@pytest.fixture(scope="session")
def registry() -> SignalRegistry:
    return default_registry()


@pytest.fixture
def limits() -> MediaLimits:
    return MediaLimits()


def _picture(seed: int, size: int = 256) -> Image.Image:
    """A photo-like picture: a gradient, smoothed noise and a few shapes, all from ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    angle = rng.uniform(0, 2 * np.pi)
    base = np.cos(angle) * x + np.sin(angle) * y
    channels = [(base * rng.uniform(80, 200) + rng.uniform(0, 55))[..., None] for _ in range(3)]
    arr = np.concatenate(channels, axis=2)
    noise = Image.fromarray(rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8))
    noise = noise.resize((size, size), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    arr = np.clip(arr * 0.6 + np.asarray(noise, dtype=np.float64) * 0.4, 0, 255).astype(np.uint8)
    image = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, size - 40, 2)
        w, h = rng.integers(20, size // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=colour)
        else:
            draw.rectangle((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=colour)
    return image


@pytest.fixture(scope="session")
def make_image() -> ImageMaker:
    return _picture


def encode_image(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _video(
    seed: int,
    *,
    seconds: float = 4,
    size: int = 64,
    rate: int = 10,
    codec: str = "mpeg4",
    container: str = "mp4",
    bit_rate: int = 1_500_000,
    output_size: int | None = None,
) -> bytes:
    """A short video of moving shapes over a textured background drawn from ``seed``;
    ``output_size`` scales the same content to another frame size."""
    out_side = output_size or size
    rng = np.random.default_rng(seed)
    background = np.asarray(_picture(seed, 128).resize((size, size)), dtype=np.uint8)
    shapes = [
        (
            rng.integers(0, size, 2),
            rng.integers(-3, 4, 2),
            rng.integers(8, size // 2),
            rng.integers(0, 255, 3),
        )
        for _ in range(4)
    ]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width = out_side
        stream.height = out_side
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        for n in range(int(seconds * rate)):
            frame = background.copy()
            # the scene changes every second (half-way between samples), as footage does
            frame = np.roll(frame, shift=((n + rate // 2) // rate) * size // 5, axis=1)
            for (x0, y0), (dx, dy), side, colour in shapes:
                x = int(x0 + dx * n) % size
                y = int(y0 + dy * n) % size
                frame[y : y + side, x : x + side] = colour
            if out_side != size:
                scaled = Image.fromarray(frame).resize(
                    (out_side, out_side), Image.Resampling.BILINEAR
                )
                frame = np.asarray(scaled)
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video_frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def make_video() -> VideoMaker:
    return _video


# --- valid signals and their near-duplicates, per signal type -------------------------------


def _flip(hex_value: str, bits: int, rng: random.Random) -> str:
    value = int(hex_value, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def _pdq_samples(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        base = f"{rng.getrandbits(256):064x}"
        out.append(base)
        out.extend(_flip(base, rng.choice([1, 10, 25, 31, 32, 40, 90]), rng) for _ in range(3))
    return out[:n]


def _vpdq_samples(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []

    def lines(frames: list[tuple[int, str]]) -> str:
        return "\n".join(f"{i},{q},{h},{i:.3f}" for i, (q, h) in enumerate(frames))

    while len(out) < n:
        # Two frames of full quality first, so every variant keeps a usable frame.
        frames = [
            (100 if i < 2 else rng.choice([100, 90, 70, 55, 40]), f"{rng.getrandbits(256):064x}")
            for i in range(rng.randint(2, 8))
        ]
        out.append(lines(frames))
        for _ in range(3):
            variant = [(q, _flip(h, rng.choice([0, 5, 20, 31, 40]), rng)) for q, h in frames]
            if len(variant) > 2 and rng.random() < 0.5:
                variant.pop(rng.randrange(2, len(variant)))
            if rng.random() < 0.3:
                variant.append((100, f"{rng.getrandbits(256):064x}"))
            out.append(lines(variant))
    return out[:n]


def _hex_samples(length: int) -> Callable[[random.Random, int], list[str]]:
    def samples(rng: random.Random, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            value = f"{rng.getrandbits(length * 4):0{length}x}"
            out.extend([value, value] if rng.random() < 0.3 else [value])
        return out[:n]

    return samples


_VOCABULARY = (
    "people nation struggle history freedom enemy future blood land order truth "
    "power duty honour children fight rise fall remember never again today must"
)
WORDS = tuple(_VOCABULARY.split())


def _text_samples(rng: random.Random, n: int) -> list[str]:
    from accord.signals.text import TextSignal

    signal = TextSignal()
    out: list[str] = []
    while len(out) < n:
        words = [rng.choice(WORDS) + str(rng.randint(0, 40)) for _ in range(rng.randint(5, 200))]
        out.append(signal.hash_text(" ".join(words)).value)
        for _ in range(2):
            edited = [w for w in words if rng.random() > 0.15]
            edited = edited or words[:1]
            if rng.random() < 0.3:
                edited = edited + [rng.choice(WORDS) for _ in range(len(words))]
            out.append(signal.hash_text(" ".join(edited)).value)
    return out[:n]


def _url_samples(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        host = rng.choice(["example.com", "files.example.org", "xn--bcher-kva.de"])
        path = "/".join(rng.choice(["a", "b", "c", "d"]) for _ in range(rng.randint(0, 3)))
        out.append(f"https://{host}/{path}")
        out.append(f"HTTPS://{host.upper()}:443/{path}?utm_source=x#frag")
    return out[:n]


SAMPLES: dict[str, Callable[[random.Random, int], list[str]]] = {
    "pdq": _pdq_samples,
    "vpdq": _vpdq_samples,
    "md5": _hex_samples(32),
    "video_md5": _hex_samples(32),
    "sha256": _hex_samples(64),
    "text": _text_samples,
    "url": _url_samples,
}
