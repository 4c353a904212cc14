"""The compiled kernels behind PdqIndex agree with plain numpy and with brute force.

Chunk keys and bucket tables are compared with the numpy definitions that version 1
snapshots were written with (so old snapshots stay valid); the search is compared
with a brute-force scan on banks full of near-duplicates, with output arrays too small
for the hits (the grow-and-resume path), from several threads at once (the kernels
release the GIL), and for layouts drawn by hypothesis. The compile helper falls back
to compiling without a cache where numba has nowhere to write one.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.matching import pdq_index, pdq_kernels
from accord.matching.pdq_index import PdqIndex


def _numpy_chunk_keys(hashes: np.ndarray, chunks: int, width: int, order: np.ndarray) -> np.ndarray:
    """Chunk keys as version 1 computed them: unpacked bits times powers of two."""
    weights = np.zeros((256, chunks), dtype=np.float64)
    used = order[: chunks * width].astype(np.int64)
    weights[used, np.repeat(np.arange(chunks), width)] = np.tile(2.0 ** np.arange(width), chunks)
    return (np.unpackbits(hashes, axis=1).astype(np.float64) @ weights).astype(np.uint32)


def _brute_force(bank: np.ndarray, ids: np.ndarray, query: np.ndarray, limit: int) -> list:
    dist = np.unpackbits(bank ^ query[None, :], axis=1).sum(axis=1)
    keep = np.flatnonzero(dist <= limit)
    return sorted((int(dist[k]), int(ids[k])) for k in keep)


def _clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """Hashes within 0-40 bits of a few centres: many hits per query, found in many chunks."""
    centres = rng.integers(0, 256, (max(1, n // 200), 32), dtype=np.uint8)
    bits = np.unpackbits(centres[rng.integers(0, len(centres), n)], axis=1)
    flips = rng.random((n, 256)) < rng.integers(0, 41, n)[:, None] / 256
    return np.packbits(bits ^ flips, axis=1)


@pytest.mark.parametrize(("chunks", "width"), [(32, 8), (16, 16), (11, 22), (8, 32)])
def test_chunk_keys_equal_the_version_1_definition(chunks: int, width: int) -> None:
    rng = np.random.default_rng(chunks)
    hashes = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    order = rng.permutation(256).astype(np.int16)
    layout = pdq_index._Layout(chunks, width)
    positions, chunk_masks = pdq_index._bit_positions(layout, order)
    words = pdq_index._as_words(hashes)
    expected = _numpy_chunk_keys(hashes, chunks, width, order)
    for c in range(chunks):
        np.testing.assert_array_equal(pdq_index._chunk_keys(words, positions, c), expected[:, c])
    # the chunk masks hold exactly the chunk's bits
    set_bits = [sum(bin(int(word)).count("1") for word in row) for row in chunk_masks]
    assert set_bits == [width] * chunks


def test_bucket_table_is_a_stable_counting_sort() -> None:
    rng = np.random.default_rng(2)
    keys = rng.integers(0, 1 << 10, 5000).astype(np.uint32)
    perm = np.empty(len(keys), dtype=np.int32)
    offsets = np.empty((1 << 10) + 1, dtype=np.int32)
    pdq_kernels.bucket_table(keys, perm, offsets)
    np.testing.assert_array_equal(perm, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(offsets[1:], np.cumsum(np.bincount(keys, minlength=1 << 10)))
    assert offsets[0] == 0


def test_a_version_1_snapshot_loads_and_agrees(tmp_path: Path) -> None:
    """A snapshot whose buckets were sorted by numpy (any order inside a bucket) is read as is."""
    rng = np.random.default_rng(4)
    bank = _clustered(rng, 3000)
    ids = np.arange(3000, dtype=np.int64) * 3
    index = PdqIndex()
    index.add_arrays(ids, bank)
    index.compact()  # every row in main, whose tables are rewritten below
    index.save(tmp_path)
    layout = index._main.layout
    keys = _numpy_chunk_keys(bank, layout.chunks, layout.width, pdq_index._BIT_ORDER)
    perm = np.stack([np.argsort(keys[:, c]) for c in range(layout.chunks)]).astype(np.int32)
    np.save(tmp_path / "perm.npy", perm)  # quicksort: rows in no particular order in a bucket
    loaded = PdqIndex.load(tmp_path)
    for query in bank[rng.integers(0, len(bank), 20)]:
        got = [(h.distance, h.id) for h in loaded.query_many(query[None, :])[0]]
        assert got == _brute_force(bank, ids, query, 31)


def test_hits_that_overflow_the_output_arrays_are_all_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for one hit, every tier grows its output and resumes where it stopped."""
    monkeypatch.setattr(pdq_index, "HITS_CAPACITY", 1)
    monkeypatch.setattr(pdq_index, "BUFFER_ROWS", 256)
    monkeypatch.setattr(pdq_index, "RECENT_MIN_ROWS", 2048)
    rng = np.random.default_rng(6)
    bank = _clustered(rng, 6000)
    ids = np.arange(len(bank), dtype=np.int64)
    index = PdqIndex()
    index.add_arrays(ids[:5000], bank[:5000])  # main
    index.add_arrays(ids[5000:5900], bank[5000:5900])  # recent
    index.add_arrays(ids[5900:], bank[5900:])  # buffer
    queries = bank[rng.integers(0, len(bank), 12)]
    results = index.query_many(queries)
    assert sum(len(hits) for hits in results) > 100
    for query, hits in zip(queries, results, strict=True):
        assert [(h.distance, h.id) for h in hits] == _brute_force(bank, ids, query, 31)


