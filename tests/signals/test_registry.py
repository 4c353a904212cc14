"""The registry: settings reach the types, content types are checked, names are stable."""

from __future__ import annotations

import pytest

from accord.config import Settings
from accord.errors import InvalidInput, UnknownSignalType
from accord.signals import ContentType, MediaLimits, PdqSignal, VpdqSignal, default_registry

from .conftest import encode_image


def test_settings_reach_the_types(tmp_path) -> None:
    settings = Settings(home=tmp_path, pdq_threshold=20, pdq_min_quality=60, vpdq_fps=2.0)
    registry = default_registry(settings)
    pdq = registry.get("pdq")
    vpdq = registry.get("vpdq")
    assert isinstance(pdq, PdqSignal)
    assert isinstance(vpdq, VpdqSignal)
    assert (pdq.threshold, pdq.min_quality) == (20, 60)
    assert (vpdq.threshold, vpdq.min_quality, vpdq.fps) == (20, 60, 2.0)
    limits = MediaLimits.from_settings(settings)
    assert limits.max_bytes == settings.max_upload_bytes


def test_photo_gives_every_photo_signal(make_image) -> None:
    hashed = default_registry().hash("photo", encode_image(make_image(1)), MediaLimits())
    assert [h.signal_type for h in hashed] == ["pdq", "md5", "sha256"]
    assert hashed[0].quality is not None


def test_unknown_names_are_refused() -> None:
    registry = default_registry()
    with pytest.raises(UnknownSignalType, match="No such SignalType 'tmk'"):
        registry.get("tmk")
    with pytest.raises(UnknownSignalType):
        registry.hash(ContentType.PHOTO, b"", MediaLimits(), only=["tmk"])
    with pytest.raises(InvalidInput, match="no such content_type 'audio'"):
        registry.hash("audio", b"x", MediaLimits())


def test_url_content() -> None:
    hashed = default_registry().hash("url", b"  HTTP://Example.com:80/x#y \n", MediaLimits())
    assert [(h.signal_type, h.value) for h in hashed] == [("url", "http://example.com/x")]
