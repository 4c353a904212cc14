"""accord's numpy PDQ against the reference C++ (``pdqhash``), image by image.

Hashes are exchanged with other platforms, so the point is agreement: the same
bits and quality on photo-like images of every shape (noise, gradients, shapes,
JPEG round trips; tiny, odd, very wide or tall, 64x64, 512x512, 1000x700; grey
and RGBA), and the same 8 dihedral hashes. Where rounding alone decides bits
(sides below 64 pixels, flat or one-axis images) the module replays or defers
to the reference, so those must agree exactly.
"""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

from accord.errors import InvalidMedia
from accord.signals import MediaLimits, PdqSignal, decode_image, pdqfast

Pixels = NDArray[np.uint8]

SIZES: list[tuple[int, int]] = [
    (5, 5), (5, 7), (7, 5), (8, 243), (30, 40), (63, 65), (64, 64), (65, 64), (64, 1000),
    (97, 96), (127, 129), (200, 31), (256, 256), (333, 517), (512, 512), (700, 1000),
    (1000, 700), (40, 1500), (1500, 60), (129, 2000),
]  # fmt: skip


def _texture(rng: np.random.Generator, h: int, w: int) -> Pixels:
    """A photo-like image: smooth noise, a wash, shapes, grain; JPEG round trip sometimes."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        cells = (int(rng.integers(2, 12)), int(rng.integers(2, 12)), 3)
        img = Image.fromarray((rng.random(cells) * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
    elif kind == 1:
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        a = rng.random(5)
        wave = (np.sin(x * a[0] / 20 + y * a[1] / 25 + a[2] * 6) + 1) * 127
        ramp_x, ramp_y = x / max(w - 1, 1) * 255 * a[3], y / max(h - 1, 1) * 255 * a[4]
        img = Image.fromarray(np.stack([wave, ramp_x, ramp_y], -1).astype(np.uint8))
    elif kind == 2:
        img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 12))):
            x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
            y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
    else:
        noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(noise).filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 4))))
    if rng.random() < 0.4:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(30, 95)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return np.asarray(img)


def _corpus(per_size: int, seed: int) -> list[Pixels]:
    rng = np.random.default_rng(seed)
    out: list[Pixels] = []
    for h, w in SIZES:
        for i in range(per_size):
            px = _texture(rng, h, w)
            if i % 3 == 1:  # grey, as a decoder hands it over (three equal channels)
                px = np.asarray(Image.fromarray(px).convert("L").convert("RGB"))
            elif i % 3 == 2:  # through RGBA and back
                px = np.asarray(Image.fromarray(px).convert("RGBA").convert("RGB"))
            out.append(px)
    return out


def _distance(a: object, b: object) -> int:
    return int((np.asarray(a, dtype=np.uint8) != np.asarray(b, dtype=np.uint8)).sum())


@pytest.fixture(scope="module")
def corpus() -> list[Pixels]:
    return _corpus(per_size=12, seed=20261123)


@pytest.mark.slow
def test_hashes_agree_with_the_reference(corpus: list[Pixels]) -> None:
    bits: Counter[int] = Counter()
    quality: Counter[int] = Counter()
    for px in corpus:
        ref_bits, ref_quality = pdqhash.compute(px)
        our_bits, our_quality = pdqfast.compute(px)
        assert our_bits.shape == (256,)
        bits[_distance(ref_bits, our_bits)] += 1
        quality[int(ref_quality) - our_quality] += 1
    exact = bits[0] / len(corpus)
    assert exact >= 0.99, (exact, bits)
    assert max(bits) <= 2, bits
    assert set(quality) <= {-1, 0, 1}, quality
    assert quality[0] / len(corpus) >= 0.99, quality


@pytest.mark.slow
def test_dihedral_hashes_agree_with_the_reference(corpus: list[Pixels]) -> None:
    worst: Counter[int] = Counter()
    for px in corpus[::2]:
        ref_hashes, ref_quality = pdqhash.compute_dihedral(px)
        our_hashes, our_quality = pdqfast.compute_dihedral(px)
        assert len(our_hashes) == 8
        worst[max(_distance(r, o) for r, o in zip(ref_hashes, our_hashes, strict=True))] += 1
        assert abs(int(ref_quality) - our_quality) <= 1
    assert worst[0] / sum(worst.values()) >= 0.98, worst
    assert max(worst) <= 2, worst


def test_dihedral_first_hash_is_the_plain_hash(corpus: list[Pixels]) -> None:
    for px in corpus[::17]:
        hashes, quality = pdqfast.compute_dihedral(px)
        plain, plain_quality = pdqfast.compute(px)
        assert np.array_equal(hashes[0], plain)
        assert quality == plain_quality


def test_dihedral_hashes_are_the_hashes_of_the_turned_image() -> None:
    """Rotations and mirrors of a 64x64 image hash (without filtering) to the dihedral ones."""
    px = _texture(np.random.default_rng(5), 64, 64)
    hashes, _ = pdqfast.compute_dihedral(px)
    turned = [
        px, np.rot90(px, 1), np.rot90(px, 2), np.rot90(px, 3),
        px[::-1], px[:, ::-1], px.transpose(1, 0, 2), np.rot90(px, 2).transpose(1, 0, 2),
    ]  # fmt: skip
    for i, (view, expected) in enumerate(zip(turned, hashes, strict=True)):
        got, _ = pdqfast.compute(np.ascontiguousarray(view))
        assert _distance(got, expected) <= 2, i


@pytest.mark.parametrize(("h", "w"), [(5, 5), (5, 7), (8, 243), (30, 40), (63, 65), (200, 31)])
def test_small_sides_replay_the_reference_float_for_float(h: int, w: int) -> None:
    """Below 64 pixels a side, the 16x16 coefficients are the reference's own floats."""
    rng = np.random.default_rng(h * 1000 + w)
    for _ in range(3):
        px = _texture(rng, h, w)
        ref, ref_quality = pdqhash.compute_float(px)
        ours, quality, replayed = pdqfast._coefficients(px)
        assert replayed
        assert np.array_equal(np.asarray(ref)[::-1].reshape(16, 16), ours)
        assert quality == ref_quality
        assert np.array_equal(pdqfast.compute(px)[0], pdqhash.compute(px)[0])


