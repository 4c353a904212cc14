"""Realistic PDQ hashes for the matching benchmark: hashes of natural-looking images,
of their variants, and a large synthetic bank grown from them.

Why: uniform random 256-bit strings are the easy case for a Hamming index (every
bucket holds the same number of hashes). PDQ hashes of real images are not uniform:
smooth images share low-frequency structure, neighbouring DCT bits are correlated, and
banks hold clusters of near-duplicates. The index must be exact on those.

How the data is made (documented in docs/matching-scale.md):

1. ``images`` — N images drawn at 96x96 from a mix of families that resemble photos:
   multi-octave smooth noise (1/f "clouds"), linear and radial colour gradients,
   random shapes (ellipses, rectangles, polygons) over noise or gradient backgrounds,
   and periodic textures (sinusoidal stripes/checks), often two families blended,
   then blurred a little. Each is hashed with the ``pdqhash`` package.
2. ``variants`` — for a subset of them, real transformed copies, each hashed again:
   JPEG re-encoding at quality 15-60, downscaling to 1/2 and 1/4, crops of 3-12% per
   edge, Gaussian noise, brightness/contrast changes. From these we measure the
   distribution of the Hamming distance between an image and its variant, and how
   often each of the 256 bits flips.
3. ``synthetic bank`` — the base hashes, then items made by taking a random base hash
   and flipping ``d`` bits, with ``d`` drawn from the measured variant distances and the
   bit positions drawn in proportion to the measured per-bit flip rates.

Everything is generated from a fixed seed and cached in ``benchmarks/.cache`` as
``.npy`` arrays (never pickle).
"""

from __future__ import annotations

import io
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image, ImageDraw, ImageFilter

SIZE = 96
CACHE = Path(__file__).resolve().parent / ".cache"
VARIANT_KINDS = ("jpeg", "half", "quarter", "crop", "noise", "contrast")

U8 = npt.NDArray[np.uint8]


def _pdq(image: Image.Image) -> U8:
    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(bits.astype(np.uint8))


def _smooth_noise(rng: np.random.Generator) -> Image.Image:
    acc = np.zeros((SIZE, SIZE, 3), dtype=np.float64)
    for octave, cells in enumerate((3, 6, 12, 24)):
        grid = rng.random((cells, cells, 3)) * 255
        layer = Image.fromarray(grid.astype(np.uint8)).resize(
            (SIZE, SIZE), Image.Resampling.BICUBIC
        )
        acc += np.asarray(layer, dtype=np.float64) / (1.6**octave)
    acc -= acc.min()
    acc *= 255 / max(acc.max(), 1.0)
    return Image.fromarray(acc.astype(np.uint8))


def _gradient(rng: np.random.Generator) -> Image.Image:
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    if rng.random() < 0.5:
        angle = rng.random() * 2 * np.pi
        t = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    else:
        cx, cy = rng.random(2)
        t = np.clip(np.hypot(x - cx, y - cy) * rng.uniform(0.8, 2.0), 0, 1)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    return Image.fromarray(pixels.astype(np.uint8))


def _shapes(rng: np.random.Generator) -> Image.Image:
    image = _smooth_noise(rng) if rng.random() < 0.5 else _gradient(rng)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 9))):
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, y0 = rng.integers(-10, SIZE, 2)
        w, h = rng.integers(8, SIZE // 2, 2)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=fill)
        elif kind == 1:
            draw.rectangle((int(x0), int(y0), int(x0 + w), int(y0 + h)), fill=fill)
        else:
            points = [tuple(int(v) for v in rng.integers(0, SIZE, 2)) for _ in range(3)]
            draw.polygon(points, fill=fill)
    return image


def _texture(rng: np.random.Generator) -> Image.Image:
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    fx, fy = rng.uniform(1, 12, 2)
    phase = rng.random() * 6.3
    wave = np.sin(2 * np.pi * (fx * x + phase)) + (rng.random() < 0.5) * np.sin(2 * np.pi * fy * y)
    base = np.asarray(_smooth_noise(rng), dtype=np.float64)
    pixels = base * 0.6 + (wave[..., None] * 50 + 100) * rng.uniform(0.3, 1.0, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


FAMILIES = (_smooth_noise, _gradient, _shapes, _texture)


def natural_image(rng: np.random.Generator) -> Image.Image:
    """One natural-looking RGB image of SIZE x SIZE."""
    image = FAMILIES[int(rng.integers(0, len(FAMILIES)))](rng)
    if rng.random() < 0.4:
        other = FAMILIES[int(rng.integers(0, len(FAMILIES)))](rng)
        image = Image.blend(image, other, float(rng.uniform(0.2, 0.5)))
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.2))))


