"""vPDQ lookups per query video against a bank of 1M frames.

Banks N videos of F frames (random PDQ frame hashes: video frames of different
videos are unrelated, which is the common case), then queries videos made of
a banked video's frames with a few bits flipped (a re-encode), and unrelated
videos. accord's matcher keeps the frames in the multi-index PDQ index
(``VpdqIndex(frames=PdqIndex)``); the baseline, run beside it, is the same
vPDQ index over a flat faiss index (brute force per frame).

    .venv/bin/python benchmarks/vpdq.py            # 1M frames (16,667 videos x 60)
    .venv/bin/python benchmarks/vpdq.py --quick    # 100k frames
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from accord.matching.pdq_index import PdqIndex
from accord.signals.vpdq import VpdqIndex, VpdqSignal


def video(frames: np.ndarray) -> str:
    return "\n".join(f"{i},100,{bytes(row).hex()},{i:.3f}" for i, row in enumerate(frames))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--per-video", type=int, default=60)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.frames = 100_000
    rng = np.random.default_rng(3)
    videos = args.frames // args.per_video
    frames = rng.integers(0, 256, size=(videos, args.per_video, 32), dtype=np.uint8)
    values = [video(frames[v]) for v in range(videos)]
    signal = VpdqSignal()
    queries = []
    for _ in range(args.queries):
        v = int(rng.integers(0, videos))
        noisy = frames[v].copy()
        flips = rng.integers(0, 256, size=(args.per_video, 12))
        for row, bits in zip(noisy, flips, strict=True):
            for bit in bits:
                row[bit // 8] ^= 1 << (bit % 8)
        queries.append((v + 1, video(noisy)))
    unrelated = [
        (0, video(rng.integers(0, 256, size=(args.per_video, 32), dtype=np.uint8)))
        for _ in range(args.queries)
    ]
    rows = []
    for name, make in (
        ("accord (frames in PdqIndex)", lambda: VpdqIndex(signal, 31, frames=PdqIndex(31))),
        ("baseline (frames in faiss flat)", lambda: VpdqIndex(signal, 31)),
    ):
        index = make()
        t0 = time.perf_counter()
        index.add(list(range(1, videos + 1)), values)
        build = time.perf_counter() - t0
        found = 0
        t0 = time.perf_counter()
        for expected, query in queries:
            hits = index.query(query)
            found += bool(hits) and hits[0].id == expected
        for _, query in unrelated:
            assert index.query(query) == [], "an unrelated video matched"
        per = (time.perf_counter() - t0) / (2 * args.queries)
        rows.append((name, build, per, found))
    base = rows[1][2]
    print(
        f"vPDQ: {videos:,} banked videos x {args.per_video} frames = {videos * args.per_video:,} "
        f"frames; {args.queries} matching + {args.queries} unrelated query videos"
    )
    print(f"{'index':34} {'build s':>8} {'ms/query video':>15} {'found':>6} {'speed-up':>9}")
    for name, build, per, found in rows:
        print(
            f"{name:34} {build:8.1f} {per * 1000:15.1f} {found:>3}/{args.queries} "
            f"{base / per:9.1f}x"
        )


if __name__ == "__main__":
    main()
