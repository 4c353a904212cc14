"""Cryptographic digests: the values hashlib gives, lowercased, matched by equality."""

from __future__ import annotations

import hashlib

from accord.signals import Md5Signal, Sha256Signal, VideoMd5Signal


def test_digests_are_hashlib_hex() -> None:
    data = b"accord"
    assert Md5Signal().hash_bytes(data).value == hashlib.md5(data).hexdigest()
    assert VideoMd5Signal().hash_bytes(data).value == hashlib.md5(data).hexdigest()
    assert Sha256Signal().hash_bytes(data).value == hashlib.sha256(data).hexdigest()


def test_compare_is_equality() -> None:
    signal = Sha256Signal()
    a, b = "a" * 64, "b" * 64
    assert signal.compare(a, a).distance == 0
    assert not signal.compare(a, b).match
    assert signal.compare(a, b).distance == 1
    assert signal.validate("A" * 64) == a
