"""How well accord's robust views match manipulated images, against plain PDQ, in one run.

Run: ``.venv/bin/python benchmarks/robustness.py`` (``--quick`` for a small set).

Data: natural photographs that are not in the repository. Debian's wallpaper
and background packages are fetched with ``apt-get download`` into
``benchmarks/.cache/`` (gitignored) and unpacked with ``dpkg-deb -x``; their
JPEG photographs are cut into tiles, skipping flat tiles and tiles whose PDQ is
near one already kept (so that "unrelated" really is unrelated).

Protocol: half of the tiles are banked (plain PDQ of the untouched tile, as a
platform would bank and exchange it); every tile, banked or not, is queried
once per transform family (``accord.matching.transforms``). A query matches
when its best distance is within the threshold; it is correct when it is a
banked tile and the best bank entry is that tile. Precision counts every
reported match; recall counts banked queries. accord's threshold is the
largest that holds at least 99.9% precision over all families pooled; plain PDQ
is shown at its customary 31 and at its own 99.9% threshold. Query cost is the
wall time of hashing plus lookup (brute force over the bank, the same code for
both), per query, in this process.

The third method, ``accord+kp``, is what the service does: the PDQ views at
``ROBUST_THRESHOLD``, and only when they find nothing, the query's local features
verified against the banked tiles' (``accord.matching.keypoints``: ORB, then
RANSAC; banked as a non-exchanged side signal). It matches when at least
``MIN_INLIERS`` keypoints agree; the run also reports the smallest inlier count
that holds 99.9% precision, and the largest count any unrelated query reached.
Its cost is reported for all queries and for unbanked (non-matching) ones alone.

Between the views and the keypoints, ``accord+kp`` asks the **bank-side views**:
each banked tile's rotate-crops at 18 angles (``robust.bank_rotations``, hashed
when it is banked, kept beside its keypoints), against every view of the query at
``BANK_VIEW_THRESHOLD``; a hit skips the keypoint step. The same run also reports
the pipeline without them (``before``: views, then keypoints), and how close the
query views came to *other* tiles' bank-side views (the precision margin).

Since session 7 ``accord+kp`` also asks the **coarse region views** (each trim or
frame region as found on the 128-px copy, when its exact edge moved: JPEG blocks
smear a picture's edge) and, when the first keypoint look finds nothing and the
query sits in a frame (``robust.framed``), **two keypoint looks**: the framed
picture's own keypoints (``robust.framed_box``), then the whole image's without the
fill; small queries are enlarged bicubically. The run also replays the session-6
pipeline on the same queries (``session 6``: no coarse views, one bilinear look)
for recall and cost in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import faiss
import numpy as np
import pdqhash
from PIL import Image

from accord.matching import keypoints, robust, transforms
from accord.matching.bank_view_index import BankViewIndex
from accord.matching.keypoint_index import KeypointIndex

CACHE = Path(__file__).resolve().parent / ".cache"
PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "ukui-wallpapers",
    "gnome-backgrounds",
    "lomiri-wallpapers",
    "desktop-base",
)
TARGET_PRECISION = 0.999


def fetch_photographs() -> list[Path]:
    """Download and unpack the wallpaper packages once; the distinct JPEG photographs."""
    debs = CACHE / "debs"
    root = CACHE / "root"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not any(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=False,
                           capture_output=True)  # fmt: skip
    for deb in sorted(debs.glob("*.deb")):
        marker = root / f".{deb.name}.done"
        if not marker.exists():
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            marker.touch()
    seen: set[str] = set()
    out: list[Path] = []
    files = [p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file()]
    for path in sorted(files, key=lambda p: (-p.stat().st_size, str(p))):
        if path.stat().st_size < 100_000:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(path)
    if not out:
        sys.exit("no photographs found: apt-get download failed (no network or no Debian apt?)")
    return out


def _buffer_bits(img: Image.Image) -> np.ndarray:
    hashes, _ = pdqhash.compute_dihedral(np.asarray(img.resize((64, 64), Image.Resampling.BOX)))
    return np.stack([np.packbits(np.asarray(h, dtype=np.uint8)) for h in hashes])


def mirrored_copies(banked: list[Image.Image], unbanked: list[Image.Image]) -> set[int]:
    """Unbanked tiles (index into ``unbanked``) that share a region with a banked tile's mirror.

    Symmetric artwork (a face drawn with both halves alike) puts the mirror
    image of one tile's pixels into another tile of the same picture. A matcher
    that looks for mirrored copies rightly finds them, so such a tile is not
    "unrelated": it is left out, by the same rule as overlapping photographs
    (20 or more keypoints agree), here against the banked tiles' mirror side.
    """
    mirrors = [keypoints.extract(np.asarray(t), 1000, mirror=True).mirror for t in banked]
    out: set[int] = set()
    for i, tile in enumerate(unbanked):
        features = keypoints.extract(np.asarray(tile), 1000)
        if any(m is not None and keypoints.verify(features, m, 20) >= 20 for m in mirrors):
            out.add(i)
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def make_tiles(paths: list[Path], limit: int, rng: np.random.Generator) -> list[Image.Image]:
    """Up to ``limit`` distinct tiles of 360-640 px, spread over the photographs.

    Flat tiles and tiles whose PDQ (any orientation) is within 70 bits of a kept
    tile are skipped. Tiles of one photograph never overlap, and a photograph
    that shares a region with one already used (the same wallpaper in another
    aspect ratio: local features agree on 20 or more points) is skipped, so that
    an unbanked tile shares no pixels with a banked one. Tiles are cached as PNG
    files under ``.cache/tiles-*``.
    """
    cache = CACHE / f"tiles-v2-{limit}-{len(paths)}"
    if cache.is_dir():
        files = sorted(cache.glob("*.png"))
        if files:
            return [Image.open(f).convert("RGB") for f in files]
    per_photo = max(2, -(-limit * 3 // (2 * len(paths))))
    kept: list[Image.Image] = []
    kept_bits: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    source_features: list[keypoints.Features] = []
    for path in paths:
        with Image.open(path) as im:
            im.draft("RGB", (1920, 1920))
            photo = im.convert("RGB")
        whole = _buffer_bits(photo)
        if any(np.unpackbits(whole[0] ^ s).sum() < 60 for src in sources for s in src):
            continue  # the same wallpaper at another resolution
        features = keypoints.extract(np.asarray(photo), 1000)
        if any(keypoints.verify(features, f) >= 20 for f in source_features):
            continue  # the same picture, cut to another aspect ratio
        sources.append(whole)
        source_features.append(features)
        photo.thumbnail((1920, 1920), Image.Resampling.BOX)
        w, h = photo.size
        boxes = [
            (x, y, x + tw, y + th)
            for tw, th in ((480, 360), (400, 400), (360, 480), (640, 400))
            if tw <= w and th <= h
            for y in range(0, h - th + 1, th)
            for x in range(0, w - tw + 1, tw)
        ]
        taken: list[tuple[int, int, int, int]] = []
        for i in rng.permutation(len(boxes)):
            if len(taken) >= per_photo:
                break
            box = boxes[int(i)]
            if any(_overlap(box, other) for other in taken):
                continue
            tile = photo.crop(box)
            if float(np.asarray(tile.convert("L"), dtype=np.float32).std()) < 25.0:
                continue  # flat: sky, night, a plain background
            bits = _buffer_bits(tile)
            if kept_bits:
                near = np.unpackbits(np.stack(kept_bits)[:, None, :] ^ bits[None], axis=2)
                if near.sum(axis=2).min() < 70:
                    continue
            kept.append(tile)
            kept_bits.append(bits[0])
            taken.append(box)
    order = rng.permutation(len(kept))
    tiles = [kept[int(i)] for i in order[:limit]]
    cache.mkdir(parents=True, exist_ok=True)
    for i, tile in enumerate(tiles):
        tile.save(cache / f"{i:05d}.png")
    return tiles


@dataclass
class Outcome:
    family: str
    positive: bool
    distance: int
    correct: bool


@dataclass
class Method:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    lookups: int = 0
    # unrelated (view, bank hash) pairs seen, and how many were within each distance
    pairs: int = 0
    near_pairs: dict[int, int] = field(default_factory=dict)


TAIL = (31, 36, 40, 45, 51, 56, 60)


@dataclass
class KpOutcome:
    """The service's rule: a view match at ROBUST_THRESHOLD, else the best keypoint hit."""

    family: str
    positive: bool
    by_views: bool  # a view matched (then keypoints are not asked)
    views_correct: bool
    inliers: int  # best keypoint hit's inliers (0 when not asked or nothing found)
    kp_correct: bool
    # the most inliers any candidate other than the query's own tile reached (the
    # precision margin; 0 when not asked)
    other_inliers: int = 0
    by_bank: bool = False  # no view matched, a bank-side view did (keypoints then skipped)
    bank_correct: bool = False
    use_bank: bool = True  # count the bank-side views (False: the pipeline before them)

    def matched(self, min_inliers: int) -> bool:
        if self.by_views or (self.use_bank and self.by_bank):
            return True
        return self.inliers >= min_inliers

    def correct(self, min_inliers: int) -> bool:
        if self.by_views:
            return self.views_correct
        if self.use_bank and self.by_bank:
            return self.bank_correct
        return self.kp_correct


