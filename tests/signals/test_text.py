"""Text near-duplicates: edited and embedded copies match, unrelated texts do not, and the
signature of a text never changes between versions (it is persisted and exchanged)."""

from __future__ import annotations

import random

import pytest

from accord.errors import InvalidMedia
from accord.signals import ContentType, MediaLimits, TextSignal, default_registry
from accord.signals.text import normalise_words

from .conftest import WORDS


def _text(seed: int, words: int = 400) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 60)) for _ in range(words))


def _edit(text: str, seed: int, rate: float = 0.1) -> str:
    rng = random.Random(seed)
    out = []
    for word in text.split():
        r = rng.random()
        if r < rate / 2:
            continue
        if r < rate:
            out.append(word.upper() + "!")
        else:
            out.append(word)
    return "\n".join(" ".join(out[i : i + 9]) for i in range(0, len(out), 9))


def test_edited_copy_matches_unrelated_does_not() -> None:
    signal = TextSignal()
    original = signal.hash_text(_text(1)).value
    edited = signal.hash_text(_edit(_text(1), 2)).value
    assert signal.compare(edited, original).match
    for seed in range(10, 20):
        other = signal.hash_text(_text(seed)).value
        result = signal.compare(other, original)
        assert not result.match
        assert result.distance > 0.8


def test_copy_embedded_in_longer_text_matches() -> None:
    signal = TextSignal()
    original = signal.hash_text(_text(1)).value
    post = _text(30, 300) + "\n\n" + _edit(_text(1), 3, 0.05) + "\n\n" + _text(31, 300)
    assert signal.compare(signal.hash_text(post).value, original).match


def test_normalisation_ignores_case_punctuation_and_width() -> None:
    assert normalise_words("Ｈello,  WORLD!!\nIt's\tover_now") == [
        "hello",
        "world",
        "it",
        "s",
        "over",
        "now",
    ]
    signal = TextSignal()
    assert (
        signal.hash_text("Hello, world. It is over.").value
        == signal.hash_text("hello world it is over").value
    )


def test_empty_text_is_refused() -> None:
    with pytest.raises(InvalidMedia, match="no words"):
        TextSignal().hash_text(" ... \n ")
    with pytest.raises(InvalidMedia, match="no words"):
        default_registry().hash(ContentType.TEXT, b"!!!", MediaLimits())


def test_short_texts_hash() -> None:
    signal = TextSignal()
    one = signal.hash_text("one").value
    assert signal.validate(one) == one
    assert signal.compare(one, signal.hash_text("ONE!").value).match
    assert not signal.compare(one, signal.hash_text("two").value).match
