"""CPU per robust_views call with the compiled region searches against the numpy ones.

Why: session 8 replaced the numpy region searches of
:func:`accord.matching.robust.robust_views` (border trim, salient rectangle, exact
edges, rotation fill, frame check) by compiled loops with the same results. The numpy
code is kept as the specification in tests/matching/test_robust_searches.py; this
script swaps it into the module (``numpy``) and out again (``compiled``) in
alternating rounds in one process, so that both sides see the same machine load, and
sums ``time.process_time()`` per side.

Images: the service benchmark's upload (``benchmarks/service.py``'s ``jpeg(1)``,
decoded as the service decodes it), and a generated photograph padded, framed in a
screenshot-like canvas and rotated with filled corners (the robustness transforms).

    .venv/bin/python benchmarks/region_searches.py [--quick] [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tests.matching import test_robust_searches as spec  # noqa: E402
from tests.matching.test_robust import natural  # noqa: E402

from accord.matching import robust, transforms  # noqa: E402
from accord.signals.media import MediaLimits, decode_image  # noqa: E402
from service import jpeg  # noqa: E402

# robust's names and the numpy functions they were before session 8
NUMPY: dict[str, Callable[..., Any]] = {
    "_trim_box": spec.ref_trim_box,
    "_salient_box": spec.ref_salient_box,
    "_refine": spec.ref_refine,
    "rotation_angle": spec.ref_rotation_angle,
    "corner_colour": spec.ref_corner_colour,
    "framed": spec.ref_framed,
}


@contextmanager
def numpy_searches() -> Iterator[None]:
    """robust_views with the numpy searches, for the duration of the block."""
    saved = {name: getattr(robust, name) for name in NUMPY}
    for name, function in NUMPY.items():
        setattr(robust, name, function)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(robust, name, function)


def images() -> dict[str, np.ndarray]:
    upload = np.asarray(decode_image(jpeg(1), MediaLimits()).pixels)
    photo = natural(7, (512, 512))
    rng = np.random.default_rng(3)
    out = {"plain upload": upload}
    for name, family in (("bordered", "pad"), ("framed", "frame"), ("rotated", "rotate")):
        out[name] = np.asarray(transforms.apply(family, photo, rng)[0].convert("RGB"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds of 10 calls")
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--calls", type=int, default=30, help="calls per round and side")
    args = parser.parse_args()
    rounds, calls = (5, 10) if args.quick else (args.rounds, args.calls)
    print(f"{rounds} rounds of {calls} calls per side, alternated; CPU ms per robust_views")
    print(f"{'image':>14} {'size':>10} {'numpy':>8} {'compiled':>9} {'saved':>7} {'ratio':>6}")
    for name, pixels in images().items():
        oriented = robust.pdqfast.oriented_hex(pixels)

        def call(
            pixels: np.ndarray = pixels, oriented: tuple[list[str], int] = oriented
        ) -> list[Any]:
            return robust.robust_views(pixels, oriented=oriented, coarse=True, regions=[])

        with numpy_searches():
            expected = call()
        if call() != expected:
            raise SystemExit(f"{name}: the compiled searches gave other views")
        spent = {"numpy": 0.0, "compiled": 0.0}
        for _ in range(rounds):
            for side in spent:
                with numpy_searches() if side == "numpy" else _nothing():
                    start = time.process_time()
                    for _ in range(calls):
                        call()
                    spent[side] += time.process_time() - start
        old, new = (1000 * spent[side] / (rounds * calls) for side in ("numpy", "compiled"))
        size = f"{pixels.shape[1]}x{pixels.shape[0]}"
        print(f"{name:>14} {size:>10} {old:8.3f} {new:9.3f} {old - new:7.3f} {new / old:5.2f}x")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
