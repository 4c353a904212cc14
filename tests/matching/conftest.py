"""Fixtures for the matching tests: PDQ hashes of small generated images and their variants."""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageFilter

SIZE = 64


def _pdq_hex(image: Image.Image) -> str:
    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def _image(rng: np.random.Generator) -> Image.Image:
    """Smooth multi-octave noise, a gradient wash and a few shapes: photo-like structure."""
    acc = np.zeros((SIZE, SIZE, 3))
    for octave, cells in enumerate((3, 6, 12)):
        grid = (rng.random((cells, cells, 3)) * 255).astype(np.uint8)
        acc += np.asarray(Image.fromarray(grid).resize((SIZE, SIZE), Image.BICUBIC)) / 2**octave
    y = np.linspace(0, 1, SIZE)[:, None, None]
    acc = acc / acc.max() * 180 + y * rng.integers(0, 75, 3)
    image = Image.fromarray(np.clip(acc, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = (int(v) for v in rng.integers(0, SIZE - 8, 2))
        w, h = (int(v) for v in rng.integers(6, SIZE // 2, 2))
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image.filter(ImageFilter.GaussianBlur(0.7))


def _variants(image: Image.Image, rng: np.random.Generator) -> list[Image.Image]:
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=25)
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0, 8, (SIZE, SIZE, 3))
    return [
        Image.open(io.BytesIO(jpeg.getvalue())),
        image.resize((SIZE // 2, SIZE // 2), Image.BILINEAR),
        image.crop((3, 2, SIZE - 2, SIZE - 3)),
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
    ]


@pytest.fixture(scope="session")
def real_pdq() -> tuple[list[str], list[str]]:
    """PDQ hex of 80 generated images, and of 4 variants of each (JPEG, resize, crop, noise)."""
    rng = np.random.default_rng(42)
    bases: list[str] = []
    variants: list[str] = []
    for _ in range(80):
        image = _image(rng)
        bases.append(_pdq_hex(image))
        variants.extend(_pdq_hex(v) for v in _variants(image, rng))
    return bases, variants