def test_replayed_dct_uses_the_reference_matrix() -> None:
    """At 64x64 the reference skips the filter: the replayed DCT gives its floats exactly."""
    px = _texture(np.random.default_rng(7), 64, 64)
    ref, _ = pdqhash.compute_float(px)
    ours = pdqfast._dct_exact(pdqfast._luma_exact(px))
    assert np.array_equal(np.asarray(ref)[::-1].reshape(16, 16), ours)


def _stripes(h: int, w: int) -> Pixels:
    """Changes only from left to right: every coefficient is zero in exact arithmetic."""
    ramp = np.linspace(0, 255, w).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(ramp[None, :, None], (h, w, 3)))


# Images whose median coefficient is decided by rounding alone (zero or tied in exact
# arithmetic): the reference's own bits are what they hash to.
ROUNDING = [
    pytest.param(np.full((300, 200, 3), 120, dtype=np.uint8), id="flat"),
    pytest.param(np.full((64, 64, 3), 7, dtype=np.uint8), id="flat-64"),
    pytest.param(_stripes(256, 333), id="stripes"),
    pytest.param(_stripes(333, 256).transpose(1, 0, 2), id="bands"),
]


@pytest.mark.parametrize("px", ROUNDING)
def test_images_whose_bits_are_rounding_agree_exactly(px: Pixels) -> None:
    coefficients, _, _ = pdqfast._coefficients(px)
    assert not pdqfast._decided(coefficients)
    bits, quality = pdqfast.compute(px)
    ref_bits, ref_quality = pdqhash.compute(np.ascontiguousarray(px))
    assert np.array_equal(bits, ref_bits)
    assert quality == ref_quality
    hashes, dq = pdqfast.compute_dihedral(px)
    ref_hashes, ref_dq = pdqhash.compute_dihedral(np.ascontiguousarray(px))
    assert all(np.array_equal(a, b) for a, b in zip(hashes, ref_hashes, strict=True))
    assert dq == ref_dq


