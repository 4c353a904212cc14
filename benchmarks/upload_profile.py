"""Where an upload lookup's time goes: cProfile of ``LookupService.match_content`` in process.

The upload is ``benchmarks/service.py``'s (a 512x512 JPEG, quality 90), the
bank holds 10k random PDQ hashes banked through the bulk route. The whole
route is timed through FastAPI's ``TestClient`` (HTTP and multipart included,
client side too), then ``match_content`` alone, then profiled; the table sums
the profiled time of the functions that make up an upload. The route and
``match_content`` are timed in CPU time of this process (``time.process_time``),
which a busy machine inflates less than wall time; the profile's parts are
cProfile's (wall clock, with its overhead). The baseline is the same upload with
plain PDQ only (``--plain``); ``--keypoints`` also banks a photo with local
features, so that a miss runs ORB.

    .venv/bin/python benchmarks/upload_profile.py             # robust views (default)
    .venv/bin/python benchmarks/upload_profile.py --plain
    .venv/bin/python benchmarks/upload_profile.py --keypoints
    .venv/bin/python benchmarks/upload_profile.py --quick     # 20 uploads instead of 100
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import Settings
from accord.keys.model import Role
from accord.runtime import Accord
from service import jpeg  # the upload of benchmarks/service.py (same folder)

PARTS = [
    ("decode_image", "JPEG decode (Pillow)"),
    ("hash_image", "PDQ of the upload (registry)"),
    ("robust_views", "robust views"),
    ("compute", "PDQ calls, all (registry + views)"),
    ("compute_dihedral", "  PDQ dihedral calls (views)"),
    ("_area", "  area averages (views' reductions)"),
    ("resize", "  resizes (Pillow or OpenCV)"),
    ("_trim_box", "  border search"),
    ("_salient_box", "  salient-rectangle search"),
    ("rotation_angle", "  rotation check"),
    ("lookup", "index lookups (matcher.lookup)"),
    ("lookup_many", "index lookups (matcher.lookup_many, views)"),
    ("extract", "ORB keypoints"),
    ("lookup_keypoints", "keypoint lookup"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", action="store_true", help="plain PDQ, no robust views")
    parser.add_argument("--keypoints", action="store_true", help="bank a photo with features")
    parser.add_argument("--quick", action="store_true", help="20 uploads instead of 100")
    args = parser.parse_args()
    n = 20 if args.quick else 100
    robust = not args.plain
    home = Path(tempfile.mkdtemp(prefix="accord-profile-"))
    accord = Accord(Settings(home=home))
    accord.init()
    headers = {"Authorization": f"Bearer {accord.keys.create(Role.ADMIN, subject='bench')}"}
    rng = np.random.default_rng(7)
    data = jpeg(1)
    path = "/m/lookup" if robust else "/m/lookup?robust=false"
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {n} uploads; robust={robust}")
    with TestClient(create_app(accord, start_matcher=False)) as client:
        client.post("/v1/banks", json={"name": "BENCH"}, headers=headers).raise_for_status()
        raw = rng.integers(0, 256, size=(10_000, 32), dtype=np.uint8)
        items = [{"signals": {"pdq": bytes(r).hex()}} for r in raw]
        client.post(
            "/v1/banks/BENCH/content/bulk", json={"items": items}, headers=headers
        ).raise_for_status()
        if args.keypoints:
            client.post(
                "/v1/banks/BENCH/media", files={"photo": ("b.jpg", jpeg(99))}, headers=headers
            ).raise_for_status()
        accord.matcher.catch_up()
        for _ in range(5):
            client.post(path, files={"photo": ("a.jpg", data)}, headers=headers)
        start = time.process_time()
        for _ in range(n):
            client.post(path, files={"photo": ("a.jpg", data)}, headers=headers)
        route_ms = (time.process_time() - start) / n * 1e3
    start = time.process_time()
    for _ in range(n):
        accord.lookups.match_content("photo", data, robust=robust)
    plain_ms = (time.process_time() - start) / n * 1e3
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        accord.lookups.match_content("photo", data, robust=robust)
    profile.disable()
    accord.close()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    print(f"| {'part':40s} | ms CPU per upload | calls per upload |")
    print("| --- | --- | --- |")
    print(f"| {'route through TestClient':40s} | {route_ms:.2f} | 1 |")
    print(f"| {'match_content (not profiled)':40s} | {plain_ms:.2f} | 1 |")
    for func, label in PARTS:
        cum = sum(v[3] for k, v in stats.items() if k[2] == func) / n * 1e3
        calls = sum(v[1] for k, v in stats.items() if k[2] == func) / n
        print(f"| {label:40s} | {cum:.2f} | {calls:.1f} |")
    print("(profiled times include cProfile's overhead)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
