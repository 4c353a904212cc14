"""PDQ hashing speed: accord's numpy PDQ (``accord.signals.pdqfast``) against ``pdqhash``.

``pdqhash`` (the reference C++ behind Cython) is the baseline, measured in the
same run on the same images. For each size, a set of photo-like images (smooth
noise, gradients, shapes, grain, half of them through a JPEG round trip) is
hashed by both; the table gives the median milliseconds per image of
``compute`` and ``compute_dihedral``, the speed-up, and the agreement: the
share of images whose 256 bits are identical, the largest difference in bits,
and the share with the same quality.

    .venv/bin/python benchmarks/pdq_hasher.py            # 40 images a size
    .venv/bin/python benchmarks/pdq_hasher.py --quick    # 8 images a size
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

from accord.signals import pdqfast

SIZES: list[tuple[int, int]] = [(64, 64), (256, 256), (512, 512), (768, 1024), (1536, 2048)]


def photo(rng: np.random.Generator, h: int, w: int) -> NDArray[np.uint8]:
    """A photo-like RGB image: smooth noise, a gradient wash, shapes and grain."""
    cells = (int(rng.integers(3, 10)), int(rng.integers(3, 10)), 3)
    base = Image.fromarray((rng.random(cells) * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(2, 8))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        draw.ellipse([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    arr = np.asarray(base.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float64)
    ramp = np.linspace(0, float(rng.uniform(0, 60)), h)[:, None, None]
    arr = np.clip(arr + ramp + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=int(rng.integers(50, 95)))
        arr = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return arr


Pixels = NDArray[np.uint8]


def per_image_ms(fn: Callable[[Pixels], object], images: list[Pixels]) -> float:
    """Median over 3 passes of the mean time per image, in ms."""
    fn(images[0])
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        for img in images:
            fn(img)
        passes.append((time.perf_counter() - start) / len(images) * 1e3)
    return statistics.median(passes)


def bits_apart(a: object, b: object) -> int:
    return int((np.asarray(a, dtype=np.uint8) != np.asarray(b, dtype=np.uint8)).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 images a size instead of 40")
    args = parser.parse_args()
    count = 8 if args.quick else 40
    rng = np.random.default_rng(2026)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {count} images a size")
    header = (
        "| size (W x H) | pdqhash ms | ours ms | speed-up | dihedral pdqhash ms | "
        "dihedral ours ms | speed-up | same bits | max bits apart | same quality |"
    )
    print(header)
    print("|" + " --- |" * 10)
    for h, w in SIZES:
        images = [photo(rng, h, w) for _ in range(count)]
        ref_ms = per_image_ms(pdqhash.compute, images)
        ours_ms = per_image_ms(pdqfast.compute, images)
        ref_d_ms = per_image_ms(pdqhash.compute_dihedral, images)
        ours_d_ms = per_image_ms(pdqfast.compute_dihedral, images)
        same = worst = same_quality = 0
        for img in images:
            ref_bits, ref_quality = pdqhash.compute(img)
            our_bits, our_quality = pdqfast.compute(img)
            ref_all, _ = pdqhash.compute_dihedral(img)
            our_all, _ = pdqfast.compute_dihedral(img)
            apart = max(
                [bits_apart(ref_bits, our_bits)]
                + [bits_apart(r, o) for r, o in zip(ref_all, our_all, strict=True)]
            )
            same += apart == 0
            worst = max(worst, apart)
            same_quality += int(ref_quality) == our_quality
        print(
            f"| {w} x {h} | {ref_ms:.2f} | {ours_ms:.2f} | {ref_ms / ours_ms:.1f}x "
            f"| {ref_d_ms:.2f} | {ours_d_ms:.2f} | {ref_d_ms / ours_d_ms:.1f}x "
            f"| {same}/{count} | {worst} | {same_quality}/{count} |"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