def kp_threshold(outcomes: list[KpOutcome], target: float) -> int:
    """The smallest inlier count at which precision stays at least ``target``."""
    for t in range(4, 400):
        hits = [o for o in outcomes if o.matched(t)]
        if not hits or sum(o.correct(t) for o in hits) / len(hits) >= target:
            return t
    return 400


def kp_recall(outcomes: list[KpOutcome], t: int, family: str | None = None) -> float:
    pos = [o for o in outcomes if o.positive and (family is None or o.family == family)]
    return sum(o.matched(t) and o.correct(t) for o in pos) / len(pos) if pos else float("nan")


def kp_precision(outcomes: list[KpOutcome], t: int) -> float:
    hits = [o for o in outcomes if o.matched(t)]
    return sum(o.correct(t) for o in hits) / len(hits) if hits else 1.0


def count_tail(method: Method, views: list[robust.View], bank: np.ndarray, skip: int) -> None:
    """Count unrelated pairs within each distance of TAIL (``skip``: the query's own row)."""
    q = np.stack([robust.hex_to_bits(v.pdq_hex) for v in views]).view(np.uint64)
    dist = np.bitwise_count(q[:, None, :] ^ bank.view(np.uint64)[None]).sum(axis=2)
    if 0 <= skip < dist.shape[1]:
        dist = np.delete(dist, skip, axis=1)
    method.pairs += dist.size
    for t in TAIL:
        method.near_pairs[t] = method.near_pairs.get(t, 0) + int((dist <= t).sum())