@pytest.mark.parametrize(
    "px", [*ROUNDING, pytest.param(np.full((4, 9, 3), 50, dtype=np.uint8), id="below-five")]
)
def test_oriented_hashes_of_rounding_images_start_with_the_plain_hash(px: Pixels) -> None:
    """Where rounding decides the bits, the plain hash of :func:`pdqfast.oriented_hex` is
    still exactly :func:`pdqfast.hash_hex`'s (the reference's), with its quality."""
    hashes, quality = pdqfast.oriented_hex(px)
    assert len(hashes) == 8
    assert (hashes[0], quality) == pdqfast.hash_hex(px)


def test_oriented_hashes_are_the_turned_images_plain_hashes(corpus: list[Pixels]) -> None:
    """Each of the 8 hashes is the plain hash of the image turned that way (not a sign
    flip of one set of coefficients, which a mirror's one-pixel sampling shift spoils):
    a mirrored or turned copy of a banked image is looked up by the banked hash."""
    exact = total = 0
    for px in corpus[::5]:
        hashes, quality = pdqfast.oriented_hex(px)
        assert (hashes[0], quality) == pdqfast.hash_hex(px)
        for orientation in range(1, 8):
            own, _ = pdqfast.hash_hex(np.ascontiguousarray(pdqfast.turned(px, orientation)))
            distance = (int(own, 16) ^ int(hashes[orientation], 16)).bit_count()
            assert distance <= 2, (px.shape, orientation)
            exact += distance == 0
            total += 1
    assert exact >= 0.99 * total


def test_turned_is_the_reference_dihedral_order() -> None:
    """:func:`pdqfast.turned`'s orientations are those of ``pdqhash.compute_dihedral``."""
    px = _texture(np.random.default_rng(11), 64, 64)
    ref, _ = pdqhash.compute_dihedral(np.ascontiguousarray(px))
    for orientation, expected in enumerate(ref):
        got, _ = pdqfast.compute(np.ascontiguousarray(pdqfast.turned(px, orientation)))
        assert _distance(got, expected) <= 2, orientation


def test_photo_like_images_take_the_fast_path(corpus: list[Pixels]) -> None:
    decided = [
        pdqfast._decided(pdqfast._coefficients(px)[0]) for px in corpus if min(px.shape[:2]) >= 64
    ]
    assert sum(decided) / len(decided) >= 0.97


def test_sides_below_five_hash_to_zero() -> None:
    px = np.full((4, 100, 3), 200, dtype=np.uint8)
    bits, quality = pdqfast.compute(px)
    assert not bits.any()
    assert quality == 0
    hashes, dq = pdqfast.compute_dihedral(px)
    assert len(hashes) == 8
    assert not any(h.any() for h in hashes)
    assert dq == 0
    ref_bits, ref_quality = pdqhash.compute(px)
    assert np.array_equal(bits, ref_bits)
    assert quality == ref_quality


def test_grey_rgba_and_views_hash_as_rgb() -> None:
    rng = np.random.default_rng(11)
    rgb = _texture(rng, 300, 400)
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.array_equal(pdqfast.compute(grey)[0], pdqfast.compute(np.stack([grey] * 3, -1))[0])
    rgba = np.concatenate([rgb, np.full((300, 400, 1), 9, dtype=np.uint8)], axis=2)
    assert np.array_equal(pdqfast.compute(rgba)[0], pdqfast.compute(rgb)[0])
    crop = rgb[10:250:, 20:380]  # a strided view, not a copy
    assert np.array_equal(pdqfast.compute(crop)[0], pdqhash.compute(np.ascontiguousarray(crop))[0])


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10, 3), dtype=np.float32), np.zeros((10, 10, 2), dtype=np.uint8), np.zeros(9)],
)
def test_other_arrays_are_refused(bad: NDArray[np.generic]) -> None:
    with pytest.raises(InvalidMedia, match="uint8"):
        pdqfast.compute(bad)  # type: ignore[arg-type]


