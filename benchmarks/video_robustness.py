"""How well accord matches manipulated videos against plain vPDQ banks, beside HMA's rule.

Run: ``.venv/bin/python benchmarks/video_robustness.py`` (``--quick`` for a small set;
``--families crop,overlay --videos 4`` for a subset while iterating).

Data: the Debian wallpaper photographs that ``benchmarks/robustness.py``
downloads and caches (its loader and its distinct tiles are reused; filler
tiles whose mirror image shares a region with a banked video's tile are left
out by that benchmark's rule, ``mirrored_copies``). A video
is 3-5 shots, each a slow pan and zoom across one tile (so the frames vPDQ
samples once a second differ), 320x240 at 15 fps, 12-16 s, encoded with
libx264 (mpeg4 if the PyAV wheel lacks it). Every video uses its own tiles;
fillers for the embedding family use tiles of no other video.

Protocol: half of the videos are banked (plain vPDQ of the original, as a
platform banks and exchanges it); every video, banked or not, is queried once
per family, transformed and re-encoded:

* per frame (the same manipulation on every frame, from
  ``accord.matching.transforms``): mirror/flip/90-degree turn, small rotation,
  crop, pad/letterbox, frame (screenshot or meme template), overlay, resize,
  colour, noise/blur; plus a low-bitrate re-encode with another codec;
* clip: a contiguous 25-60% cut; drop: every 3rd frame dropped (timestamps
  kept); rate: 15 -> 7.5 fps; black: 2-5 s of black frames inserted at 1-3
  places; slides: 3-6 s of title cards inserted at 1-2 places; embedded: the
  whole video placed inside a longer unrelated one (filler at both ends, 1-3x
  its length in all).

Methods, on the same banked hashes: plain vPDQ with HMA's rule (frame
distance 31, quality 50, both shares >= 80%); accord's rule (adds the clip and
embedded clauses) on the plain frames; then with the query sampled 4 times a
second (phase samples); then with per-frame robust views too (what the
service does when the bank has no local features: each stage asked only while
no bank video explains the query; the views include the video-level border,
``accord.matching.video_bars``); the same at a wider frame distance (40); and
the views then, when no video matched, keypoints of the query's frames verified
against the banked videos' keyframes (``accord.matching.video_keypoints``: what
the service does for videos banked from their media). A reported
(query, bank video) pair is correct only when the query is a banked video's
copy and the pair names that video; precision counts every reported pair,
recall counts banked queries. Query cost is the wall time of decoding,
hashing and lookup per query video, in this process (faiss single-threaded, the
service's default). The keypoint diagnostics (every unbanked query frame
verified against every banked keyframe, whatever its votes) are not timed.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import faiss
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from accord.matching import transforms
from accord.matching import video_keypoints as vk
from accord.matching.keypoints import MIN_INLIERS
from accord.matching.video import frame_views, match_views, view_groups, vpdq_of
from accord.signals.media import MediaLimits, open_video
from accord.signals.vpdq import VpdqIndex, VpdqSignal

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import robustness

W, H = 320, 240
FPS = 15
LIMITS = MediaLimits()
PER_FRAME = (
    "dihedral",
    "rotate",
    "crop",
    "pad",
    "frame",
    "overlay",
    "resize",
    "colour",
    "noise_blur",
)
FAMILIES = (*PER_FRAME, "reencode", "clip", "drop", "rate", "black", "slides", "embedded")
TAIL = (20, 25, 31, 36, 40)
WIDE = 40  # a wider frame distance, measured beside the default 31
CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"

Frames = list[np.ndarray]


def shot(tile: Image.Image, seconds: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A pan and zoom across ``tile``: a 4:3 window moving between two random boxes."""
    tw, th = tile.size
    full = min(tw, th * 4 / 3)

    def box() -> tuple[float, float, float]:
        width = full * float(rng.uniform(0.55, 0.95))
        return (
            float(rng.uniform(0, tw - width)),
            float(rng.uniform(0, th - width * 3 / 4)),
            width,
        )

    # shots from nearly static to a moderate pan: the window drifts by up to 30% of its
    # width and zooms by up to 15% over the shot
    x0, y0, w0 = box()
    w1 = min(full, max(0.5 * full, w0 * float(rng.uniform(0.85, 1.15))))
    drift = float(rng.uniform(0.0, 0.3)) * w0
    x1 = float(np.clip(x0 + rng.uniform(-drift, drift), 0, tw - w1))
    y1 = float(np.clip(y0 + rng.uniform(-drift, drift) * 3 / 4, 0, th - w1 * 3 / 4))
    n = round(seconds * FPS)
    for i in range(n):
        t = i / max(1, n - 1)
        x, y, w = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, w0 + (w1 - w0) * t
        region = (x, y, x + w, y + w * 3 / 4)
        yield np.asarray(tile.resize((W, H), Image.Resampling.BILINEAR, box=region))