def threshold_for(outcomes: list[Outcome], target: float) -> int:
    """The largest distance threshold at which precision stays at least ``target``."""
    best = -1
    for t in range(257):
        hits = [o for o in outcomes if o.distance <= t]
        if not hits:
            best = t
            continue
        if sum(o.correct for o in hits) / len(hits) >= target:
            best = t
    return best


def precision(outcomes: list[Outcome], t: int) -> float:
    hits = [o for o in outcomes if o.distance <= t]
    return sum(o.correct for o in hits) / len(hits) if hits else 1.0


def recall(outcomes: list[Outcome], t: int, family: str | None = None) -> float:
    pos = [o for o in outcomes if o.positive and (family is None or o.family == family)]
    return sum(o.correct and o.distance <= t for o in pos) / len(pos) if pos else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="120 tiles instead of 400")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = 120 if args.quick else 400
    faiss.omp_set_num_threads(1)  # the service's default (ACCORD_THREADS)

    t0 = time.perf_counter()
    photos = fetch_photographs()
    tiles = make_tiles(photos, n, rng)
    half = len(tiles) // 2
    banked, unbanked = tiles[:half], tiles[half:]
    bank = np.stack(
        [np.packbits(np.asarray(pdqhash.compute(np.asarray(t))[0], dtype=np.uint8)) for t in banked]
    )
    print(f"{len(photos)} photographs -> {len(tiles)} tiles ({half} banked, "
          f"{len(unbanked)} not) in {time.perf_counter() - t0:.0f}s")  # fmt: skip
    left_out = mirrored_copies(banked, unbanked)
    print(f"left out {len(left_out)} unbanked tiles that mirror a banked tile's region "
          f"(symmetric artwork): {sorted(half + i for i in left_out)}")  # fmt: skip
    s = time.perf_counter()
    packed = [keypoints.pack(keypoints.extract(np.asarray(t), mirror=True)) for t in banked]
    bank_kp_ms = (time.perf_counter() - s) / len(banked) * 1000
    points = KeypointIndex()
    points.add(list(range(len(banked))), packed)
    banked_sides = [(f, f.mirror or f) for f in map(keypoints.unpack, packed)]
    kp_bytes = sum(len(p) for p in packed) / len(packed)
    s = time.perf_counter()
    rotations = [robust.bank_rotations(t) for t in banked]
    bank_views_ms = (time.perf_counter() - s) / len(banked) * 1000
    per_tile = len(rotations[0])
    rot_bank = np.stack([robust.hex_to_bits(h) for views in rotations for _, h in views])
    rot_owner = np.repeat(np.arange(len(banked)), per_tile)
    # the service's structure for the step (an exact index, as the matcher keeps)
    rot_index = BankViewIndex()
    rot_index.add(
        list(range(len(banked))),
        [
            keypoints.pack(keypoints.unpack(p), rotations=r)
            for p, r in zip(packed, rotations, strict=True)
        ],
    )
    rot_tail = Method("bank views")
    rot_nearest_unrelated: list[int] = []
    kp_outcomes: list[KpOutcome] = []
    kp_seconds = 0.0
    kp_seconds_unbanked = 0.0
    before_seconds = 0.0
    before_seconds_unbanked = 0.0
    plain_seconds_unbanked = 0.0
    kp_asked = 0
    kp_asked_before = 0
    # session 7: the session-6 pipeline replayed on the same queries, and the framed looks
    s6_outcomes: list[KpOutcome] = []
    s6_seconds = 0.0
    s6_seconds_unbanked = 0.0
    framed_looks = 0
    framed_looks_unbanked = 0
    framed_other: list[int] = []  # most inliers an unrelated candidate reached, framed queries

    plain = Method("plain PDQ")
    accord = Method("accord views")
    for idx, tile in enumerate(tiles):
        if idx % 50 == 0:
            print(f"  querying tile {idx}/{len(tiles)}", file=sys.stderr)
        positive = idx < half
        if not positive and idx - half in left_out:
            continue
        for fi, family in enumerate(transforms.FAMILIES):
            trng = np.random.default_rng([args.seed, idx, fi])
            query, _ = transforms.apply(family, tile, trng)
            arr = np.asarray(query)

            s = time.perf_counter()
            bits, quality = pdqhash.compute(arr)
            pdq_hex = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
            view = robust.View("pdq", pdq_hex, int(quality))
            m = robust.best_match([view], bank)
            plain_spent = time.perf_counter() - s
            plain.seconds += plain_spent
            plain.lookups += 1
            assert m is not None
            plain.outcomes.append(Outcome(family, positive, m.distance, positive and m.row == idx))
            count_tail(plain, [view], bank, idx if positive else -1)

            if not positive:
                plain_seconds_unbanked += plain_spent

            s = time.perf_counter()
            s6_views = robust.robust_views(arr)
            s6_m = robust.best_match(s6_views, bank)
            s6_views_seconds = time.perf_counter() - s
            assert s6_m is not None
            s6_by_views = s6_m.distance <= robust.ROBUST_THRESHOLD
            s6_by_bank, s6_bank_correct = False, False
            s = time.perf_counter()
            if not s6_by_views:
                s6_found = [
                    h
                    for hits in rot_index.query_many(
                        [v.pdq_hex for v in s6_views], robust.BANK_VIEW_THRESHOLD
                    )
                    for h in hits
                ]
                if s6_found:
                    s6_hit = min(s6_found, key=lambda h: (h.distance, h.id))
                    s6_by_bank, s6_bank_correct = True, positive and s6_hit.id == idx
            s6_views_seconds += time.perf_counter() - s

            s = time.perf_counter()
            regions: list[robust.Region] = []
            views = robust.robust_views(arr, coarse=True, regions=regions)
            m = robust.best_match(views, bank)
            views_seconds = time.perf_counter() - s
            accord.seconds += views_seconds
            accord.lookups += len(views)
            assert m is not None
            accord.outcomes.append(Outcome(family, positive, m.distance, positive and m.row == idx))
            count_tail(accord, views, bank, idx if positive else -1)

            by_views = m.distance <= robust.ROBUST_THRESHOLD
            by_bank, bank_correct = False, False
            s = time.perf_counter()
            if not by_views:  # the bank-side views (a rotate-crop of a banked tile)
                answers = rot_index.query_many(
                    [v.pdq_hex for v in views], robust.BANK_VIEW_THRESHOLD
                )
                found = [h for hits in answers for h in hits]
                if found:
                    nearest_hit = min(found, key=lambda h: (h.distance, h.id))
                    by_bank = True
                    bank_correct = positive and nearest_hit.id == idx
            bank_seconds = time.perf_counter() - s
            # untimed: how near the query's views came to other tiles' bank-side views
            others = rot_owner != (idx if positive else -1)
            count_tail(rot_tail, views, rot_bank[others], -1)
            near = robust.best_match(views, rot_bank[others])
            rot_nearest_unrelated.append(near.distance if near is not None else 256)
            inliers, kp_correct = 0, False
            looks: list[keypoints.Features] = []
            box = robust.framed_box(regions)
            s = time.perf_counter()
            if not by_views:
                kp_asked_before += 1
                kp_asked += not by_bank
                # the service's looks: a framed query's picture (with the fill), then its
                # whole image (without); any other query's whole image (with the fill)
                plan = [(arr, True)]
                if box is not None:
                    left, top, right, bottom = box
                    plan = [(arr[top:bottom, left:right], True), (arr, False)]
                    framed_looks += 1
                    framed_looks_unbanked += not positive
                for pixels, fill in plan:
                    if inliers >= keypoints.MIN_INLIERS:
                        break
                    features = keypoints.extract_query(pixels, fill=fill, sharp=True)
                    looks.append(features)
                    hits = points.query(features, 1)
                    if hits and hits[0].inliers > inliers:
                        inliers, kp_correct = hits[0].inliers, positive and hits[0].id == idx
            kp_spent = time.perf_counter() - s
            # session 6 replayed: its views, bank-side views, then one look at the whole
            # image as it was described then (bilinear enlargement, the fill)
            s6_inliers, s6_kp_correct = 0, False
            s = time.perf_counter()
            if not s6_by_views and not s6_by_bank:
                old = keypoints.extract(arr, keypoints.QUERY_FEATURES, fill=keypoints.QUERY_FILL)
                hits = points.query(old, 1)
                if hits:
                    s6_inliers, s6_kp_correct = hits[0].inliers, positive and hits[0].id == idx
            s6_spent = s6_views_seconds + time.perf_counter() - s
            s6_seconds += s6_spent
            if not positive:
                s6_seconds_unbanked += s6_spent
            s6_outcomes.append(
                KpOutcome(family, positive, s6_by_views, positive and s6_m.row == idx,
                          s6_inliers, s6_kp_correct, 0, s6_by_bank, s6_bank_correct)
            )  # fmt: skip
            spent = views_seconds + bank_seconds + (0.0 if by_bank else kp_spent)
            before_seconds += views_seconds + kp_spent
            if not positive:
                before_seconds_unbanked += views_seconds + kp_spent
            other = 0
            if not by_views:  # not timed: the margin over every unrelated candidate
                for look in looks:
                    for cid, side in points.candidates(look):
                        if cid != idx or not positive:
                            got = keypoints.verify(look, banked_sides[cid][side])
                            other = max(other, got)
                if box is not None:
                    framed_other.append(other)
            kp_seconds += spent
            if not positive:
                kp_seconds_unbanked += spent
            kp_outcomes.append(
                KpOutcome(family, positive, by_views, positive and m.row == idx, inliers,
                          kp_correct, other, by_bank, bank_correct)
            )  # fmt: skip

    queries = len(plain.outcomes)
    t_acc = threshold_for(accord.outcomes, TARGET_PRECISION)
    t_pdq = threshold_for(plain.outcomes, TARGET_PRECISION)
    cols = (
        ("family", 12), (f"PDQ@{robust.PLAIN_PDQ_THRESHOLD}", 9), (f"PDQ@{t_pdq}", 9),
        (f"accord@{robust.PLAIN_PDQ_THRESHOLD}", 10), (f"accord@{t_acc}", 10),
    )  # fmt: skip
    print()
    print("recall of banked queries (1 query per tile and family)")
    print("  ".join(f"{c:>{w}}" for c, w in cols))
    rows = [*transforms.FAMILIES, None]
    for fam in rows:
        vals = (
            recall(plain.outcomes, robust.PLAIN_PDQ_THRESHOLD, fam),
            recall(plain.outcomes, t_pdq, fam),
            recall(accord.outcomes, robust.PLAIN_PDQ_THRESHOLD, fam),
            recall(accord.outcomes, t_acc, fam),
        )
        print(f"{fam or 'overall':>12}  " + "  ".join(
            f"{v * 100:>{w}.1f}" for v, (_, w) in zip(vals, cols[1:], strict=True)))  # fmt: skip
    print(
        f"{'precision':>12}  {precision(plain.outcomes, robust.PLAIN_PDQ_THRESHOLD) * 100:>9.2f}"
        f"  {precision(plain.outcomes, t_pdq) * 100:>9.2f}"
        f"  {precision(accord.outcomes, robust.PLAIN_PDQ_THRESHOLD) * 100:>10.2f}"
        f"  {precision(accord.outcomes, t_acc) * 100:>10.2f}"
    )
    print()
    print("unrelated (query view, bank hash) pairs within a distance, per million pairs")
    print(f"{'distance':>12}  " + "  ".join(f"{t:>7}" for t in TAIL))
    for meth in (plain, accord):
        rates = (meth.near_pairs.get(t, 0) / max(1, meth.pairs) * 1e6 for t in TAIL)
        print(f"{meth.name:>12}  " + "  ".join(f"{r:>7.2f}" for r in rates))
    print(f"{'pairs':>12}  plain {plain.pairs:,}, accord {accord.pairs:,}")
    print()
    ms_p = plain.seconds / queries * 1000
    ms_a = accord.seconds / queries * 1000
    print(f"{'query cost':>12}  {'ms/query':>9}  {'lookups':>9}")
    print(f"{'plain PDQ':>12}  {ms_p:>9.2f}  {plain.lookups / queries:>9.1f}")
    print(f"{'accord':>12}  {ms_a:>9.2f}  {accord.lookups / queries:>9.1f}")
    print(f"{'ratio':>12}  {ms_a / ms_p:>9.2f}x {accord.lookups / plain.lookups:>8.1f}x")
    print(
        f"\n{queries} queries per method, bank of {len(bank)}; accord threshold {t_acc} "
        f"(ROBUST_THRESHOLD in code: {robust.ROBUST_THRESHOLD})"
    )
    report_keypoints(
        kp_outcomes, plain, kp_seconds, kp_seconds_unbanked, plain_seconds_unbanked, kp_asked,
        kp_bytes, bank_kp_ms,
    )  # fmt: skip
    report_bank_views(
        kp_outcomes, plain, rot_tail, rot_nearest_unrelated, (before_seconds,
        before_seconds_unbanked, plain_seconds_unbanked), kp_asked_before, per_tile,
        bank_views_ms,
    )  # fmt: skip
    report_session7(
        kp_outcomes, s6_outcomes, plain, (kp_seconds, kp_seconds_unbanked, s6_seconds,
        s6_seconds_unbanked, plain_seconds_unbanked), (framed_looks, framed_looks_unbanked),
        framed_other,
    )  # fmt: skip


