"""PDQ: re-encoded and resized copies stay within the threshold, unrelated images do not."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from accord.errors import InvalidSignal
from accord.signals import MediaLimits, PdqSignal, decode_image, pdq_from_bytes, pdq_to_bytes

from .conftest import encode_image


def _hash(data: bytes) -> tuple[str, int]:
    hashed = PdqSignal().hash_image(decode_image(data, MediaLimits()))
    assert hashed.quality is not None
    return hashed.value, hashed.quality


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reencoded_and_resized_copies_match(make_image, seed: int) -> None:
    signal = PdqSignal()
    image = make_image(seed)
    original, quality = _hash(encode_image(image, "PNG"))
    assert quality >= 50
    jpeg, _ = _hash(encode_image(image, "JPEG", quality=60))
    small, _ = _hash(encode_image(image.resize((128, 128)), "PNG"))
    webp, _ = _hash(encode_image(image.resize((300, 300)), "WEBP", quality=50))
    for copy in (jpeg, small, webp):
        result = signal.compare(original, copy)
        assert result.match, result
        assert result.distance <= 31


def test_unrelated_images_are_far(make_image) -> None:
    signal = PdqSignal()
    hashes = [_hash(encode_image(make_image(seed), "PNG"))[0] for seed in range(10, 18)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            result = signal.compare(a, b)
            assert not result.match
            assert result.distance > 50


def test_flat_image_has_low_quality() -> None:
    flat = encode_image(Image.new("RGB", (100, 100), (120, 120, 120)), "PNG")
    _, quality = _hash(flat)
    assert quality < 50


def test_bytes_round_trip_and_bit_order() -> None:
    value = "8" + "0" * 62 + "1"
    raw = pdq_to_bytes(value)
    assert raw.dtype == np.uint8
    assert raw.shape == (32,)
    assert raw[0] == 0x80
    assert raw[31] == 0x01
    assert pdq_from_bytes(raw) == value
    with pytest.raises(InvalidSignal, match="32"):
        pdq_from_bytes(b"\x00" * 31)


def test_validate_lowercases() -> None:
    assert PdqSignal().validate("AB" * 32) == "ab" * 32


def test_threshold_is_configurable() -> None:
    a, b = "0" * 64, "0" * 56 + "ff"  # 8 bits apart
    assert PdqSignal(threshold=8).compare(a, b).match
    assert not PdqSignal(threshold=7).compare(a, b).match
    assert not PdqSignal().compare(a, b, threshold=5).match
    with pytest.raises(ValueError, match="threshold"):
        PdqSignal(threshold=300)


def test_index_query_many_and_replace() -> None:
    index = PdqSignal().new_index()
    a, b = "0" * 64, "f" * 64
    index.add([1, 2], [a, b])
    assert [h.id for h in index.query(a)] == [1]
    index.add([1], [b])  # replacing keeps one entry per id
    assert len(index) == 2
    assert [h.id for h in index.query(b)] == [1, 2]
    assert index.query(a) == []


def test_exif_orientation_is_applied(make_image) -> None:
    image = make_image(4).resize((200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    decoded = decode_image(buffer.getvalue(), MediaLimits())
    assert (decoded.width, decoded.height) == (100, 200)
    upright, _ = _hash(encode_image(image.transpose(Image.Transpose.ROTATE_270), "PNG"))
    assert PdqSignal().compare(upright, PdqSignal().hash_image(decoded).value).match
