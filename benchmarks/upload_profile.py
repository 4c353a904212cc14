"""Where an upload lookup's time goes: cProfile of ``LookupService.match_content`` in process.

The upload is ``benchmarks/service.py``'s (a 512x512 JPEG, quality 90), the
bank holds 10k random PDQ hashes banked through the bulk route. The whole
route is timed through FastAPI's ``TestClient`` (HTTP and multipart included,
client side too), then ``match_content`` alone, then profiled; the table sums
the profiled time of the functions that make up an upload; the ASGI app is
also called directly (no client, no sockets), for the CPU a served upload costs in
the process and in its event loop thread. The route and
``match_content`` are timed in CPU time of this process (``time.process_time``),
which a busy machine inflates less than wall time; the profile's parts are
cProfile's (wall clock, with its overhead). The route is timed twice, in
turns: as served (``POST /m/lookup`` answered before Starlette, accord.api.uploads) and
by FastAPI's route (``create_app(fast_lookups=False)``), the same run's baseline for it.
The baseline of the views is the same upload with plain PDQ only (``--plain``);
``--keypoints`` also banks a photo with local features, so that a miss runs ORB.

    .venv/bin/python benchmarks/upload_profile.py             # robust views (default)
    .venv/bin/python benchmarks/upload_profile.py --plain
    .venv/bin/python benchmarks/upload_profile.py --keypoints
    .venv/bin/python benchmarks/upload_profile.py --quick     # 20 uploads instead of 100
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import Settings
from accord.keys.model import Role
from accord.runtime import Accord
from service import jpeg  # the upload of benchmarks/service.py (same folder)

PARTS = [
    ("decode_image", "JPEG decode (Pillow)"),
    ("hash_image", "PDQ of the upload (registry; plain uploads)"),
    ("oriented_hex", "PDQ of the upload in its 8 orientations (robust)"),
    ("robust_views", "robust views"),
    ("_row_pass", "  PDQ row passes (every pixel read)"),
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


async def asgi_ms(
    apps: list[Any], path: str, data: bytes, authorization: str, n: int
) -> list[tuple[float, float]]:
    """CPU ms an upload of each ASGI app called directly (no client, no sockets), in turns
    of ten uploads: the whole process's, and the event loop thread's alone (the rest is
    the thread that matched). What a worker of ``accord serve`` spends besides uvicorn."""
    boundary = "accordprofile"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", authorization.encode()),
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def upload(app: Any) -> None:
        status = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # as uvicorn does: nothing more until the client goes away
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        assert status == [200], status

    spent = [[0.0, 0.0] for _ in apps]
    for app in apps:
        for _ in range(5):
            await upload(app)
    for _ in range(n // 10):
        for app, total in zip(apps, spent, strict=True):
            whole, loop = time.process_time(), time.thread_time()
            for _ in range(10):
                await upload(app)
            total[0] += time.process_time() - whole
            total[1] += time.thread_time() - loop
    done = n // 10 * 10
    return [(whole / done * 1e3, loop / done * 1e3) for whole, loop in spent]


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
    slow_app = create_app(accord, start_matcher=False, fast_lookups=False)
    with (
        TestClient(create_app(accord, start_matcher=False)) as client,
        TestClient(slow_app) as slow,
    ):
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
        spent = {client: 0.0, slow: 0.0}
        for each in (client, slow):
            for _ in range(5):
                each.post(path, files={"photo": ("a.jpg", data)}, headers=headers)
        for _ in range(n // 10):  # the two routes in turns of ten uploads
            for each in (client, slow):
                start = time.process_time()
                for _ in range(10):
                    each.post(path, files={"photo": ("a.jpg", data)}, headers=headers)
                spent[each] += time.process_time() - start
        route_ms, slow_ms = (spent[each] / (n // 10 * 10) * 1e3 for each in (client, slow))
        asgi = uvloop.run(asgi_ms([client.app, slow.app], path, data, headers["Authorization"], n))
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
    print(f"| {'  the same by FastAPI (no fast path)':40s} | {slow_ms:.2f} | 1 |")
    for label, (whole, loop) in zip(("as served", "by FastAPI"), asgi, strict=True):
        print(f"| {'ASGI app alone, ' + label:40s} | {whole:.2f} (event loop {loop:.2f}) | 1 |")
    print(f"| {'match_content (not profiled)':40s} | {plain_ms:.2f} | 1 |")
    for func, label in PARTS:
        cum = sum(v[3] for k, v in stats.items() if k[2] == func) / n * 1e3
        calls = sum(v[1] for k, v in stats.items() if k[2] == func) / n
        print(f"| {label:40s} | {cum:.2f} | {calls:.1f} |")
    print("(profiled times include cProfile's overhead)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
