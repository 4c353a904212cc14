"""Shared fixtures: a clean environment, a temporary home, an Accord on SQLite and on
PostgreSQL, and an HTTP client with keys of every role.

``accord`` is parametrized over the two databases only where a test asks for
``store`` (the storage-backed fixture); plain ``accord`` is SQLite, which is fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.clock import ManualClock
from accord.config import Settings
from accord.runtime import Accord

pytest_plugins = ["tests.plugins.postgres"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's ACCORD_* settings or home."""
    for name in list(os.environ):
        if name.startswith("ACCORD_") and name != "ACCORD_TEST_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "home"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


def _make_accord(settings: Settings, clock: ManualClock) -> Iterator[Accord]:
    accord = Accord(settings, clock=clock)
    accord.init()
    try:
        yield accord
    finally:
        accord.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def accord(settings: Settings, clock: ManualClock) -> Iterator[Accord]:
    """An initialised Accord on SQLite in a temporary home, with a manual clock."""
    yield from _make_accord(settings, clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Accord]:
    """An initialised Accord on each database: SQLite, then a fresh PostgreSQL database."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        settings = Settings(home=tmp_path / "home", database_url=url)
    else:
        settings = Settings(home=tmp_path / "home")
    yield from _make_accord(settings, clock)


@pytest.fixture
def api_keys(accord: Accord) -> dict[str, str]:
    """One key per role, by role name."""
    from accord.keys.model import Role

    return {role.value: accord.keys.create(role, subject=f"{role.value}-account") for role in Role}


@pytest.fixture
def client(accord: Accord) -> Iterator[object]:
    """A TestClient of the app over ``accord`` (the matcher is started by the app)."""
    from fastapi.testclient import TestClient

    from accord.api.app import create_app

    with TestClient(create_app(accord, start_matcher=False)) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def headers(api_keys: dict[str, str]) -> dict[str, dict[str, str]]:
    """Authorization headers by role name: ``client.get(url, headers=headers["curator"])``."""
    return {role: auth(key) for role, key in api_keys.items()}


# -- media made in the tests (nothing is downloaded) -------------------------------------


def _natural_image(seed: int, size: tuple[int, int] = (320, 240)):
    """A photo-like RGB image: smooth random fields at several scales, shapes and a gradient."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    width, height = size
    canvas = np.zeros((height, width, 3), dtype=np.float64)
    for scale in (4, 8, 16, 32):
        small = rng.random((scale, scale, 3))
        layer = Image.fromarray((small * 255).astype("uint8")).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        canvas += np.asarray(layer, dtype=np.float64) / scale
    canvas = canvas / canvas.max() * 255
    image = Image.fromarray(canvas.astype("uint8"))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        x1, y1 = x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


@pytest.fixture
def make_image():
    """``make_image(seed, fmt="JPEG", quality=95, size=(320, 240)) -> bytes``."""
    import io

    def make(seed: int, fmt: str = "JPEG", quality: int = 95, size=(320, 240)) -> bytes:
        image = _natural_image(seed, size)
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, quality=quality)
        return buffer.getvalue()

    return make


@pytest.fixture
def reencode():
    """``reencode(data, quality=40, scale=0.5) -> bytes``: a re-encoded, resized JPEG copy."""
    import io

    from PIL import Image

    def convert(data: bytes, quality: int = 40, scale: float = 0.5) -> bytes:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        w, h = image.size
        image = image.resize((max(1, int(w * scale)), max(1, int(h * scale))))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    return convert


@pytest.fixture
def make_video(tmp_path: Path):
    """``make_video(seed, seconds=4, fps=10, size=(96, 64), codec="mpeg4") -> bytes``: moving
    shapes over a photo-like background, encoded with PyAV."""
    import io

    import av
    import numpy as np

    def make(
        seed: int, seconds: float = 4, fps: int = 10, size=(96, 64), codec: str = "mpeg4"
    ) -> bytes:
        width, height = size
        background = np.asarray(_natural_image(seed, (width, height)))
        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="mp4") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            for i in range(int(seconds * fps)):
                frame = background.copy()
                # the scene changes every second, so sampled frames differ
                seconds_in = i / fps  # motion is a function of time, not of frame number
                frame = np.roll(frame, shift=int(seconds_in) * 7, axis=1)
                x = int(seconds_in * 30) % max(1, width - 16)
                frame[10:26, x : x + 16] = 255 - frame[10:26, x : x + 16]
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
                for packet in stream.encode(video_frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return buffer.getvalue()

    return make