def make_video(tiles: list[Image.Image], seconds: float, rng: np.random.Generator) -> Frames:
    """Shots over the given tiles, in order, lasting ``seconds`` in all."""
    cuts = np.sort(rng.uniform(0.15, 0.85, size=len(tiles) - 1)) * seconds
    lengths = np.diff(np.concatenate(([0.0], cuts, [seconds])))
    return [f for tile, length in zip(tiles, lengths, strict=True) for f in shot(tile, length, rng)]


def encode(
    frames: Frames,
    fps: float = FPS,
    *,
    codec: str = CODEC,
    bit_rate: int | None = None,
    pts: list[int] | None = None,
) -> bytes:
    """An MP4 of the frames; ``pts`` (in 1/FPS units) for frames dropped with times kept."""
    h, w = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt = "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        elif codec == "libx264":
            stream.options = {"crf": "23", "preset": "ultrafast"}
        else:
            stream.bit_rate = 1_000_000
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, FPS)
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels[: h - h % 2, : w - w % 2]), format="rgb24"
            )
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def per_frame(frames: Frames, family: str, seed: list[int]) -> Frames:
    """The same manipulation on every frame (the same parameters: the same seed each time)."""
    out = []
    for pixels in frames:
        img, _ = transforms.apply(family, Image.fromarray(pixels), np.random.default_rng(seed))
        out.append(np.asarray(img))
    return out


def slide(rng: np.random.Generator, seconds: float) -> Frames:
    """A title card: text on a plain or two-tone background."""
    bg = tuple(int(v) for v in rng.integers(0, 256, size=3))
    img = Image.new("RGB", (W, H), bg)
    draw = ImageDraw.Draw(img)
    ink = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
    if rng.random() < 0.5:
        draw.rectangle((0, int(H * rng.uniform(0.5, 0.8)), W, H), fill=ink)
    font = ImageFont.load_default(size=int(rng.integers(16, 30)))
    for line in range(int(rng.integers(1, 4))):
        words = " ".join(rng.choice(["BREAKING", "WATCH", "PART", "2", "NEWS", "THE", "LIVE"], 3))
        draw.text((int(W * 0.08), int(H * (0.15 + 0.2 * line))), words, fill=ink, font=font)
    return [np.asarray(img)] * round(seconds * FPS)


def insert(frames: Frames, pieces: list[Frames], rng: np.random.Generator) -> Frames:
    """``frames`` with each piece inserted at a random cut (start and end included)."""
    points = sorted(int(p) for p in rng.integers(0, len(frames) + 1, size=len(pieces)))
    out: Frames = []
    last = 0
    for point, piece in zip(points, pieces, strict=True):
        out += frames[last:point] + piece
        last = point
    return out + frames[last:]


def query_bytes(
    family: str,
    frames: Frames,
    rng: np.random.Generator,
    seed: list[int],
    filler: Callable[[float], Frames],
) -> bytes:
    """One manipulated, re-encoded copy of ``frames``."""
    n = len(frames)
    if family in PER_FRAME:
        return encode(per_frame(frames, family, seed), codec=CODEC)
    if family == "reencode":
        other = "mpeg4" if CODEC == "libx264" else "libx264"
        return encode(frames, codec=other, bit_rate=int(rng.integers(60_000, 150_000)))
    if family == "clip":
        share = float(rng.uniform(0.25, 0.60))
        length = round(n * share)
        start = int(rng.integers(0, n - length + 1))
        return encode(frames[start : start + length])
    if family == "drop":
        kept = [i for i in range(n) if i % 3 != 2]
        return encode([frames[i] for i in kept], pts=kept)
    if family == "rate":
        return encode(frames[::2], fps=FPS / 2)
    if family == "black":
        black = np.zeros_like(frames[0])
        total = float(rng.uniform(2.0, 5.0))
        parts = int(rng.integers(1, 4))
        return encode(insert(frames, [[black] * round(total / parts * FPS)] * parts, rng))
    if family == "slides":
        total = float(rng.uniform(3.0, 6.0))
        parts = int(rng.integers(1, 3))
        return encode(insert(frames, [slide(rng, total / parts) for _ in range(parts)], rng))
    if family == "embedded":
        seconds = n / FPS * float(rng.uniform(1.0, 3.0))
        before = float(rng.uniform(0.2, 0.8)) * seconds
        return encode(filler(before) + frames + filler(seconds - before))
    raise ValueError(family)


