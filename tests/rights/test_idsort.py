"""The in-memory id sort agrees with Python's byte-order sort: one width or many, long shared
prefixes, ties past the packed columns, duplicates, any number of Arrow chunks."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.jobs.idsort import sort_ids


def _sorted_bytes(array: pa.Array) -> list[bytes]:
    return [x.encode() if isinstance(x, str) else x for x in array.to_pylist()]


@settings(max_examples=150, deadline=None)
@given(
    width=st.sampled_from([1, 2, 7, 8, 9, 16, 17, 31, None]),
    alphabet=st.sampled_from([b"01", b"0123456789", bytes(range(256)), b"\x00\xff"]),
    prefix=st.sampled_from([b"", b"item-0000000"]),
    n=st.integers(0, 120),
    cut=st.integers(0, 120),
    seed=st.integers(0, 2**32),
)
def test_sort_ids_equals_sorted(width, alphabet, prefix, n, cut, seed):
    rng = random.Random(seed)

    def make() -> bytes:
        size = width if width is not None else rng.randint(0, 12)
        return (prefix + bytes(rng.choice(alphabet) for _ in range(size)))[: size or None]

    ids = [make() for _ in range(n)]
    ids += rng.sample(ids, min(len(ids), 5))  # duplicates
    k = cut % (len(ids) + 1)
    chunked = pa.chunked_array([pa.array(ids[:k], pa.binary()), pa.array(ids[k:], pa.binary())])
    assert _sorted_bytes(sort_ids(chunked)) == sorted(ids)


def test_ties_beyond_the_packed_columns_are_ordered_by_the_rest():
    # 40 columns of full bytes: the packed key holds only the first few, so most ids tie on it
    rng = random.Random(7)
    head = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(4)]
    ids = [rng.choice(head) + bytes(rng.randrange(256) for _ in range(37)) for _ in range(3000)]
    assert _sorted_bytes(sort_ids(pa.array(ids, pa.binary()))) == sorted(ids)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_strings_sort_by_utf8_bytes(kind):
    ids = ["é", "z", "Z", "a", "ü", "aa", ""]
    got = _sorted_bytes(sort_ids(pa.array(ids, kind)))
    assert got == sorted(x.encode() for x in ids)
    same_width = ["éa", "zz", "ab", "üü"[:2]]
    got = _sorted_bytes(sort_ids(pa.array(same_width, kind)))
    assert got == sorted(x.encode() for x in same_width)


def test_large_binary_ids_of_varying_width():
    ids = [b"\xff", b"\x00\x01", b"", b"\x00"]
    got = _sorted_bytes(sort_ids(pa.chunked_array([pa.array(ids, pa.large_binary())])))
    assert got == sorted(ids)


def test_missing_ids_are_refused():
    with pytest.raises(ValueError, match="missing"):
        sort_ids(pa.array(["a", None]))


@pytest.mark.parametrize("runs", [1, 3, 40])
def test_ids_in_long_ascending_runs_are_merged_and_sorted(runs):
    """Ids in a few interleaved ascending runs (how DuckDB writes a corpus stored in id
    order) take the run-merging sort, and come out in byte order all the same."""
    from accord.jobs import idsort

    ids = [f"item-{i:09d}" for i in range(runs * 600)]
    interleaved = [x for r in range(runs) for x in ids[r::runs]]  # `runs` ascending runs
    key, _ = idsort._pack(
        np.frombuffer("".join(interleaved).encode(), np.uint8).reshape(-1, 14), 13
    )
    assert idsort._sort_kind(key) == "stable"
    assert sort_ids(pa.array(interleaved)).to_pylist() == [x.encode() for x in ids]
    shuffled = random.Random(runs).sample(ids, len(ids))
    key, _ = idsort._pack(np.frombuffer("".join(shuffled).encode(), np.uint8).reshape(-1, 14), 13)
    assert idsort._sort_kind(key) == "quicksort"


@pytest.fixture(params=["numpy", "compiled"])
def packing(request, monkeypatch):
    """Both ways of packing and rebuilding: numpy, and the compiled loops (which the gate
    uses from COMPILED_FROM ids on, or once they are loaded)."""
    from accord.jobs import idsort

    compiled = request.param == "compiled"
    monkeypatch.setattr(idsort, "_use_compiled", lambda n: compiled)
    return request.param


@settings(max_examples=60, deadline=None)
@given(
    width=st.sampled_from([1, 3, 12, 17, 40]),
    alphabet=st.sampled_from([b"0123456789", bytes(range(256)), b"ab"]),
    n=st.integers(1, 300),
    pieces=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_any_range_of_sorted_ids_is_the_sorted_slice(width, alphabet, n, pieces, seed):
    """Rebuilt from keys (every varying column packed) or gathered (ties past the packed
    columns), compiled or not, :meth:`SortedIds.rows` gives exactly the slice of the
    byte-order sort, over any number of chunks."""
    from accord.jobs import idsort

    rng = random.Random(seed)
    ids = [b"id-" + bytes(rng.choice(alphabet) for _ in range(width)) for _ in range(n)]
    cuts = sorted(rng.randint(0, n) for _ in range(pieces - 1))
    chunks = [pa.array(ids[a:b], pa.binary()) for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    expected = sorted(ids)
    start, stop = sorted(rng.randint(0, n) for _ in range(2))
    for compiled in (True, False):
        saved, idsort._use_compiled = idsort._use_compiled, lambda n, c=compiled: c
        try:
            sorter = idsort.SortedIds.of(pa.chunked_array(chunks, pa.binary()), threads=2)
        finally:
            idsort._use_compiled = saved
        assert sorter is not None
        assert sorter.n == n
        assert [bytes(r) for r in sorter.rows(start, stop)] == expected[start:stop]


def test_counters_are_rebuilt_from_their_keys(packing):
    """Zero-padded counters pack whole: the sorter keeps no matrix and rebuilds ids from keys."""
    from accord.jobs.idsort import SortedIds

    ids = [f"item-{i:09d}" for i in random.Random(3).sample(range(10**9), 5000)]
    sorter = SortedIds.of(pa.chunked_array([pa.array(ids[:1234]), pa.array(ids[1234:])]))
    assert sorter is not None
    assert sorter._matrix is None
    assert [bytes(r).decode() for r in sorter.rows(0, sorter.n)] == sorted(ids)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 3 * 256 * 512 + 17])
def test_hash_sorted_gives_the_reference_root(packing, threads, n):
    """Hashing the sorted ids range by range on a pool gives the root by the definition."""
    from accord.jobs import merkle as m
    from accord.jobs.idsort import hash_sorted

    rng = random.Random(n)
    ids = [f"u-{rng.randrange(16**6):06x}" for _ in range(n)]
    hasher = m.BlockHasher()
    hash_sorted(pa.chunked_array([pa.array(ids, pa.string())], pa.string()), hasher, threads)
    assert hasher.items == n
    assert hasher.root() == m.reference_block_root(sorted(x.encode() for x in ids))


def test_hash_sorted_after_an_unfinished_block_and_of_varying_width():
    from accord.jobs import merkle as m
    from accord.jobs.idsort import hash_sorted

    hasher = m.BlockHasher(4)
    hasher.add(pa.array(["a", "b"]))  # a block left unfinished: the rest is added whole
    hash_sorted(pa.array([f"c{i:03d}" for i in range(9, -1, -1)]), hasher, threads=2)
    hash_sorted(pa.array(["z", "zz", "zzz"]), hasher, threads=2)  # widths differ
    expected = [b"a", b"b", *(f"c{i:03d}".encode() for i in range(10)), b"z", b"zz", b"zzz"]
    assert hasher.root() == m.reference_block_root(expected, 4)
    with pytest.raises(m.InvalidInput, match="out of byte order"):
        hash_sorted(pa.array([f"a{i:03d}" for i in range(8)]), hasher)


def _keyed(chunks, threads=2, compiled=True):
    from accord.jobs import idsort

    arrays = [pa.array(c, pa.binary()) for c in chunks]
    saved, idsort._use_compiled = idsort._use_compiled, lambda n: compiled
    try:
        return idsort.KeyedIds.from_chunks(lambda i: arrays[i], [len(a) for a in arrays], threads)
    finally:
        idsort._use_compiled = saved


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(
        st.tuples(st.sampled_from([b"0123456789", b"abc", b"\x00\xff", b"7"]), st.integers(0, 60)),
        min_size=1,
        max_size=5,
    ),
    width=st.integers(1, 9),
    seed=st.integers(0, 2**32),
)
def test_keyed_ids_are_the_sorted_ids(chunks, width, seed):
    """Each chunk packed on its own column ranges (an alphabet per chunk here), then moved
    onto the ranges of all: the rebuilt ids are the byte-order sort of them all."""
    rng = random.Random(seed)
    made = [
        [b"x-" + bytes(rng.choice(alphabet) for _ in range(width)) for _ in range(size)]
        for alphabet, size in chunks
    ]
    ids = sorted(x for chunk in made for x in chunk)
    columns = list(zip(*ids, strict=True))
    start, stop = sorted(rng.randint(0, len(ids)) for _ in range(2))
    for compiled in (True, False):
        keyed = _keyed(made, compiled=compiled)
        if not ids or sum((max(c) - min(c)).bit_length() for c in columns) > 64:
            assert keyed is None  # none, or more than 64 bits vary
            continue
        assert keyed is not None
        assert keyed.n == len(ids)
        assert [bytes(r) for r in keyed.rows(start, stop)] == ids[start:stop]


def test_ids_that_cannot_be_keyed():
    from accord.jobs.idsort import KeyedIds

    uuids = [f"{random.Random(i).getrandbits(128):032x}".encode() for i in range(50)]
    assert _keyed([uuids]) is None  # 32 hex columns: more than 64 bits
    assert _keyed([[b"aa", b"bbb"]]) is None  # widths differ within a chunk
    assert _keyed([[b"aa"], [b"bbb"]]) is None  # or between chunks
    # each chunk fits alone (4 and 5 bits a column), not both: 0x30-0x7a is 7 bits, 77 in all
    digits = [bytes(random.Random(i).choice(b"0123456789") for _ in range(11)) for i in range(40)]
    letters = [
        bytes(random.Random(i).choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(11))
        for i in range(40)
    ]
    assert _keyed([digits, letters]) is None
    with pytest.raises(ValueError, match="missing"):
        KeyedIds.from_chunks(lambda i: pa.array([b"a", None]), [2])
    with pytest.raises(ValueError, match="holds 1 ids, not 3"):
        KeyedIds.from_chunks(lambda i: pa.array([b"a"]), [3, 3])