def report_session7(
    outcomes: list[KpOutcome],
    s6: list[KpOutcome],
    plain: Method,
    seconds: tuple[float, float, float, float, float],
    looks: tuple[int, int],
    framed_other: list[int],
) -> None:
    """Session 7 against the session-6 pipeline replayed on the same queries."""
    shipped = keypoints.MIN_INLIERS
    print()
    print("session 7 (coarse region views, a framed query's picture looked at alone, bicubic "
          "enlargement of small queries) against the session-6 pipeline, same queries")  # fmt: skip
    cols = (("family", 12), ("session 6", 10), ("session 7", 10))
    print("  ".join(f"{c:>{w}}" for c, w in cols) + f"   (recall %, kp >= {shipped})")
    for fam in [*transforms.FAMILIES, None]:
        print(f"{fam or 'overall':>12}  {kp_recall(s6, shipped, fam) * 100:>10.1f}"
              f"  {kp_recall(outcomes, shipped, fam) * 100:>10.1f}")  # fmt: skip
    print(f"{'precision':>12}  {kp_precision(s6, shipped) * 100:>10.2f}"
          f"  {kp_precision(outcomes, shipped) * 100:>10.2f}")  # fmt: skip
    for name, group in (("session 6", s6), ("session 7", outcomes)):
        ok = [o.family for o in group if o.positive and not (o.matched(shipped)
              and o.correct(shipped))]  # fmt: skip
        families_ok = sum(kp_recall(group, shipped, f) >= 0.95 for f in transforms.FAMILIES)
        print(f"{name}: {len(ok)} banked queries missed, {families_ok} of "
              f"{len(transforms.FAMILIES)} families >= 95%")  # fmt: skip
    print(f"framed queries at the keypoint step (the picture's look, then the whole "
          f"image's): {looks[0]} ({looks[1]} unbanked); most inliers an unrelated candidate "
          f"reached in their looks: {sorted(framed_other)[-8:]}")  # fmt: skip
    queries = len(outcomes)
    unbanked = sum(not o.positive for o in outcomes)
    kp_s, kp_su, s6_s, s6_su, plain_u = seconds
    ms_p, ms_pu = plain.seconds / queries * 1000, plain_u / unbanked * 1000
    print(f"{'query cost':>12}  {'all':>9}  {'unbanked':>9}   (ms, ratio to plain PDQ)")
    print(f"{'plain PDQ':>12}  {ms_p:>9.2f}  {ms_pu:>9.2f}")
    for name, a, u in (("session 6", s6_s, s6_su), ("session 7", kp_s, kp_su)):
        ms_a, ms_u = a / queries * 1000, u / unbanked * 1000
        print(f"{name:>12}  {ms_a:>9.2f}  {ms_u:>9.2f}   {ms_a / ms_p:.2f}x  {ms_u / ms_pu:.2f}x")


