"""Which near-duplicate text method should the ``text`` signal use? Measured, not guessed.

Generates texts (no downloads): several synthetic "languages" (pseudo-words
with Zipf frequencies, sharing a set of common function words) and sentence
templates, so that unrelated texts share common words and stock phrases as
real ones do. Each original gets edited copies (word swaps, deletions,
insertions, typos, re-wrapping, case and punctuation changes, paragraphs
dropped, embedded in a longer text, and all of them at once); unrelated pairs
pair originals with other texts of the same and other languages.

For each method: recall on the near-duplicate pairs at the threshold that
keeps precision >= 99.9 % over all pairs, per edit and overall, and the time to
hash a text and to compare two signatures. The baseline is SimHash, the
classic 64-bit near-duplicate fingerprint; ratios are against it.

    .venv/bin/python benchmarks/text_methods.py          # 600 originals
    .venv/bin/python benchmarks/text_methods.py --quick  # 80 originals

TLSH is measured when ``py-tlsh`` is installed (``uv pip install py-tlsh``);
it is not a dependency of accord.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.signals.text import (
    NUM_PERM,
    TextSignal,
    minhash_signature,
    normalise_words,
    shingle_hashes,
)

_COMMON = (
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "will so no our what up out them can more who must do about into than these people"
)
FUNCTION_WORDS = tuple(_COMMON.split())
TEMPLATES = [
    "we the {n} of {n} must {v} the {n}",
    "it is time for every {n} to {v} against the {n}",
    "they will never {v} our {n} or our {n}",
    "the {n} of the {n} is the {n} of all {n}",
    "history shows that the {n} always {v} the {n}",
    "this is why i {v} and why you must {v} too",
]
EDITS = [
    "swaps",
    "deletions",
    "insertions",
    "typos",
    "rewrap",
    "case_punct",
    "drop_paragraphs",
    "excerpt",
    "embedded",
    "all_at_once",
]


def make_language(rng: random.Random, size: int = 3000) -> tuple[list[str], list[float]]:
    syllables = [a + b for a in "bdfgklmnprstvz" for b in "aeiou"] + ["th", "sh", "ch", "qu"]
    words = list({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size)})
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(words))]
    return words, list(itertools.accumulate(weights))


def make_text(rng: random.Random, language: tuple[list[str], list[float]], words: int) -> str:
    vocab, cum = language
    paragraphs: list[str] = []
    current: list[str] = []
    total = 0
    while total < words:
        if rng.random() < 0.25:
            template = rng.choice(TEMPLATES)
            sentence = re.sub(
                r"\{[nv]\}", lambda _m: rng.choices(vocab, cum_weights=cum)[0], template
            ).split()
        else:
            length = rng.randint(6, 22)
            sentence = [
                rng.choice(FUNCTION_WORDS)
                if rng.random() < 0.4
                else rng.choices(vocab, cum_weights=cum)[0]
                for _ in range(length)
            ]
        sentence[0] = sentence[0].capitalize()
        current.append(" ".join(sentence) + rng.choice([".", ".", ".", "!", "?", ";"]))
        total += len(sentence)
        if len(current) >= rng.randint(3, 7):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 2:
        return word + "x"
    i = rng.randrange(len(word))
    choice = rng.random()
    if choice < 0.33:
        return word[:i] + word[i + 1 :]
    if choice < 0.66:
        return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]
    j = min(i + 1, len(word) - 1)
    chars = list(word)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def edit(
    rng: random.Random, text: str, kind: str, filler: Callable[[int], str], rate: float = 0.05
) -> str:
    paragraphs = text.split("\n\n")
    if kind == "drop_paragraphs":
        keep = [p for p in paragraphs if rng.random() > 0.4] or paragraphs[:1]
        return "\n\n".join(keep)
    if kind == "excerpt":
        words = text.split(" ")
        n = max(20, int(len(words) * rng.uniform(0.25, 0.4)))
        start = rng.randrange(max(1, len(words) - n))
        return " ".join(words[start : start + n])
    if kind == "embedded":
        n = len(text.split())
        return filler(n) + "\n\n" + text + "\n\n" + filler(n)
    if kind == "rewrap":
        words = text.split()
        lines, line = [], []
        width = rng.randint(40, 80)
        for word in words:
            line.append(word)
            if len(" ".join(line)) > width:
                lines.append(" ".join(line))
                line = []
        lines.append(" ".join(line))
        return "\n".join(lines)
    if kind == "case_punct":
        out = text.upper() if rng.random() < 0.5 else text.lower()
        out = re.sub(r"[.!?;]", lambda _m: rng.choice([",", " -", "...", "!!", ""]), out)
        return out.replace(" ", "  ")
    if kind == "all_at_once":
        out = text
        for step in ("drop_paragraphs", "swaps", "deletions", "insertions", "typos", "rewrap"):
            out = edit(rng, out, step, filler, rate=0.04)
        return out
    words = text.split(" ")
    out_words: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        r = rng.random()
        if kind == "swaps" and r < rate and i + 1 < len(words):
            out_words.extend([words[i + 1], word])
            i += 2
            continue
        if kind == "deletions" and r < rate:
            i += 1
            continue
        if kind == "insertions" and r < rate:
            out_words.append(rng.choice([*FUNCTION_WORDS, "really", "truly", "indeed"]))
        if kind == "typos" and r < rate:
            word = _typo(rng, word)
        out_words.append(word)
        i += 1
    return " ".join(out_words)


@dataclass
class Method:
    name: str
    hash: Callable[[str], Any]
    score: Callable[[Any, Any], float]  # higher = more similar


def minhash_method(k: int, mode: str) -> Method:
    """MinHash of word ``k``-shingles; the score estimated from it by ``mode``:
    ``jaccard`` |A∩B|/|A∪B|, ``ochiai`` |A∩B|/sqrt(|A||B|), ``containment`` |A∩B|/min."""

    def hash_(text: str) -> Any:
        shingles = shingle_hashes(normalise_words(text), k)
        return len(shingles), minhash_signature(shingles)

    def score(a: Any, b: Any) -> float:
        (ca, sa), (cb, sb) = a, b
        jaccard = float(np.count_nonzero(sa == sb)) / NUM_PERM
        if mode == "jaccard":
            return jaccard
        shared = jaccard * (ca + cb) / (1 + jaccard)
        if mode == "ochiai":
            return min(shared / max(np.sqrt(ca * cb), 1.0), 1.0)
        return min(shared / max(min(ca, cb), 1), 1.0)

    return Method(f"minhash k={k} {mode}", hash_, score)


def shipped_method() -> Method:
    """The ``text`` signal as shipped, end to end through its string form."""
    signal = TextSignal()

    def hash_(text: str) -> Any:
        return signal.hash_text(text).value

    def score(a: Any, b: Any) -> float:
        return 1.0 - signal.compare(a, b).distance

    return Method("text signal as shipped", hash_, score)


def simhash_method() -> Method:
    bits = np.uint64(1) << np.arange(64, dtype=np.uint64)

    def hash_(text: str) -> Any:
        shingles = shingle_hashes(normalise_words(text), 3)
        votes = ((shingles[:, None] & bits[None, :]) != 0).sum(axis=0) * 2 - len(shingles)
        value = 0
        for i, vote in enumerate(votes):
            if vote > 0:
                value |= 1 << i
        return value

    def score(a: Any, b: Any) -> float:
        return 1.0 - (a ^ b).bit_count() / 64

    return Method("simhash 64-bit (baseline)", hash_, score)


def tlsh_method() -> Method | None:
    try:
        import tlsh
    except ImportError:
        return None

    def hash_(text: str) -> Any:
        return tlsh.hash(" ".join(normalise_words(text)).encode())

    def score(a: Any, b: Any) -> float:
        if a == "TNULL" or b == "TNULL":
            return -1.0
        return -float(tlsh.diff(a, b))

    return Method("tlsh (normalised text)", hash_, score)


def recall_at_precision(
    pos: np.ndarray, neg: np.ndarray, target: float = 0.999
) -> tuple[float, float]:
    """Highest recall with precision >= target over thresholds ``score >= t``."""
    best = (0.0, float("inf"))
    for t in np.unique(np.concatenate([pos, neg]))[::-1]:
        tp = int((pos >= t).sum())
        fp = int((neg >= t).sum())
        if tp and tp / (tp + fp) >= target:
            best = (tp / len(pos), float(t))
        elif fp and tp / (tp + fp) < target:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="80 originals instead of 600")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n_orig = 80 if args.quick else 600
    n_unrelated_per = min(200, n_orig)
    rng = random.Random(args.seed)
    languages = [make_language(rng) for _ in range(4)]

    def filler(words: int) -> str:
        return make_text(rng, rng.choice(languages), max(words, 30))

    # Stock passages (a quoted slogan, a creed, a sign-off) shared by unrelated texts:
    # the hard negatives that make a threshold earn its precision.
    stock = [make_text(rng, languages[i % 4], rng.randint(30, 60)) for i in range(6)]

    def document(i: int) -> str:
        body = make_text(rng, languages[i % len(languages)], rng.choice([80, 300, 800, 1500]))
        if rng.random() < 0.4:
            body = body + "\n\n" + rng.choice(stock)
        return body

    originals = [document(i) for i in range(n_orig)]
    unrelated = [document(i) for i in range(n_orig)]
    variants = [
        [edit(rng, text, kind, filler, rate=rng.uniform(0.05, 0.2)) for kind in EDITS]
        for text in originals
    ]
    neg_pairs = [(i, j) for i in range(n_orig) for j in rng.sample(range(n_orig), n_unrelated_per)]

    methods = [
        simhash_method(),
        *(m for m in [tlsh_method()] if m is not None),
        *(minhash_method(k, mode) for k in (2, 3) for mode in ("jaccard", "ochiai", "containment")),
        shipped_method(),
    ]
    print(
        f"{n_orig} originals x {len(EDITS)} edits = {n_orig * len(EDITS)} near-duplicate pairs; "
        f"{len(neg_pairs)} unrelated pairs; "
        f"texts of 80..1500 words, 40 % ending in one of 6 shared stock passages\n"
    )
    rows = []
    for method in methods:
        start = time.perf_counter()
        h_orig = [method.hash(t) for t in originals]
        h_unrel = [method.hash(t) for t in unrelated]
        h_var = [[method.hash(v) for v in vs] for vs in variants]
        hash_ms = (time.perf_counter() - start) * 1000 / (n_orig * (2 + len(EDITS)))
        start = time.perf_counter()
        neg = np.array([method.score(h_orig[i], h_unrel[j]) for i, j in neg_pairs])
        compare_us = (time.perf_counter() - start) * 1e6 / len(neg_pairs)
        pos_by_edit = {
            kind: np.array([method.score(h_orig[i], h_var[i][k]) for i in range(n_orig)])
            for k, kind in enumerate(EDITS)
        }
        pos = np.concatenate(list(pos_by_edit.values()))
        recall, threshold = recall_at_precision(pos, neg)
        per_edit = {kind: float((s >= threshold).mean()) for kind, s in pos_by_edit.items()}
        rows.append((method.name, recall, threshold, per_edit, hash_ms, compare_us))
        last_pos, last_neg = pos, neg

    base = rows[0]
    print(
        f"{'method':36} {'recall':>7} {'x base':>7} {'thresh':>8} {'hash ms':>8} "
        f"{'x base':>7} {'cmp us':>7}"
    )
    for name, recall, threshold, _, hash_ms, compare_us in rows:
        print(
            f"{name:36} {recall:7.3f} {recall / max(base[1], 1e-9):7.2f} {threshold:8.3f} "
            f"{hash_ms:8.2f} {hash_ms / base[4]:7.2f} {compare_us:7.1f}"
        )
    print("\nrecall per edit at that threshold:")
    print(f"{'method':36} " + " ".join(f"{k[:10]:>10}" for k in EDITS))
    for name, _, _, per_edit, _, _ in rows:
        print(f"{name:36} " + " ".join(f"{per_edit[k]:10.3f}" for k in EDITS))
    signal = TextSignal()
    index = signal.new_index()
    bank = [signal.hash_text(t).value for t in unrelated]
    bank = bank * max(1, 100_000 // len(bank))
    index.add(list(range(len(bank))), bank)
    queries = [signal.hash_text(t).value for t in originals[:50]]
    start = time.perf_counter()
    for q in queries:
        index.query(q)
    scan_ms = (time.perf_counter() - start) * 1000 / len(queries)
    print(f"\nindex scan: {len(bank)} signatures, {scan_ms:.1f} ms per query")
    shipped = 1.0 - TextSignal().default_threshold
    tp = int((last_pos >= shipped).sum())
    fp = int((last_neg >= shipped).sum())
    print(
        f"shipped default (score >= {shipped}): recall {tp / len(last_pos):.3f}, "
        f"{fp} false positives in {len(last_neg)} unrelated pairs"
    )


if __name__ == "__main__":
    main()
