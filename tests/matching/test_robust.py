"""Robust PDQ views: every transform family is matched on built-in images, unrelated ones are not.

The images are generated (smooth random fields, gradients and shapes, fixed
seeds) so that the test needs no files; the transforms are the benchmark's own
(``accord.matching.transforms``). The benchmark on real photographs gives the
figures; this test guards the behaviour.
"""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageFilter

from accord.errors import InvalidInput, InvalidMedia
from accord.matching import robust, transforms
from accord.signals import pdqfast

N_BANKED = 8
N_UNBANKED = 8


def natural(seed: int, size: tuple[int, int] = (384, 288)) -> Image.Image:
    """A natural-ish image: octaves of smooth noise, a gradient and a few shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    acc = np.zeros((h, w, 3), dtype=np.float64)
    for cells, weight in ((3, 1.0), (6, 0.6), (12, 0.35), (24, 0.2), (48, 0.1)):
        small = rng.integers(0, 256, size=(cells, max(2, cells * w // h), 3), dtype=np.uint8)
        big = Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BICUBIC)
        acc += weight * (np.asarray(big, dtype=np.float64) - 128.0)
    ramp = np.linspace(-60, 60, w)[None, :, None] * rng.uniform(-1, 1, size=3)
    arr = np.clip(128 + acc + ramp, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        x1, y1 = x0 + int(rng.integers(30, w // 2)), y0 + int(rng.integers(30, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
    return img.filter(ImageFilter.GaussianBlur(1.2))


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [natural(1000 + i) for i in range(N_BANKED + N_UNBANKED)]


@pytest.fixture(scope="module")
def bank(images: list[Image.Image]) -> np.ndarray:
    rows = [robust.hex_to_bits(plain_hex(img)) for img in images[:N_BANKED]]
    return np.stack(rows)


def plain_hex(img: Image.Image) -> str:
    bits, _ = pdqhash.compute(np.asarray(img))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


# The share of the 8 banked images each family must match at ROBUST_THRESHOLD.
# Overlays (big captions) and combinations fall short on purpose of a floor, and
# crops are beyond any PDQ view (docs/robustness.md): they are expected failures.
REQUIRED = dict.fromkeys(transforms.FAMILIES, 1.0) | {"overlay": 0.5, "combo": 0.5}
BEYOND_PDQ = {"crop", "rotate_crop"}


@pytest.mark.parametrize(
    "family",
    [
        pytest.param(
            f,
            marks=pytest.mark.xfail(
                reason="a crop removes what PDQ hashes; see docs/robustness.md"
            ),
        )
        if f in BEYOND_PDQ
        else f
        for f in transforms.FAMILIES
    ],
)
def test_each_family_is_matched(family: str, images: list[Image.Image], bank: np.ndarray) -> None:
    found = 0
    misses = []
    for i in range(N_BANKED):
        query, desc = transforms.apply(family, images[i], np.random.default_rng([7, i]))
        m = robust.best_match(robust.robust_views(query), bank, threshold=robust.ROBUST_THRESHOLD)
        if m is not None and m.row == i:
            found += 1
        else:
            misses.append(desc)
    assert found / N_BANKED >= REQUIRED[family], misses


@pytest.mark.parametrize("family", transforms.FAMILIES)
def test_unrelated_images_are_not_matched(
    family: str, images: list[Image.Image], bank: np.ndarray
) -> None:
    for i in range(N_BANKED, N_BANKED + N_UNBANKED):
        query, desc = transforms.apply(family, images[i], np.random.default_rng([8, i]))
        m = robust.best_match(robust.robust_views(query), bank, threshold=robust.ROBUST_THRESHOLD)
        assert m is None, (desc, m)


def test_first_view_is_plain_pdq(images: list[Image.Image]) -> None:
    views = robust.robust_views(images[0])
    assert views[0].name == "pdq"
    assert views[0].pdq_hex == plain_hex(images[0])
    assert all(len(v.pdq_hex) == 64 and 0 <= v.quality <= 100 for v in views)
    assert len({v.name for v in views}) == len(views)


def test_orientations_given_by_the_caller_are_the_first_eight_views(
    images: list[Image.Image],
) -> None:
    img = images[1]
    computed = robust.robust_views(img)
    hashes, quality = pdqfast.oriented_hex(np.asarray(img))
    assert [v.pdq_hex for v in computed[:8]] == hashes
    assert {v.quality for v in computed[:8]} == {quality}
    given = robust.robust_views(img, oriented=(hashes, quality))
    assert given == computed
    made_up = [f"{n:064x}" for n in range(8)]
    other = robust.robust_views(img, oriented=(made_up, 77))
    assert other[:8] == [
        robust.View(name, h, 77)
        for name, h in zip(("pdq", *robust.ORIENTATIONS[1:]), made_up, strict=True)
    ]
    assert other[8:] == computed[8:]


def test_orientation_views_are_the_turned_images_plain_hashes(images: list[Image.Image]) -> None:
    """A mirrored or turned copy's plain PDQ is the view of that orientation: such a copy
    of a banked image is looked up by the banked hash itself."""
    img = images[1]
    views = {v.name: v.pdq_hex for v in robust.robust_views(img)}
    for name, turned in (
        ("flip_lr", img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        ("rot180", img.transpose(Image.Transpose.ROTATE_180)),
    ):
        own = pdqfast.hash_hex(np.asarray(turned))[0]
        assert robust.hamming(own, views[name]) == 0, name


def test_numpy_and_pil_inputs_agree(images: list[Image.Image]) -> None:
    assert robust.robust_views(np.asarray(images[1])) == robust.robust_views(images[1])


def test_orientation_names_follow_pdqhash(images: list[Image.Image]) -> None:
    img = images[2]
    views = {v.name: v.pdq_hex for v in robust.robust_views(img)}
    ops = {
        "rot90": Image.Transpose.ROTATE_90,
        "rot180": Image.Transpose.ROTATE_180,
        "rot270": Image.Transpose.ROTATE_270,
        "flip_tb": Image.Transpose.FLIP_TOP_BOTTOM,
        "flip_lr": Image.Transpose.FLIP_LEFT_RIGHT,
        "transpose": Image.Transpose.TRANSPOSE,
        "transverse": Image.Transpose.TRANSVERSE,
    }
    for name, op in ops.items():
        # the view named for an orientation undoes that orientation
        assert robust.hamming(views[name], plain_hex(img.transpose(op))) <= 16, name


def test_trim_removes_a_border_of_any_colour(images: list[Image.Image]) -> None:
    img = images[3]
    for colour in ((0, 0, 0), (255, 255, 255), (30, 140, 200)):
        padded = Image.new("RGB", (img.width + 120, img.height + 40), colour)
        padded.paste(img, (100, 10))
        views = {v.name: v.pdq_hex for v in robust.robust_views(padded)}
        assert robust.hamming(views["trim"], plain_hex(img)) <= 16


def test_hamming_and_hex_round_trip() -> None:
    a = "f" * 64
    b = "0" * 64
    assert robust.hamming(a, b) == 256
    assert robust.hamming(a, a) == 0
    assert robust.hex_to_bits(a).shape == (32,)


def test_best_match_threshold_and_empty_bank(images: list[Image.Image], bank: np.ndarray) -> None:
    views = robust.robust_views(images[0])
    assert robust.best_match(views, bank[:0]) is None
    m = robust.best_match(views, bank, threshold=0)
    assert m is not None
    assert (m.row, m.distance, m.view) == (0, 0, "pdq")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidMedia):
        robust.robust_views(np.zeros((10, 10, 3), dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(InvalidMedia):
        robust.robust_views(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(InvalidInput):
        transforms.apply("no-such-family", Image.new("RGB", (32, 32)), np.random.default_rng(0))


def _compiled_signatures() -> set[str]:
    import numba

    from accord.matching import robust_kernels

    found: set[str] = set()
    for module in (robust_kernels, pdqfast):
        for name in dir(module):
            kernel = getattr(module, name)
            if isinstance(kernel, numba.core.registry.CPUDispatcher):
                found.update(f"{name}{signature}" for signature in kernel.signatures)
    return found


def test_warm_up_compiles_what_a_photo_lookup_runs(images: list[Image.Image]) -> None:
    """After :func:`robust.warm_up` (the service runs it as it starts), the views of
    padded, framed and turned photos, decoded (writeable) or not (read-only), compile
    nothing more: no upload waits for numba."""
    robust.warm_up()
    before = _compiled_signatures()
    rng = np.random.default_rng(3)
    for family in ("pad", "frame", "rotate", "dihedral", "overlay"):
        query, _ = transforms.apply(family, images[2], rng)
        for pixels in (np.asarray(query), np.array(query)):
            robust.robust_views(pixels, coarse=True, regions=[])
    assert _compiled_signatures() == before
