"""Why the keypoint step misses what it misses: one line per missed banked query, by stage.

Run: ``.venv/bin/python benchmarks/robustness_misses.py [--families rotate_crop,combo]``.

Same tiles, bank and transforms as ``benchmarks/robustness.py`` (its loader and
cache; seed 7). For every banked tile whose transformed copy neither a PDQ view
(at ``ROBUST_THRESHOLD``; with the coarse region views since session 7), nor a
bank-side view (the banked tiles' rotate-crops, at ``BANK_VIEW_THRESHOLD``), nor the
keypoint step (``MIN_INLIERS``; a framed query's picture first, then its whole image)
matches, it
reports the stage that lost it, and the query's distance to its tile's nearest
bank-side view:

* ``no corners``: the query or the banked tile has fewer than 50 keypoints;
* ``not retrieved``: the right tile is not among the verified candidates (its
  rank by votes is printed, and what verifying it would have given);
* ``few pairs``: verified, but fewer than ``MIN_INLIERS`` correspondences pass
  the ratio test (descriptors did not survive the edit);
* ``few inliers``: enough correspondences, too few agree on one similarity.

Each line also gives the banked tile's own keypoint count (under
``BANK_FEATURES``: a smooth picture, FAST found few corners even at its lowest
threshold). Nothing is timed; no figure of it goes into the cost ratios.
"""

from __future__ import annotations

import argparse
from collections import Counter

import faiss
import numpy as np
import pdqhash

from accord.matching import keypoints, robust, transforms
from accord.matching.keypoint_index import KeypointIndex
from robustness import fetch_photographs, make_tiles  # the script's folder is on sys.path


def correspondences(query: keypoints.Features, banked: keypoints.Features) -> int:
    """Ratio-tested correspondences, as :func:`keypoints.verify` forms them."""
    if len(query) < 2 or len(banked) < 2:
        return 0
    flat = faiss.IndexBinaryFlat(256)
    flat.add(banked.descriptors)
    d, labels = flat.search(query.descriptors, 2)
    return int(((labels[:, 1] >= 0) & (d[:, 0] < keypoints.RATIO * d[:, 1])).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default="rotate_crop,combo")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    families = args.families.split(",")
    faiss.omp_set_num_threads(1)
    tiles = make_tiles(fetch_photographs(), 400, np.random.default_rng(args.seed))
    half = len(tiles) // 2
    banked = tiles[:half]
    bank = np.stack(
        [np.packbits(np.asarray(pdqhash.compute(np.asarray(t))[0], dtype=np.uint8)) for t in banked]
    )
    features = [keypoints.extract(np.asarray(t), mirror=True) for t in banked]
    points = KeypointIndex()
    points.add(list(range(half)), [keypoints.pack(f) for f in features])
    turned = [
        np.stack([robust.hex_to_bits(h) for _, h in robust.bank_rotations(t)]) for t in banked
    ]
    rot_bank = np.concatenate(turned)
    rot_owner = np.repeat(np.arange(half), len(turned[0]))
    causes: Counter[tuple[str, str]] = Counter()
    for family in families:
        fi = transforms.FAMILIES.index(family)
        for idx in range(half):
            query, desc = transforms.apply(
                family, tiles[idx], np.random.default_rng([args.seed, idx, fi])
            )
            arr = np.asarray(query)
            regions: list[robust.Region] = []
            views = robust.robust_views(arr, coarse=True, regions=regions)
            m = robust.best_match(views, bank)
            if m is not None and m.distance <= robust.ROBUST_THRESHOLD and m.row == idx:
                continue
            r = robust.best_match(views, rot_bank, threshold=robust.BANK_VIEW_THRESHOLD)
            if r is not None and rot_owner[r.row] == idx:
                continue
            own_turned = robust.best_match(views, turned[idx])
            turned_distance = own_turned.distance if own_turned is not None else 256
            box = robust.framed_box(regions)
            second = ""
            if box is not None:  # the service's first look for a framed query: its picture
                inside = keypoints.extract_query(arr[box[1] : box[3], box[0] : box[2]], sharp=True)
                hits = points.query(inside, keypoints.MIN_INLIERS)
                if hits and hits[0].id == idx:
                    continue
                own_side = max(keypoints.verify(inside, s) for s in (features[idx],
                               features[idx].mirror or features[idx]))  # fmt: skip
                second = f"; framed picture's look {own_side} inliers"
            q = keypoints.extract_query(arr, fill=box is None, sharp=True)
            hits = points.query(q, keypoints.MIN_INLIERS)
            if hits and hits[0].id == idx:
                continue
            nearest = robust.best_match(views, bank[[i for i in range(half) if i != idx]])
            candidates = points.candidates(q)
            ids = [c for c, _ in candidates]
            own = features[idx]
            sides = [own] + ([own.mirror] if own.mirror is not None else [])
            best = max(sides, key=lambda s: correspondences(q, s))
            pairs = correspondences(q, best)
            inliers = keypoints.verify(q, best)
            if min(len(q), len(own)) < 50:
                cause = "no corners"
            elif idx not in ids:
                cause = "not retrieved"
            elif pairs < keypoints.MIN_INLIERS:
                cause = "few pairs"
            else:
                cause = "few inliers"
            causes[(family, cause)] += 1
            rank = ids.index(idx) if idx in ids else -1
            print(f"{family:>11} tile {idx:3d} {cause:>13}: query {len(q):3d} keypoints, "
                  f"banked {len(own):3d}; candidate rank {rank:2d}; {pairs:3d} pairs, "
                  f"{inliers:2d} inliers against it; bank-side view at {turned_distance}; "
                  f"own view at {m.distance if m is not None and m.row == idx else '-'}, "
                  f"nearest other {nearest.distance if nearest else '-'}{second}; "
                  f"{desc}")  # fmt: skip
    print()
    for family in families:
        tally = {c: n for (f, c), n in causes.items() if f == family}
        ranked = sorted(tally.items(), key=lambda x: -x[1])
        print(f"{family}: {sum(tally.values())} missed: "
              + ", ".join(f"{c} {n}" for c, n in ranked))  # fmt: skip


if __name__ == "__main__":
    main()