def test_hex_is_the_exchanged_form() -> None:
    px = _texture(np.random.default_rng(3), 240, 320)
    value, quality = pdqfast.hash_hex(px)
    bits, ref_quality = pdqhash.compute(px)
    assert value == np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
    assert quality == ref_quality
    values, dq = pdqfast.hashes_hex_dihedral(px)
    assert values[0] == value
    assert dq == quality
    assert len(set(values)) == 8


def test_signal_hashes_a_decoded_jpeg_like_the_reference() -> None:
    buf = io.BytesIO()
    Image.fromarray(_texture(np.random.default_rng(4), 512, 512)).save(buf, "JPEG", quality=85)
    decoded = decode_image(buf.getvalue(), MediaLimits())
    hashed = PdqSignal().hash_image(decoded)
    bits, quality = pdqhash.compute(decoded.pixels)
    assert hashed.value == np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
    assert hashed.quality == quality


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(5, 140),
    w=st.integers(5, 140),
    seed=st.integers(0, 2**32 - 1),
    blur=st.floats(0, 3),
)
def test_any_small_image_is_within_two_bits(h: int, w: int, seed: int, blur: float) -> None:
    rng = np.random.default_rng(seed)
    px = np.asarray(
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).filter(
            ImageFilter.GaussianBlur(blur)
        )
    )
    bits, quality = pdqfast.compute(px)
    ref_bits, ref_quality = pdqhash.compute(px)
    assert _distance(bits, ref_bits) <= 2
    assert abs(quality - int(ref_quality)) <= 1
    if min(h, w) < 64:
        assert _distance(bits, ref_bits) == 0
        assert quality == ref_quality


@pytest.mark.parametrize("n", [5, 63, 64, 100, 128, 129, 255, 256, 257, 512, 1000, 2049])
def test_sparse_rows_are_the_reference_filter_twice_then_sampled(n: int) -> None:
    """``B_n`` (the fast path) against the replayed running-sum filter (the exact path)."""
    rng = np.random.default_rng(n)
    x = (rng.random((3, n)) * 255).astype(np.float32)
    plan = pdqfast._plan(n)
    fast = (x[:, plan.source] * plan.weight).sum(axis=-1)
    replay = pdqfast._box_exact(pdqfast._box_exact(x))[:, pdqfast._sample_points(n)]
    assert np.allclose(fast, replay, rtol=0, atol=1e-3)
    assert np.allclose(plan.weight.sum(axis=1), 1.0)


def _reduced_by_numpy(pixels: Pixels) -> NDArray[np.float64]:
    """``B_H L B_W^T`` written out in numpy: every source row of each output row weighted
    and summed in double, channels combined into luminance, then the columns likewise."""
    h, w = pixels.shape[:2]
    rows, cols = pdqfast._plan(h), pdqfast._plan(w)
    px = pixels.astype(np.float64)
    summed = np.zeros((64, *px.shape[1:]))
    for k in range(rows.source.shape[1]):  # taps in order, as the kernel adds them
        summed += rows.weight[:, k].reshape(-1, *[1] * (px.ndim - 1)) * px[rows.source[:, k]]
    luma = (
        summed * sum(pdqfast._LUMA)
        if px.ndim == 2
        else summed[..., 0] * 0.299 + summed[..., 1] * 0.587 + summed[..., 2] * 0.114
    )
    out: NDArray[np.float64] = np.einsum("ijk,jk->ij", luma[:, cols.source], cols.weight)
    return out


@pytest.mark.parametrize(
    "shape", [(512, 512, 3), (333, 517, 3), (700, 1000, 4), (1500, 60), (64, 65, 3), (97, 96)]
)
def test_compiled_row_pass_gives_the_same_doubles_as_numpy(shape: tuple[int, ...]) -> None:
    """The compiled row pass adds the same products in the same order as plain numpy, so
    the 64x64 image is the same to the last bit, for contiguous and strided pixels."""
    pixels = np.random.default_rng(len(shape) * shape[0]).integers(0, 256, shape, dtype=np.uint8)
    for view in (pixels, pixels[::-1], pixels[3:, 2:]):
        assert np.array_equal(pdqfast._reduce_fast(view), _reduced_by_numpy(view))
