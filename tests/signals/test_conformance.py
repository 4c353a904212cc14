"""The conformance test every registered signal type must pass (parametrized over the registry):
validation normalises idempotently and refuses junk, a signal matches itself at distance 0, the
fast index agrees with the reference comparison, and hashing each content type gives a valid
signal."""

from __future__ import annotations

import random

import pytest

from accord.errors import InvalidSignal
from accord.signals import ContentType, MediaLimits, SignalType, default_registry

from .conftest import SAMPLES, encode_image

REGISTRY = default_registry()
TYPES = pytest.mark.parametrize("signal_type", list(REGISTRY), ids=REGISTRY.names())

INVALID_EVERYWHERE = [
    "",
    "   ",
    "not a hash",
    "zz" * 32,
    "0" * 63 + "g",
    "\U0001f642",
    "1,2,3",
    "javascript:alert(1)",
    "0" * 10_000,
]
INVALID_FOR = {
    "pdq": ["0" * 63, "0" * 65, "0x" + "0" * 62],
    "vpdq": [
        "0,100," + "0" * 64,
        "0,101," + "0" * 64 + ",0",
        "-1,100," + "0" * 64 + ",0",
        "0,100," + "0" * 63 + ",0",
        "0,100," + "0" * 64 + ",nan",
        "[]",
        "[1]",
        '[{"frame_number": 0}]',
    ],
    "md5": ["0" * 31, "0" * 33, "0" * 64],
    "video_md5": ["0" * 31, "0" * 64],
    "sha256": ["0" * 63, "0" * 32],
    "text": [
        "minhash-v1:10:" + "0" * 1023,
        "minhash-v1:0:" + "0" * 1024,
        "minhash-v2:10:" + "0" * 1024,
        "0" * 1024,
    ],
    "url": [
        "ftp://example.com/",
        "http://",
        "https:///path",
        "example.com/x",
        "http://exa mple.com/",
        "http://example.com:99999/",
    ],
}
ALTERNATIVE_THRESHOLD = {"pdq": 10, "vpdq": 12, "text": 0.3}


def test_every_type_has_samples_and_invalid_examples() -> None:
    assert set(REGISTRY.names()) == set(SAMPLES) == set(INVALID_FOR)
    assert REGISTRY.names() == ["pdq", "vpdq", "video_md5", "md5", "sha256", "text", "url"]


@TYPES
def test_validate_round_trips_and_is_idempotent(signal_type: SignalType) -> None:
    rng = random.Random(1)
    for value in SAMPLES[signal_type.name](rng, 40):
        normal = signal_type.validate(value)
        assert signal_type.validate(normal) == normal
        assert signal_type.validate(f"  {normal}\n") == normal


@TYPES
@pytest.mark.parametrize("bad", INVALID_EVERYWHERE)
def test_invalid_strings_raise(signal_type: SignalType, bad: str) -> None:
    with pytest.raises(InvalidSignal, match=signal_type.name):
        signal_type.validate(bad)


@TYPES
def test_type_specific_invalid_strings_raise(signal_type: SignalType) -> None:
    for bad in INVALID_FOR[signal_type.name]:
        with pytest.raises(InvalidSignal) as caught:
            signal_type.validate(bad)
        assert f"Invalid {signal_type.name} signal" in str(caught.value), bad


@TYPES
def test_signal_matches_itself_at_distance_zero(signal_type: SignalType) -> None:
    rng = random.Random(2)
    for value in SAMPLES[signal_type.name](rng, 20):
        normal = signal_type.validate(value)
        result = signal_type.compare(normal, normal)
        assert result.match
        assert result.distance == 0


@TYPES
@pytest.mark.parametrize("use_default", [True, False], ids=["default", "alternative"])
def test_index_agrees_with_reference(signal_type: SignalType, use_default: bool) -> None:
    rng = random.Random(3)
    threshold = None if use_default else ALTERNATIVE_THRESHOLD.get(signal_type.name)
    values = [signal_type.validate(v) for v in SAMPLES[signal_type.name](rng, 80)]
    index = signal_type.new_index(threshold)
    current = dict(enumerate(values[:60]))
    index.add(list(current), list(current.values()))
    removed = list(range(0, 60, 7))
    index.remove([*removed, 10_000])  # an unknown id is ignored
    for ident in removed:
        del current[ident]
    replaced = {3: values[61], 60: values[62], 61: values[63]}  # one replaces, two are new
    index.add(list(replaced), list(replaced.values()))
    current.update(replaced)
    assert len(index) == len(current)

    matches = 0
    for query in values:
        reference = {
            ident: signal_type.compare(query, value, threshold) for ident, value in current.items()
        }
        expected = {ident: c.distance for ident, c in reference.items() if c.match}
        hits = index.query(query)
        got = {hit.id: hit.distance for hit in hits}
        assert got == pytest.approx(expected), query[:80]
        assert len(hits) == len(got)
        matches += len(got)
    assert matches > len(values) // 2  # the near-duplicates did give matches to check


@TYPES
def test_hashing_each_content_type_gives_a_valid_signal(
    signal_type: SignalType, make_image, make_video
) -> None:
    content = {
        ContentType.PHOTO: encode_image(make_image(5), "PNG"),
        ContentType.VIDEO: make_video(5),
        ContentType.TEXT: "Nous n'oublierons jamais : le peuple se lève.".encode(),
        ContentType.URL: b"HTTPS://Example.COM/a/../b?utm_medium=x",
    }
    for content_type in signal_type.content_types:
        hashed = REGISTRY.hash(
            content_type, content[content_type], MediaLimits(), only=[signal_type.name]
        )
        assert [h.signal_type for h in hashed] == [signal_type.name]
        assert signal_type.validate(hashed[0].value) == hashed[0].value