def variant(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """A transformed copy of ``image`` of one of VARIANT_KINDS."""
    if kind == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(15, 61)))
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind in ("half", "quarter"):
        factor = 2 if kind == "half" else 4
        return image.resize((SIZE // factor, SIZE // factor), Image.Resampling.BILINEAR)
    if kind == "crop":
        edges = (rng.uniform(0.03, 0.12, 4) * SIZE).astype(int)
        return image.crop((edges[0], edges[1], SIZE - edges[2], SIZE - edges[3]))
    if kind == "noise":
        noisy = np.asarray(image, dtype=np.float64) + rng.normal(
            0, rng.uniform(4, 16), (SIZE, SIZE, 3)
        )
        return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    pixels = np.asarray(image, dtype=np.float64)
    pixels = (pixels - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-30, 30)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _work(args: tuple[int, int, int, int]) -> tuple[U8, U8, npt.NDArray[np.int16]]:
    """Hash images [start, stop) of ``seed``; the first ``with_variants`` also get variants."""
    seed, start, stop, with_variants = args
    bases = np.empty((stop - start, 32), dtype=np.uint8)
    variants: list[U8] = []
    owners: list[int] = []
    for i in range(start, stop):
        rng = np.random.default_rng([seed, i])
        image = natural_image(rng)
        bases[i - start] = _pdq(image)
        if i < with_variants:
            for kind in VARIANT_KINDS:
                variants.append(_pdq(variant(image, kind, rng)))
                owners.append(i)
    var = np.asarray(variants, dtype=np.uint8).reshape(-1, 32)
    return bases, var, np.asarray(owners, dtype=np.int16 if stop < 2**15 else np.int32)


@dataclass(frozen=True)
class Corpus:
    """Hashes of real generated images, and transformed copies of the first ones."""

    bases: U8  # (n, 32)
    variants: U8  # (k, 32): VARIANT_KINDS in turn for each image with variants
    owners: npt.NDArray[np.int64]  # (k,): the base row each variant comes from

    def variant_distances(self) -> npt.NDArray[np.int64]:
        x = np.unpackbits(self.bases[self.owners], axis=1) ^ np.unpackbits(self.variants, axis=1)
        return x.sum(axis=1).astype(np.int64)

    def bit_flip_rates(self) -> npt.NDArray[np.float64]:
        x = np.unpackbits(self.bases[self.owners], axis=1) ^ np.unpackbits(self.variants, axis=1)
        rates = x.mean(axis=0) + 1e-4
        return rates / rates.sum()


def load_corpus(images: int, with_variants: int, *, seed: int = 7, workers: int = 2) -> Corpus:
    """The cached corpus for these sizes, generated (in ``workers`` processes) on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"pdq_corpus_s{seed}_n{images}_v{with_variants}"
    files = [stem.with_name(stem.name + f"_{part}.npy") for part in ("bases", "variants", "owners")]
    if all(f.exists() for f in files):
        arrays = [np.load(f, allow_pickle=False) for f in files]
        return Corpus(arrays[0], arrays[1], arrays[2].astype(np.int64))
    step = 2000
    jobs = [(seed, lo, min(lo + step, images), with_variants) for lo in range(0, images, step)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_work, jobs)
    bases = np.concatenate([p[0] for p in parts])
    variants = np.concatenate([p[1] for p in parts])
    owners = np.concatenate([p[2].astype(np.int64) for p in parts])
    for f, array in zip(files, (bases, variants, owners), strict=True):
        np.save(f, array, allow_pickle=False)
    return Corpus(bases, variants, owners)


def flip_bits(
    hashes: U8,
    distances: npt.NDArray[np.int64],
    rates: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> U8:
    """Copies of ``hashes`` with ``distances[i]`` distinct bits flipped, drawn by ``rates``."""
    out = np.unpackbits(hashes, axis=1)
    log_rates = np.log(rates)
    # Gumbel-top-k: the d largest of log(rate) + Gumbel noise are d distinct positions
    # drawn without replacement in proportion to rate; rows are grouped by d.
    for d in np.unique(distances):
        rows = np.flatnonzero(distances == d)
        if d == 0:
            continue
        for lo in range(0, len(rows), 1 << 17):
            part = rows[lo : lo + (1 << 17)]
            keys = log_rates[None, :] + rng.gumbel(size=(len(part), 256))
            top = np.argpartition(-keys, int(d) - 1, axis=1)[:, : int(d)]
            out[part[:, None], top] ^= 1
    return np.packbits(out, axis=1)


def synthetic_bank(corpus: Corpus, size: int, rng: np.random.Generator) -> U8:
    """``size`` hashes: every base hash, then flipped copies of random bases (see module doc).

    Flip masks are drawn once into a pool of 2**18 (distance from the measured variant
    distances, positions by the measured per-bit rates) and each copy XORs a random
    parent with a random mask from the pool: 10M copies then take seconds, not minutes.
    """
    if size <= len(corpus.bases):
        return corpus.bases[:size].copy()
    pool = 1 << 18
    distances = rng.choice(corpus.variant_distances(), pool)
    masks = flip_bits(np.zeros((pool, 32), dtype=np.uint8), distances, corpus.bit_flip_rates(), rng)
    out = np.empty((size, 32), dtype=np.uint8)
    out[: len(corpus.bases)] = corpus.bases
    step = 1 << 20
    for lo in range(len(corpus.bases), size, step):
        hi = min(lo + step, size)
        parents = corpus.bases[rng.integers(0, len(corpus.bases), hi - lo)]
        out[lo:hi] = parents ^ masks[rng.integers(0, pool, hi - lo)]
    return out
