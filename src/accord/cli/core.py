"""``accord init`` and ``accord serve``."""

from __future__ import annotations

import inspect
import os
from typing import Any

import typer

from accord.cli.app import app, err, get_accord, out


@app.command()
def init() -> None:
    """Create the home (database, secrets) and, the first time, an admin key.

    The admin key is printed once, on standard output; store it somewhere safe.
    """
    accord = get_accord()
    if accord.keys.count_admins() == 0:
        key = accord.keys.create("admin", note="created by accord init", actor="cli:init")
        err.print(f"accord home: {accord.settings.home}")
        err.print("created the first admin key (shown once; keep it):")
        out.print(key)
    else:
        err.print(f"accord home: {accord.settings.home} (ready; admin key exists)")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to bind (default ACCORD_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default ACCORD_PORT or 8000)."),
    workers: int = typer.Option(None, help="Processes (default ACCORD_WORKERS or 1)."),
) -> None:
    """Start the HTTP service (HMA-compatible routes and /v1)."""
    import uvicorn

    accord = get_accord()
    settings = accord.settings
    threads = str(settings.threads)
    # and OpenCV's own pool (ORB's keypoints, colour conversion of large images), whose idle
    # worker spins after each job: 0.8-1.6 ms of CPU a keypoint query served with pauses
    numeric = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    for var in (*numeric, "OPENCV_FOR_THREADS_NUM"):
        os.environ.setdefault(var, threads)
    bind_host = host or settings.host
    bind_port = port or settings.port
    err.print(f"serving accord home {settings.home} on http://{bind_host}:{bind_port}")
    uvicorn.run(
        "accord.api.asgi:app",
        host=bind_host,
        port=bind_port,
        workers=workers or settings.workers,
        log_level="warning",
        access_log=False,
        # httptools writes each response in one piece; the pure-Python h11 parser's
        # separate header and body writes meet delayed ACKs (~40 ms a request).
        http="httptools",
        loop="uvloop",
        **_supervisor_options(uvicorn.run),
    )


def _supervisor_options(run: Any) -> dict[str, Any]:
    """uvicorn's supervisor kills a worker that does not answer its ping within
    ``timeout_worker_healthcheck`` (5 s by default) and starts another. On a loaded
    2-core machine a worker starting up (imports, migrations, loading the index) took
    longer than that, and was killed and restarted over and over; a minute is enough
    to tell a hung worker from a slow one."""
    if "timeout_worker_healthcheck" in inspect.signature(run).parameters:
        return {"timeout_worker_healthcheck": 60}
    return {}
