"""Service throughput over HTTP on loopback: hash lookups, upload lookups, bulk banking,
and add-to-matchable across two service processes.

Starts ``accord serve`` on a temporary SQLite home with the service's default
settings (no tuning), banks N PDQ hashes through the bulk route, then drives it
with 1, 4 and 16 concurrent clients for a fixed time each. The baseline, run in
the same process against the same server, is ``GET /status`` (no auth, no
work): the ceiling the HTTP stack itself allows on this machine, so the ratio
says how much of it accord's work costs. The last column is the server's CPU
time a request (supervisor and workers, from ``/proc``): on a shared machine it
moves much less than the rates. Upload lookups post one 512x512 JPEG again and again
(as HMA's figure was measured), and, robust, 64 different ones in turn: at 10M banked
hashes the one photo's view lookups stay in the CPU's cache, the 64 photos' do not.

    .venv/bin/python benchmarks/service.py            # 100k banked hashes
    .venv/bin/python benchmarks/service.py --quick    # 10k, shorter runs
    .venv/bin/python benchmarks/service.py --bulk-only   # bulk banking, add-to-matchable
    .venv/bin/python benchmarks/service.py --banked 10000000

Load comes from ``wrk`` when it is installed (Debian: ``apt-get install wrk``),
otherwise from clients in this process (asyncio + httpx), which are slower than
the server and so understate it. Either way the clients share the two cores
with the server: the figures are a lower bound of what the server does alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

PHOTOS = 64  # distinct photos the "in turn" upload rows post
LAST_COUNT = 0  # requests made by the last load run (for CPU-ms a request)

HMA_REFERENCE = {
    "hash lookups/s": "~900 (OMP_NUM_THREADS=1), 250-265 default",
    "upload lookups/s": "~256",
    "banked hashes/s": "~620 (one request each)",
    "add-to-matchable s": "23-33 (93 worst)",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accord_bin() -> str:
    return str(Path(sys.executable).with_name("accord"))


def start_server(
    home: Path, port: int, env: dict[str, str], wait: float = 120
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [accord_bin(), "serve", "--port", str(port)],
        env={**env, "ACCORD_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the service on port {port} did not start")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the supervisor and its worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return out


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the service: supervisor and workers.

    Read from ``/proc`` (Linux); a worker that exited is not counted, which is why it
    is read around each measurement, not once at the end. Less noisy than a rate on a
    shared machine: it counts what the server spent, not what it was given.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def wait_idle(pid: int, limit: float = 600.0) -> float:
    """Seconds until the service's processes use under 5% of a core over a second.

    After a bulk load each worker still follows the import into its index (at 10M a
    rebuild of the main segment takes each worker 10-20 s), so lookups measured at once
    would count that work too; the run waits for it and reports how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = server_cpu(pid)
        time.sleep(1.0)
        if server_cpu(pid) - before < 0.05:
            break
    return time.monotonic() - started


SNAPSHOT_CHANGES = 100_000
"""The service's default ``ACCORD_SNAPSHOT_CHANGES``."""


def wait_snapshot(home: Path, feed_seq: int, limit: float = 600.0) -> float:
    """Seconds until the service's index snapshot covers feed position ``feed_seq``."""
    started = time.monotonic()
    header = home / "index" / "matcher.json"
    while time.monotonic() - started < limit:
        try:
            if json.loads(header.read_text())["feed_seq"] >= feed_seq:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    return time.monotonic() - started