def test_lookups_from_several_threads_agree() -> None:
    """The search kernel releases the GIL; threads sharing one index get the same answers."""
    rng = np.random.default_rng(9)
    bank = _clustered(rng, 20000)
    index = PdqIndex()
    index.add_arrays(np.arange(len(bank)), bank)
    queries = bank[rng.integers(0, len(bank), 40)]
    expected = [[(h.distance, h.id) for h in hits] for hits in index.query_many(queries)]
    answers: dict[int, list] = {}

    def work(t: int) -> None:
        answers[t] = [
            [(h.distance, h.id) for h in index.query_many(q[None, :])[0]] for q in queries
        ]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answers[t] == expected for t in range(4))


@settings(max_examples=25, deadline=None)
@given(
    chunks=st.integers(8, 32),
    width_slack=st.integers(0, 8),
    threshold=st.integers(0, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_search_equals_brute_force_for_any_layout(
    chunks: int, width_slack: int, threshold: int, seed: int
) -> None:
    """Whatever the layout and threshold, a segment finds each row within it exactly once."""
    width = max(8, min(20, 256 // chunks) - width_slack)
    rng = np.random.default_rng(seed)
    bank = _clustered(rng, 600)
    ids = rng.permutation(10_000)[: len(bank)].astype(np.int64)
    layout = pdq_index._Layout(chunks, width)
    original = pdq_index._choose_layout
    try:
        pdq_index._choose_layout = lambda rows, t: layout  # type: ignore[assignment]
        segment = pdq_index._Segment.build(ids, bank, threshold)
    finally:
        pdq_index._choose_layout = original  # type: ignore[assignment]
    queries = np.concatenate([bank[rng.integers(0, len(bank), 5)], _clustered(rng, 2)])
    hits = pdq_index._Hits()
    segment.search(pdq_index._as_words(queries), threshold, hits)
    found = hits.results(len(queries))
    for query, got in zip(queries, found, strict=True):
        assert [(h.distance, h.id) for h in got] == _brute_force(bank, ids, query, threshold)


def test_memory_per_hash_at_10m_stays_under_128_bytes() -> None:
    """The layout chosen for 10M rows: 32 (hash) + 8 (id) + 1 (alive) + 4 per chunk
    (row numbers) + the bucket offset tables."""
    rows = 10_000_000
    layout = pdq_index._choose_layout(rows, 31)
    table = layout.chunks * (layout.buckets + 1) * 4
    assert 32 + 8 + 1 + 4 * layout.chunks + table / rows <= 128


def test_compile_falls_back_without_a_cache_location() -> None:
    """numba has nowhere to cache code compiled from a string: compiled all the same."""
    namespace: dict[str, object] = {}
    exec(compile("def twice(x):\n    return 2 * x\n", "<no file>", "exec"), namespace)
    compiled, cached = pdq_kernels._compile(namespace["twice"])  # type: ignore[arg-type]
    assert cached is False
    assert compiled(21) == 42
    _, cached_here = pdq_kernels._compile(_brute_force)
    assert cached_here is True