@dataclass
class Method:
    name: str
    pairs: list[tuple[str, bool, bool]] = field(default_factory=list)  # family, positive, correct
    found: dict[str, list[bool]] = field(default_factory=dict)  # banked queries: found?
    seconds: float = 0.0
    queries: int = 0

    def record(self, family: str, truth: int | None, hits: list[int]) -> None:
        for hit in hits:
            self.pairs.append((family, truth is not None, hit == truth))
        if truth is not None:
            self.found.setdefault(family, []).append(truth in hits)

    def recall(self, family: str | None = None) -> float:
        rows = [v for f, vs in self.found.items() if family in (None, f) for v in vs]
        return sum(rows) / len(rows) if rows else float("nan")

    def false_pairs(self) -> int:
        return sum(not correct for _, _, correct in self.pairs)

    def precision(self) -> float:
        return 1 - self.false_pairs() / len(self.pairs) if self.pairs else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 + 4 videos instead of 8 + 8")
    parser.add_argument("--videos", type=int, default=None, help="banked videos (as many unbanked)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--families",
        default=None,
        help=f"comma-separated subset of the families (all: {','.join(FAMILIES)})",
    )
    args = parser.parse_args()
    half = args.videos or (4 if args.quick else 8)
    families = tuple(args.families.split(",")) if args.families else FAMILIES
    unknown = set(families) - set(FAMILIES)
    if unknown:
        sys.exit(f"unknown families: {', '.join(sorted(unknown))}")
    rng = np.random.default_rng(args.seed)
    faiss.omp_set_num_threads(1)  # the service's default (ACCORD_THREADS)

    t0 = time.perf_counter()
    photos = robustness.fetch_photographs()
    tiles = robustness.make_tiles(photos, 400, np.random.default_rng(7))
    order = [int(i) for i in rng.permutation(len(tiles))]
    specs = []  # (tile indices, seconds) per video
    cursor = 0
    for _ in range(2 * half):
        shots = int(rng.integers(3, 6))
        specs.append((order[cursor : cursor + shots], float(rng.uniform(12.0, 16.0))))
        cursor += shots
    filler_tiles = [tiles[i] for i in order[cursor:]]
    # The image benchmark's rule: a tile whose mirror image shares a region with a banked
    # tile (symmetric artwork) is not unrelated footage; a matcher that finds mirrored
    # copies rightly matches it. Such tiles are left out of the fillers and reported.
    banked_tiles = [tiles[j] for i in range(half) for j in specs[i][0]]
    mirrored = robustness.mirrored_copies(banked_tiles, filler_tiles)
    filler_tiles = [t for k, t in enumerate(filler_tiles) if k not in mirrored]
    unbanked_tiles = [tiles[j] for i in range(half, 2 * half) for j in specs[i][0]]
    shared = robustness.mirrored_copies(banked_tiles, unbanked_tiles)
    print(
        f"left out {len(mirrored)} filler tiles that mirror a banked video's tile; "
        f"{len(shared)} tiles of unbanked videos do (should be 0)",
        flush=True,
    )
    if len(filler_tiles) < 8:
        sys.exit(f"too few tiles ({len(tiles)}) for {2 * half} videos")

    def video(i: int) -> Frames:
        idx, seconds = specs[i]
        return make_video([tiles[j] for j in idx], seconds, np.random.default_rng([args.seed, i]))

    def filler_for(key: int) -> Callable[[float], Frames]:
        frng = np.random.default_rng([args.seed, 99, key])

        def make(seconds: float) -> Frames:
            if seconds < 1.0 / FPS:
                return []
            picks = frng.choice(len(filler_tiles), size=max(1, round(seconds / 3)), replace=False)
            return make_video([filler_tiles[int(p)] for p in picks], seconds, frng)

        return make

    plain_signal = VpdqSignal.hma()
    accord_signal = VpdqSignal()
    plain_index = VpdqIndex(plain_signal, 31)
    accord_index = VpdqIndex(accord_signal, 31)
    values = []
    blobs = []
    bank_seconds = 0.0
    for i in range(half):
        with open_video(encode(video(i)), LIMITS) as decoded:
            values.append(plain_signal.hash_video(decoded).value)
            s = time.perf_counter()
            blobs.append(vk.pack_video(vk.bank_keyframes(decoded)))
            bank_seconds += time.perf_counter() - s
    plain_index.add(list(range(half)), values)
    accord_index.add(list(range(half)), values)
    kp_index = vk.VideoKeypointIndex()
    kp_index.add(list(range(half)), blobs)
    keyframes = [len(vk.unpack_video(b)) for b in blobs]
    print(
        f"{len(photos)} photographs -> {len(tiles)} tiles -> {2 * half} videos "
        f"({half} banked, {half} not), {CODEC}, {W}x{H} at {FPS} fps, "
        f"{min(len(v.splitlines()) for v in values)}-{max(len(v.splitlines()) for v in values)} "
        "banked frames "
        f"each; set up in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    print(
        f"banked keypoints: {min(keyframes)}-{max(keyframes)} keyframes a video, "
        f"{np.mean([len(b) for b in blobs]) / 1024:.1f} KiB a video on average "
        f"({min(len(b) for b in blobs) / 1024:.1f}-{max(len(b) for b in blobs) / 1024:.1f}), "
        f"{bank_seconds / half * 1000:.0f} ms a video to extract",
        flush=True,
    )

    bank_bits = np.stack(
        [
            np.frombuffer(bytes.fromhex(line.split(",")[2]), np.uint8)
            for value in values
            for line in value.splitlines()
        ]
    ).view(np.uint64)
    tail_pairs = 0
    tail_near = dict.fromkeys(TAIL, 0)
    hma = Method("vPDQ, HMA rule")
    rule = Method("accord rule")
    phases = Method("+ phases")
    views = Method("+ phases + views")
    wide = Method(f"same, frames <= {WIDE}")
    kp = Method("+ keypoints")
    kp_asked = 0
    kp_chains: dict[str, list[tuple[int, int, float, float]]] = {}  # banked: frames, q, shares
    unrelated_frame_inliers: list[int] = []  # per unbanked query frame: most inliers, any video
    unrelated_chain = [0] * 5  # unbanked queries whose best chain at >= 12 reaches 1..5+
    for i in range(2 * half):
        print(f"  querying video {i + 1}/{2 * half}", file=sys.stderr, flush=True)
        frames = video(i)
        truth = i if i < half else None
        for fi, family in enumerate(FAMILIES):
            if family not in families:
                continue
            qrng = np.random.default_rng([args.seed, i, fi])
            data = query_bytes(family, frames, qrng, [args.seed, i, fi], filler_for(i * 100 + fi))

            s = time.perf_counter()
            with open_video(data, LIMITS) as decoded:
                value = plain_signal.hash_video(decoded).value
            hashing = time.perf_counter() - s
            s = time.perf_counter()
            plain_hits = [h.id for h in plain_index.query(value)]
            hma.seconds += hashing + time.perf_counter() - s
            hma.record(family, truth, plain_hits)

            # accord's rule on the same plain frames: the same hashing, another rule
            s = time.perf_counter()
            rule_hits = [h.id for h in accord_index.query(value)]
            rule.seconds += hashing + time.perf_counter() - s
            rule.record(family, truth, rule_hits)

            s = time.perf_counter()
            with open_video(data, LIMITS) as decoded:
                fv = frame_views(decoded, accord_signal, views=False)
            hits = match_views(accord_index, fv, accord_signal.min_quality, views=False)
            phases.seconds += time.perf_counter() - s
            phases.record(family, truth, [h.id for h in hits])

            views_before = views.seconds
            s = time.perf_counter()
            with open_video(data, LIMITS) as decoded:
                fv = frame_views(decoded, accord_signal, keep=vk.MAX_QUERY_FRAMES)
            hits = match_views(accord_index, fv, accord_signal.min_quality)
            views.seconds += time.perf_counter() - s
            views.record(family, truth, [h.id for h in hits])

            # what the service does: views, then (no video matched) keypoints
            s = time.perf_counter()
            found = [h.id for h in hits]
            query_kf: list[vk.Keyframe] = []
            if not found:
                kp_asked += 1
                query_kf = vk.query_keyframes(
                    [(f.timestamp, f.pixels) for f in fv if f.pixels is not None]
                )
                found = [h.id for h in kp_index.query(query_kf, MIN_INLIERS)]
            kp.seconds += views.seconds - views_before + time.perf_counter() - s
            kp.record(family, truth, found)
            if query_kf:  # diagnostics (not timed): per frame and per chain, every video
                all_pairs = kp_index.pairs(query_kf, 0)
                if truth is None:
                    per_frame: dict[float, int] = {}
                    for pairs in all_pairs.values():
                        for q, _b, n in pairs:
                            per_frame[q] = max(per_frame.get(q, 0), n)
                    unrelated_frame_inliers += [per_frame.get(f.time, 0) for f in query_kf]
                    longest = max(
                        (
                            len(vk.chain((q, b) for q, b, n in pairs if n >= MIN_INLIERS))
                            for pairs in all_pairs.values()
                        ),
                        default=0,
                    )
                    if longest:
                        unrelated_chain[min(longest, 5) - 1] += 1
                else:
                    mine = [p for p in all_pairs.get(truth, []) if p[2] >= MIN_INLIERS]
                    _ok, best, qs, bs = vk.decide(mine, len(query_kf), keyframes[truth])
                    kp_chains.setdefault(family, []).append((len(best), len(query_kf), qs, bs))
            s = time.perf_counter()
            hits = match_views(accord_index, fv, accord_signal.min_quality, threshold=WIDE)
            wide.seconds += views.seconds - views_before + time.perf_counter() - s
            wide.record(family, truth, [h.id for h in hits])
            asked = {x for group in view_groups(fv, accord_signal.min_quality) for x in group}
            if truth is None and asked:  # how often an unrelated view lands near a bank frame
                q = np.stack([np.frombuffer(bytes.fromhex(x), np.uint8) for x in asked])
                dist = np.bitwise_count(q.view(np.uint64)[:, None] ^ bank_bits[None]).sum(axis=2)
                tail_pairs += dist.size
                for t in TAIL:
                    tail_near[t] += int((dist <= t).sum())
            assert vpdq_of(fv, accord_signal).value == value, "vpdq_of differs from hash_video"
            for m in (hma, rule, phases, views, wide, kp):
                m.queries += 1

    methods = (hma, rule, phases, views, wide, kp)
    print()
    print("recall of banked queries (%), 1 query per video and family")
    print(f"{'family':>12}  " + "  ".join(f"{m.name:>20}" for m in methods))
    for fam in (*families, None):
        print(
            f"{fam or 'overall':>12}  "
            + "  ".join(f"{m.recall(fam) * 100:>20.1f}" for m in methods)
        )
    print(
        f"{'precision':>12}  "
        + "  ".join(f"{m.precision() * 100:>12.2f} ({m.false_pairs():>2} F)" for m in methods)
    )
    print()
    ms = [m.seconds / m.queries * 1000 for m in methods]
    print(f"{'query cost':>20}  {'ms/video':>9}  {'ratio':>6}")
    for m, cost in zip(methods, ms, strict=True):
        print(f"{m.name:>20}  {cost:>9.1f}  {cost / ms[0]:>5.2f}x")
    print()
    print("unrelated (query hash, bank frame) pairs within a distance, per million pairs")
    print(f"{'distance':>12}  " + "  ".join(f"{t:>7}" for t in TAIL))
    rates = (tail_near[t] / max(1, tail_pairs) * 1e6 for t in TAIL)
    print(
        f"{'accord':>12}  " + "  ".join(f"{r:>7.2f}" for r in rates) + f"  ({tail_pairs:,} pairs)"
    )
    print()
    print(
        f"keypoint stage: asked on {kp_asked} of {kp.queries} queries; "
        f"{len(unrelated_frame_inliers)} unbanked query frames verified against every video"
    )
    hist = np.bincount(np.minimum(unrelated_frame_inliers, 20), minlength=21)
    print("unbanked query frames by most inliers against any banked keyframe (20: 20 or more)")
    print("  " + "  ".join(f"{k}:{int(n)}" for k, n in enumerate(hist) if n))
    print(
        f"unbanked queries whose longest in-order chain (frames >= {MIN_INLIERS} inliers) is "
        + ", ".join(f"{k + 1}{'+' if k == 4 else ''}: {n}" for k, n in enumerate(unrelated_chain))
    )
    print("banked queries at the keypoint stage: (chain frames / query frames, query%, bank%)")
    for fam, rows in kp_chains.items():
        cells = " ".join(f"{c}/{n},{q:.0f},{b:.0f}" for c, n, q, b in rows)
        print(f"  {fam:>10}: {cells}")
    print(
        f"\n{hma.queries} queries per method ({half} banked videos x {len(families)} families, "
        f"as many unbanked); {time.perf_counter() - t0:.0f}s in all"
    )


if __name__ == "__main__":
    main()
