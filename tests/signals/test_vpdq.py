"""vPDQ: the frame-line format, sampling by time, and matching of re-encoded videos."""

from __future__ import annotations

import json

import pytest

from accord.errors import InvalidSignal
from accord.signals import ContentType, MediaLimits, VpdqSignal, default_registry, open_video
from accord.signals.vpdq import parse_frames

H1, H2, H3 = "a" * 64, "b" * 64, "0" * 64


def _vpdq(data: bytes) -> str:
    hashed = default_registry().hash(ContentType.VIDEO, data, MediaLimits(), only=["vpdq"])
    return hashed[0].value


def test_hash_has_one_line_per_second(make_video) -> None:
    value = _vpdq(make_video(1, seconds=4))
    frames = parse_frames(value)
    assert [f.timestamp for f in frames] == [0.0, 1.0, 2.0, 3.0]
    assert [f.frame_number for f in frames] == [0, 10, 20, 30]
    first = value.splitlines()[0].split(",")
    assert first[0] == "0"
    assert len(first[2]) == 64
    assert first[3] == "0.000"


def test_fps_is_configurable(make_video) -> None:
    with open_video(make_video(1, seconds=2), MediaLimits()) as video:
        assert video.duration == pytest.approx(2.0, abs=0.15)
        value = VpdqSignal(fps=2.0).hash_video(video).value
    assert [f.timestamp for f in parse_frames(value)] == [0.0, 0.5, 1.0, 1.5]


def test_reencoded_copy_matches_and_unrelated_does_not(make_video) -> None:
    signal = VpdqSignal()
    original = _vpdq(make_video(7))
    reencoded = _vpdq(make_video(7, codec="libx264", container="matroska", bit_rate=60_000))
    resized = _vpdq(make_video(7, output_size=96, codec="libx264"))
    unrelated = _vpdq(make_video(8))
    for copy in (reencoded, resized):
        result = signal.compare(copy, original)
        assert result.match, result
        assert result.detail["query_match_percent"] >= 80
        assert result.detail["compared_match_percent"] >= 80
    result = signal.compare(unrelated, original)
    assert not result.match
    assert result.detail["query_match_percent"] < 50

    index = signal.new_index()
    index.add([1, 2], [original, unrelated])
    hits = index.query(reencoded)
    assert [h.id for h in hits] == [1]
    assert hits[0].detail == pytest.approx(signal.compare(reencoded, original).detail)


def test_shares_of_query_and_bank_frames() -> None:
    signal = VpdqSignal(query_match_percent=50, compared_match_percent=0)
    query = f"0,100,{H1},0\n1,100,{H2},1"
    bank = f"0,100,{H1},0\n1,100,{H3},1\n2,100,{'f' * 64},2\n3,100,{H1},3"
    result = signal.compare(query, bank)
    # distinct bank hashes: H1, H3, f…f; only H1 is matched
    assert result.detail == pytest.approx(
        {"query_match_percent": 50.0, "compared_match_percent": 100 / 3}
    )
    assert result.match
    assert result.distance == pytest.approx(100 - 100 / 3)
    assert not VpdqSignal().compare(query, bank).match


def test_low_quality_frames_are_ignored() -> None:
    signal = VpdqSignal()
    low = f"0,10,{H1},0"
    assert not signal.compare(low, low).match
    assert signal.compare(f"{low}\n1,90,{H2},1", f"0,90,{H2},0").match


@pytest.mark.parametrize(
    "spelling",
    [
        f"0,100,{H1.upper()},0\n1,90,{H2},1.5",
        f"0,100,{H1},0.0;1,90,{H2},1.5000",
        f"  0,100,{H1},0\r\n\n1,90,{H2},1.5\n",
        f"0,{H1},100,0\n1,{H2},90,1.5",  # vPDQ's tools also print the hash second
        json.dumps(
            [
                {"frame_number": 0, "quality": 100, "pdq": H1, "timestamp": 0},
                {"frame_number": 1, "quality": 90, "hash": H2, "timestamp": 1.5},
            ]
        ),
    ],
)
def test_validate_accepts_every_spelling(spelling: str) -> None:
    assert VpdqSignal().validate(spelling) == f"0,100,{H1},0.000\n1,90,{H2},1.500"


def test_invalid_line_is_named() -> None:
    with pytest.raises(InvalidSignal, match=r"line 2"):
        VpdqSignal().validate(f"0,100,{H1},0\n1,100,xyz,1")