def report_keypoints(
    outcomes: list[KpOutcome],
    plain: Method,
    seconds: float,
    seconds_unbanked: float,
    plain_unbanked: float,
    asked: int,
    kp_bytes: float,
    bank_ms: float,
) -> None:
    """The accord+kp column: recall per family at MIN_INLIERS and at the tuned count."""
    shipped = keypoints.MIN_INLIERS
    tuned = kp_threshold(outcomes, TARGET_PRECISION)
    p31 = robust.PLAIN_PDQ_THRESHOLD
    print()
    print(f"accord+kp: views at {robust.ROBUST_THRESHOLD}, else keypoints "
          f"(inliers >= {shipped} shipped; >= {tuned} is the smallest count at 99.9%)")  # fmt: skip
    cols = (("family", 12), (f"PDQ@{p31}", 9), (f"kp>={shipped}", 9), (f"kp>={tuned}", 9))
    print("  ".join(f"{c:>{w}}" for c, w in cols))
    for fam in [*transforms.FAMILIES, None]:
        vals = (
            recall(plain.outcomes, p31, fam),
            kp_recall(outcomes, shipped, fam),
            kp_recall(outcomes, tuned, fam),
        )
        print(f"{fam or 'overall':>12}  " + "  ".join(
            f"{v * 100:>{w}.1f}" for v, (_, w) in zip(vals, cols[1:], strict=True)))  # fmt: skip
    print(f"{'precision':>12}  {precision(plain.outcomes, p31) * 100:>9.2f}"
          f"  {kp_precision(outcomes, shipped) * 100:>9.2f}"
          f"  {kp_precision(outcomes, tuned) * 100:>9.2f}")  # fmt: skip
    unrelated = [o.inliers for o in outcomes if not o.by_views and not o.kp_correct]
    top = sorted(unrelated, reverse=True)[:5]
    print(f"unrelated keypoint hits: {len(unrelated)} queries asked, largest inlier counts {top}")
    tail = {t: sum(u >= t for u in unrelated) for t in range(4, max(unrelated, default=4) + 2)}
    print("unrelated queries reaching at least N inliers: "
          + ", ".join(f">={t}: {c}" for t, c in tail.items()))  # fmt: skip
    values = [o.other_inliers for o in outcomes if not o.by_views]
    print(f"every unrelated candidate (not only the best hit): largest inliers "
          f"{sorted(values, reverse=True)[:8]}; queries reaching >= N: "
          + ", ".join(f"{t}: {sum(v >= t for v in values)}"
                      for t in range(4, max(values, default=4) + 2)))  # fmt: skip
    queries = len(outcomes)
    unbanked = sum(not o.positive for o in outcomes)
    ms_p = plain.seconds / queries * 1000
    ms_k = seconds / queries * 1000
    ms_pu = plain_unbanked / unbanked * 1000
    ms_ku = seconds_unbanked / unbanked * 1000
    print(f"{'query cost':>12}  {'all':>9}  {'unbanked':>9}")
    print(f"{'plain PDQ':>12}  {ms_p:>9.2f}  {ms_pu:>9.2f}")
    print(f"{'accord+kp':>12}  {ms_k:>9.2f}  {ms_ku:>9.2f}")
    print(f"{'ratio':>12}  {ms_k / ms_p:>8.2f}x  {ms_ku / ms_pu:>8.2f}x")
    print(f"keypoints asked on {asked / queries * 100:.1f}% of queries; {kp_bytes:.0f} bytes "
          f"of keypoints per banked tile, {bank_ms:.1f} ms to extract")  # fmt: skip