def random_hashes(n: int, rng: np.random.Generator) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    return [bytes(row).hex() for row in raw]


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.random((8, 8, 3))
    image = Image.fromarray((small * 255).astype("uint8")).resize(
        (512, 512), Image.Resampling.BICUBIC
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def drive(make_request, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms and errors with ``clients`` concurrent loops."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def loop(worker: int) -> None:
            nonlocal errors
            i = worker
            while time.monotonic() < stop:
                start = time.perf_counter()
                response = await make_request(client, i)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 400:
                    errors += 1
                i += clients

        started = time.monotonic()
        await asyncio.gather(*(loop(w) for w in range(clients)))
        elapsed = time.monotonic() - started
    global LAST_COUNT
    LAST_COUNT = len(latencies)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p50, p99, errors


def wrk_drive(
    url: str, clients: int, seconds: float, lua: str, workdir: Path
) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms and non-2xx answers measured by wrk."""
    script = workdir / f"drive-{clients}.lua"
    script.write_text(lua)
    threads = 1 if clients == 1 else 2
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(result.split("Requests/sec:")[1].split()[0])
    global LAST_COUNT
    LAST_COUNT = int(result.split(" requests in ")[0].split()[-1])
    p50 = p99 = 0.0
    for line in result.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            value = parts[1]
            ms = (
                float(value[:-2])
                if value.endswith("ms")
                else float(value[:-2]) / 1000
                if value.endswith("us")
                else float(value[:-1]) * 1000
            )
            if parts[0] == "50%":
                p50 = ms
            else:
                p99 = ms
    errors = 0
    if "Non-2xx or 3xx responses:" in result:
        errors = int(result.split("Non-2xx or 3xx responses:")[1].split()[0])
    return rate, p50, p99, errors


BULK_BATCH = 10_000
ENCODE_AHEAD = 1_000_000
"""Hashes whose request bodies are encoded before a timed run of posts (all of them at
100k; at 10M, 1M at a time, so the bodies need not all be held at once)."""


def bulk_body(hashes: list[str], form: str) -> bytes:
    """A bulk request body: the row form (items of signals) or the column form."""
    if form == "rows":
        return json.dumps({"items": [{"signals": {"pdq": h}} for h in hashes]}).encode()
    return json.dumps({"signal_type": "pdq", "hashes": hashes}).encode()


def bulk_bank(
    base: str, headers: dict[str, str], hashes: list[str], form: str, pid: int, offset: int
) -> tuple[float, float]:
    """Bank ``hashes`` in batches of 10,000 by one client; the seconds of the posts (the
    bodies encoded before each timed run, so the client's JSON encoding is not in them)
    and the server's CPU seconds, up to both workers' indexes holding the hashes."""
    posting = 0.0
    cpu0 = server_cpu(pid)
    with httpx.Client(headers={**headers, "Content-Type": "application/json"}) as client:
        for ahead in range(0, len(hashes), ENCODE_AHEAD):
            part = hashes[ahead : ahead + ENCODE_AHEAD]
            bodies = [
                bulk_body(part[i : i + BULK_BATCH], form) for i in range(0, len(part), BULK_BATCH)
            ]
            started = time.perf_counter()
            for body in bodies:
                client.post(
                    f"{base}/v1/banks/BENCH/content/bulk", content=body, timeout=600
                ).raise_for_status()
            posting += time.perf_counter() - started
        # wait for the index to hold them all
        while client.get(f"{base}/m/index/status?signal_type=pdq", timeout=60).json()["pdq"][
            "size"
        ] < offset + len(hashes):
            time.sleep(0.5)
    time.sleep(1.5)  # the other worker follows the feed too
    return posting, server_cpu(pid) - cpu0


def lua_lookup(hashes: list[str], key: str) -> str:
    table = ",".join(f'"{h}"' for h in hashes)
    return (
        f"local hashes = {{{table}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  local h = hashes[(i % #hashes) + 1]\n"
        '  return wrk.format("GET", "/m/lookup?signal_type=pdq&signal=" .. h,'
        f' {{["Authorization"] = "Bearer {key}"}})\nend\n'
    )


def lua_upload(body_files: list[Path], boundary: str, key: str) -> str:
    """wrk posts the bodies in turn (one file: the same body every time)."""
    names = ",".join(f'"{f}"' for f in body_files)
    return (
        f"local names = {{{names}}}\nlocal bodies = {{}}\n"
        "for n, name in ipairs(names) do\n"
        '  local f = io.open(name, "rb")\n  bodies[n] = f:read("*all")\n  f:close()\nend\n'
        f'local headers = {{["Content-Type"] = "multipart/form-data; boundary={boundary}",'
        f' ["Authorization"] = "Bearer {key}"}}\n'
        "local i = 0\n"
        "request = function()\n  i = i + 1\n"
        '  return wrk.format("POST", nil, headers, bodies[(i % #bodies) + 1])\nend\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banked", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--bulk-only", action="store_true", help="bulk banking and add-to-matchable only"
    )
    args = parser.parse_args()
    if args.quick:
        args.banked, args.seconds = 10_000, 3.0
    rng = np.random.default_rng(7)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    root = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["ACCORD_HOME"] = str(home)
    subprocess.run([accord_bin(), "init"], env=env, check=True, capture_output=True)
    key = subprocess.run(
        [accord_bin(), "keys", "create", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    port_a, port_b = free_port(), free_port()
    server_a = start_server(home, port_a, env)
    base = f"http://127.0.0.1:{port_a}"
    rows: list[tuple[str, str, str, str, str, str]] = []

    def note(row: tuple[str, str, str, str, str, str]) -> None:
        """Keep a row for the table, and show it at once (a 10M run takes many minutes)."""
        rows.append(row)
        print("  " + " | ".join(part for part in row if part), flush=True)

    try:
        httpx.post(f"{base}/v1/banks", json={"name": "BENCH"}, headers=headers).raise_for_status()
        hashes = random_hashes(args.banked, rng)
        # the first half in the row form, the second in the column form, then both
        half = len(hashes) // 2
        posted = cpu_spent = 0.0
        for form, part, offset in (
            ("rows", hashes[:half], 0),
            ("columns", hashes[half:], half),
            ("all", [], 0),
        ):
            if part:
                seconds, spent = bulk_bank(base, headers, part, form, server_a.pid, offset)
                posted, cpu_spent = posted + seconds, cpu_spent + spent
            else:
                part, seconds, spent = hashes, posted, cpu_spent
            note(
                (
                    f"bulk banking, {form}",
                    "1",
                    f"{len(part) / seconds:,.0f} hashes/s",
                    "",
                    "",
                    f"{spent / len(part) * 1e6:.1f} us/hash",
                )
            )
        # the service writes its index snapshot by itself once the feed is still (not
        # below 100,000 banked: a start from the database is quick then); wait for it, so
        # no lookup run below counts it
        if args.banked >= SNAPSHOT_CHANGES:
            note(
                (
                    "index snapshot written",
                    "",
                    f"{wait_snapshot(home, len(hashes)):.1f} s",
                    "",
                    "",
                    "",
                )
            )
        note(("settled after bulk banking", "", f"{wait_idle(server_a.pid):.1f} s", "", "", ""))
        if args.bulk_only:
            hashes = []

        queries = [hashes[int(i)] for i in rng.integers(0, len(hashes), 1000)] if hashes else []
        # one photo posted again and again (its views' index lines stay in the CPU's
        # cache), and PHOTOS different ones in turn (each upload's lookups go to memory)
        images = [jpeg(1 + n) for n in range(PHOTOS)]
        photos = images[:1]

        async def status(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.get(f"{base}/status")

        async def lookup(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.get(
                f"{base}/m/lookup",
                params={"signal": queries[i % len(queries)], "signal_type": "pdq"},
                headers=headers,
            )

        upload_path = "/m/lookup"

        async def upload(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.post(
                f"{base}{upload_path}",
                files={"photo": ("a.jpg", photos[i % len(photos)])},
                headers=headers,
            )

        use_wrk = shutil.which("wrk") is not None
        boundary = "accordbench"
        body_files = [root / f"upload-{n}.body" for n in range(PHOTOS)]
        for body_file, image in zip(body_files, images, strict=True):
            body_file.write_bytes(
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
                f'filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                + image
                + f"\r\n--{boundary}--\r\n".encode()
            )
        print(f"load generator: {'wrk' if use_wrk else 'httpx (install wrk for truer figures)'}")

        def run_status(clients: int, seconds: float) -> tuple[float, float, float, int]:
            if use_wrk:
                return wrk_drive(f"{base}/status", clients, seconds, "", root)
            return asyncio.run(drive(status, clients, seconds))

        def run_lookup(clients: int, seconds: float) -> tuple[float, float, float, int]:
            if use_wrk:
                return wrk_drive(base, clients, seconds, lua_lookup(queries, key), root)
            return asyncio.run(drive(lookup, clients, seconds))

        def run_upload(clients: int, seconds: float) -> tuple[float, float, float, int]:
            if use_wrk:
                # the path (with ?robust=false for plain PDQ) comes from the URL: the Lua
                # script sets only method, body and headers
                return wrk_drive(
                    f"{base}{upload_path}",
                    clients,
                    seconds,
                    lua_upload(body_files[: len(photos)], boundary, key),
                    root,
                )
            return asyncio.run(drive(upload, clients, seconds))

        def cpu_ms(run, clients: int, seconds: float) -> tuple[float, float, float, int, str]:
            """A run's figures and the server's CPU-ms a request during it."""
            before = server_cpu(server_a.pid)
            rate, p50, p99, errors = run(clients, seconds)
            spent = server_cpu(server_a.pid) - before
            return rate, p50, p99, errors, f"{spent / max(1, LAST_COUNT) * 1e3:.3f} ms"

        for clients in () if args.bulk_only else (1, 4, 16):
            base_rate, _, _, _, base_cpu = cpu_ms(run_status, clients, args.seconds / 2)
            rate, p50, p99, errors, cpu = cpu_ms(run_lookup, clients, args.seconds)
            note(
                (
                    "hash lookup",
                    str(clients),
                    f"{rate:,.0f}/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms)",
                    f"{base_rate:,.0f}/s",
                    f"{rate / base_rate:.2f}" + (f" errors={errors}" if errors else ""),
                    f"{cpu} ({base_cpu})",
                )
            )
        for label, path, count in (
            ("upload lookup, robust", "/m/lookup", 1),
            (f"upload lookup, robust, {PHOTOS} photos", "/m/lookup", PHOTOS),
            ("upload lookup, plain PDQ", "/m/lookup?robust=false", 1),
        ):
            upload_path, photos = path, images[:count]
            for clients in () if args.bulk_only else (1, 4, 16):
                rate, p50, p99, errors, cpu = cpu_ms(run_upload, clients, args.seconds)
                note(
                    (
                        label,
                        str(clients),
                        f"{rate:,.0f}/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms)",
                        "",
                        f"errors={errors}" if errors else "",
                        cpu,
                    )
                )

        # a second process starts from the snapshot (or, below 100,000 banked, from the
        # database) and replays the feed after it
        started = time.monotonic()
        server_b = start_server(home, port_b, env, wait=1200)
        note(
            (
                "start of a 2nd service process",
                "",
                f"{time.monotonic() - started:.1f} s to its first answer",
                "",
                "",
                "",
            )
        )
        try:
            probe = random_hashes(5, rng)
            waits = []
            for value in probe:
                t0 = time.perf_counter()
                httpx.post(
                    f"{base}/c/bank/BENCH/signal", json={"pdq": value}, headers=headers
                ).raise_for_status()
                while True:
                    found = httpx.get(
                        f"http://127.0.0.1:{port_b}/m/lookup",
                        params={"signal": value, "signal_type": "pdq"},
                        headers=headers,
                    ).json()
                    if found.get("BENCH"):
                        break
                    time.sleep(0.01)
                waits.append(time.perf_counter() - t0)
            note(
                (
                    "add-to-matchable (2nd process)",
                    "1",
                    f"median {statistics.median(waits):.2f} s, max {max(waits):.2f} s",
                    "",
                    "",
                    "",
                )
            )
        finally:
            server_b.terminate()
            server_b.wait(timeout=30)
    finally:
        server_a.terminate()
        server_a.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)

    print(f"accord service benchmark: {args.banked:,} banked PDQ hashes, {os.cpu_count()} cores")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"{'what':32} {'clients':>7}  {'accord':44} {'GET /status':>12} {'ratio':>6}"
        f"  server CPU a request (GET /status)"
    )
    for what, clients, value, baseline, ratio, cpu in rows:
        print(f"{what:32} {clients:>7}  {value:44} {baseline:>12} {ratio:>6}  {cpu}")
    print("HMA 1.1.7 reference (from the issue, not measured here):")
    for what, value in HMA_REFERENCE.items():
        print(f"  {what}: {value}")


if __name__ == "__main__":
    random.seed(0)
    main()