def report_bank_views(
    outcomes: list[KpOutcome],
    plain: Method,
    tail: Method,
    nearest: list[int],
    before: tuple[float, float, float],
    asked_before: int,
    per_tile: int,
    bank_ms: float,
) -> None:
    """What the bank-side views add: ``accord+kp`` with and without them, same run."""
    shipped = keypoints.MIN_INLIERS
    without = [replace(o, use_bank=False) for o in outcomes]
    print()
    print(f"bank-side views: {per_tile} rotate-crops per banked tile ({bank_ms:.1f} ms to "
          f"hash them), asked with every query view at {robust.BANK_VIEW_THRESHOLD} when no "
          f"view matched")  # fmt: skip
    cols = (("family", 12), ("before", 9), ("+bank", 9), ("by bank", 9))
    print("  ".join(f"{c:>{w}}" for c, w in cols) + "   (recall %, kp >= " + f"{shipped})")
    for fam in [*transforms.FAMILIES, None]:
        pos = [o for o in outcomes if o.positive and (fam is None or o.family == fam)]
        by_bank = sum(o.by_bank and o.bank_correct and not o.by_views for o in pos)
        vals = (kp_recall(without, shipped, fam) * 100, kp_recall(outcomes, shipped, fam) * 100)
        print(f"{fam or 'overall':>12}  {vals[0]:>9.1f}  {vals[1]:>9.1f}  {by_bank:>9}")
    print(f"{'precision':>12}  {kp_precision(without, shipped) * 100:>9.2f}"
          f"  {kp_precision(outcomes, shipped) * 100:>9.2f}")  # fmt: skip
    wrong = sum(o.by_bank and not o.by_views and not o.bank_correct for o in outcomes)
    print(f"bank-side view matches that were wrong: {wrong}")
    print(f"nearest unrelated (query view, bank-side view) pair per query: smallest "
          f"{sorted(nearest)[:8]}")  # fmt: skip
    rates = ", ".join(
        f"<={t}: {tail.near_pairs.get(t, 0) / max(1, tail.pairs) * 1e6:.3f}" for t in TAIL
    )
    print(f"unrelated pairs within a distance, per million ({tail.pairs:,} pairs): {rates}")
    queries = len(outcomes)
    unbanked = sum(not o.positive for o in outcomes)
    seconds, seconds_unbanked, plain_unbanked = before
    ms_p, ms_pu = plain.seconds / queries * 1000, plain_unbanked / unbanked * 1000
    ms_b, ms_bu = seconds / queries * 1000, seconds_unbanked / unbanked * 1000
    print(f"before (no bank-side views): {ms_b:.2f} ms ({ms_b / ms_p:.2f}x) all, "
          f"{ms_bu:.2f} ms ({ms_bu / ms_pu:.2f}x) unbanked; keypoints asked on "
          f"{asked_before / queries * 100:.1f}% of queries")  # fmt: skip


if __name__ == "__main__":
    main()
