"""PdqIndex agrees with the reference PDQ comparison (Hamming distance <= threshold).

Every test compares the index with a brute-force model over hex strings using
``hamming_reference``, on random hashes, on bit-flip near-duplicates, and on PDQ
hashes of generated images and their re-encoded / resized / cropped / noisy copies,
across the index's tiers (buffer, recent segment, main segment), after removals and
replacements, and after a snapshot round trip.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput, InvalidSignal
from accord.matching import pdq_index
from accord.matching.pdq_index import PdqIndex, hamming_reference


def _reference(bank: dict[int, str], query: str, threshold: int) -> list[tuple[int, int]]:
    """(distance, id) of every bank entry within ``threshold``, the obviously right way."""
    hits = ((hamming_reference(query, value), i) for i, value in bank.items())
    return sorted((d, i) for d, i in hits if d <= threshold)


def _reference_many(
    bank: dict[int, str], queries: list[str], threshold: int
) -> list[list[tuple[int, int]]]:
    """:func:`_reference` for many queries, parsing the bank's hex once."""
    numbers = [(int(value, 16), i) for i, value in bank.items()]
    out = []
    for query in queries:
        q = int(query, 16)
        hits = (((q ^ v).bit_count(), i) for v, i in numbers)
        out.append(sorted((d, i) for d, i in hits if d <= threshold))
    return out


def _got(index: PdqIndex, query: str, threshold: int | None = None) -> list[tuple[int, int]]:
    return [(int(h.distance), h.id) for h in index.query(query, threshold)]


def _random_hex(rng: np.random.Generator, n: int) -> list[str]:
    return [bytes(row).hex() for row in rng.integers(0, 256, (n, 32), dtype=np.uint8)]


def _flip(value: str, bits: int, rng: np.random.Generator) -> str:
    number = int(value, 16)
    for b in rng.choice(256, bits, replace=False):
        number ^= 1 << int(b)
    return f"{number:064x}"


def _near_duplicate_bank(rng: np.random.Generator, n: int) -> dict[int, str]:
    """Clusters of hashes about 0-40 bits from a few centres, the hard case for a Hamming index."""
    centres = rng.integers(0, 256, (max(1, n // 20), 32), dtype=np.uint8)
    bits = np.unpackbits(centres[np.arange(n) % len(centres)], axis=1)
    rate = rng.integers(0, 41, n)[:, None] / 256
    values = np.packbits(bits ^ (rng.random((n, 256)) < rate), axis=1)
    return {i * 7 + 3: bytes(row).hex() for i, row in enumerate(values)}


def _queries(bank: dict[int, str], rng: np.random.Generator, n: int) -> list[str]:
    values = list(bank.values())
    near = [
        _flip(values[int(rng.integers(len(values)))], int(rng.integers(0, 36)), rng)
        for _ in range(n)
    ]
    return near + _random_hex(rng, 3)


def _check(index: PdqIndex, bank: dict[int, str], queries: list[str], threshold: int = 31) -> int:
    found = 0
    for query, expected in zip(queries, _reference_many(bank, queries, threshold), strict=True):
        assert _got(index, query, threshold) == expected
        found += len(expected)
    assert len(index) == len(bank)
    return found


@pytest.fixture(autouse=True)
def _small_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small tier limits, so that small banks exercise the buffer, recent and main tiers."""
    monkeypatch.setattr(pdq_index, "BUFFER_ROWS", 256)
    monkeypatch.setattr(pdq_index, "RECENT_MIN_ROWS", 2048)


# Sizes that land in each tier: the brute-force buffer, the recent segment, the main one.
TIER_SIZES = [50, 1000, 20000]


@pytest.mark.parametrize("size", TIER_SIZES)
def test_agrees_with_reference_on_random_and_near_duplicates(size: int) -> None:
    rng = np.random.default_rng(size)
    bank = _near_duplicate_bank(rng, size)
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    assert _check(index, bank, _queries(bank, rng, 25)) > 0


def test_agrees_on_pdq_hashes_of_images_and_their_variants(
    real_pdq: tuple[list[str], list[str]],
) -> None:
    bases, variants = real_pdq
    rng = np.random.default_rng(1)
    filler = _random_hex(rng, 5000)
    bank = dict(enumerate(bases + filler))
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    found = _check(index, bank, variants)
    # the variants mostly stay within 31 bits of their originals
    assert found >= len(variants) // 2


def test_batch_queries_equal_single_queries() -> None:
    rng = np.random.default_rng(5)
    bank = _near_duplicate_bank(rng, 3000)
    index = PdqIndex()
    index.add_arrays(
        np.asarray(list(bank), dtype=np.int64),
        np.frombuffer(b"".join(bytes.fromhex(v) for v in bank.values()), dtype=np.uint8).reshape(
            -1, 32
        ),
    )
    queries = _queries(bank, rng, 30)
    matrix = np.frombuffer(b"".join(bytes.fromhex(q) for q in queries), dtype=np.uint8).reshape(
        -1, 32
    )
    many = index.query_many(matrix)
    assert [[(h.distance, h.id) for h in hits] for hits in many] == [
        [(h.distance, h.id) for h in index.query(q)] for q in queries
    ]


@pytest.mark.parametrize("threshold", [0, 8, 31, 45, 90])
def test_other_thresholds_agree(threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    bank = _near_duplicate_bank(rng, 2000)
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    _check(index, bank, _queries(bank, rng, 10), threshold)


@pytest.mark.parametrize(
    ("chunks", "width"),
    [(32, 8), (16, 16), (12, 18), (8, 20)],
    ids=["r0", "r1", "r2", "r3"],
)
def test_every_probe_radius_is_exact(
    chunks: int, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layouts whose per-chunk radius at 31 is 0, 1, 2 and 3 bits all find every match."""
    layout = pdq_index._Layout(chunks, width)
    monkeypatch.setattr(pdq_index, "_choose_layout", lambda rows, threshold: layout)
    rng = np.random.default_rng(chunks)
    bank = _near_duplicate_bank(rng, 2000)
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    assert index._recent.layout == layout or index._main.layout == layout
    assert _check(index, bank, _queries(bank, rng, 20)) > 0


def test_appends_with_growing_ids_stay_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bank row ids grow: new rows are appended to segments without rebuilding them."""
    appends = []
    original = pdq_index._Segment.appended

    def counting(self: pdq_index._Segment, ids: np.ndarray, hashes: np.ndarray):
        appends.append(len(ids))
        return original(self, ids, hashes)

    monkeypatch.setattr(pdq_index._Segment, "appended", counting)
    rng = np.random.default_rng(21)
    bank = _near_duplicate_bank(rng, 12000)
    index = PdqIndex()
    keys = sorted(bank)
    for lo in range(0, len(keys), 300):
        part = keys[lo : lo + 300]
        index.add(part, [bank[k] for k in part])
    assert len(index._main) > 2048  # rows reached main through merges
    assert len(appends) > 5
    _check(index, bank, _queries(bank, rng, 25))
    index.remove(keys[::3])
    for key in keys[::3]:
        del bank[key]
    _check(index, bank, _queries(bank, rng, 10))


def test_replacements_do_not_rebuild_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-added old ids stay in the recent tier; main only takes appends of newer ids."""
    rng = np.random.default_rng(31)
    bank = _near_duplicate_bank(rng, 9000)
    keys = sorted(bank)
    index = PdqIndex()
    index.add(keys[:5000], [bank[k] for k in keys[:5000]])
    built: list[int] = []
    original = pdq_index._Segment.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type, ids: np.ndarray, hashes: np.ndarray, threshold: int):
        built.append(len(ids))
        return original(cls, ids, hashes, threshold)

    monkeypatch.setattr(pdq_index._Segment, "build", classmethod(counting))
    for lo in range(5000, 9000, 200):
        replaced = keys[lo - 4000 : lo - 3990]  # ids already in main, new hashes
        for key in replaced:
            bank[key] = _flip(bank[key], 50, rng)
        part = replaced + keys[lo : lo + 200]
        index.add(part, [bank[k] for k in part])
    assert len(index._main) >= 5000
    assert max(built) < 2048  # only the small recent tier was ever rebuilt
    _check(index, bank, _queries(bank, rng, 20) + [bank[k] for k in keys[1000:1100:10]])


def test_removals_and_replacements_across_tiers() -> None:
    rng = np.random.default_rng(11)
    bank = _near_duplicate_bank(rng, 20000)
    index = PdqIndex()
    keys = list(bank)
    index.add(keys, [bank[k] for k in keys])  # main segment
    extra = _near_duplicate_bank(np.random.default_rng(12), 600)
    extra = {k + 1_000_000: v for k, v in extra.items()}
    index.add(list(extra), list(extra.values()))  # recent segment
    few = {2_000_000 + i: v for i, v in enumerate(_random_hex(rng, 10))}
    index.add(list(few), list(few.values()))  # buffer
    bank |= extra | few

    # remove a slice of each tier, plus ids that were never added
    gone = keys[::9] + list(extra)[::5] + list(few)[:4] + [-1, 10**12]
    index.remove(gone)
    for key in gone:
        bank.pop(key, None)
    # replace some: same id, new hash
    for key in keys[1:200:3]:
        if key in bank:
            bank[key] = _flip(bank[key], 60, rng)
            index.add([key], [bank[key]])
    queries = _queries(bank, rng, 20) + [bank[k] for k in keys[1:60:3] if k in bank]
    _check(index, bank, queries)

    # enough removals compact the main segment; results stay the same
    rest = [k for k in keys if k in bank][: len(keys) // 2]
    index.remove(rest)
    for key in rest:
        del bank[key]
    assert index._main.dead <= pdq_index.DEAD_FRACTION * len(index._main.ids)
    _check(index, bank, queries)


def test_add_replaces_and_last_duplicate_wins() -> None:
    index = PdqIndex()
    a, b, c = "0" * 64, "f" * 64, "0f" * 32
    index.add([1, 1, 2], [a, b, c])
    assert len(index) == 2
    assert [h.id for h in index.query(b)] == [1]
    index.add([1], [a])
    assert [h.id for h in index.query(a)] == [1]
    assert index.query(b) == []
    index.remove([1, 99])
    assert len(index) == 1
    assert index.query(a) == []


def test_save_and_load_round_trip_without_pickle(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    bank = _near_duplicate_bank(rng, 1500)
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    index.remove(list(bank)[:100])
    for key in list(bank)[:100]:
        del bank[key]
    index.add([5_000_000], ["ab" * 32])  # stays in the buffer until saved
    bank[5_000_000] = "ab" * 32

    folder = tmp_path / "snapshot"
    index.save(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "alive.npy",
        "bit_order.npy",
        "hashes.npy",
        "ids.npy",
        "index.json",
        "offsets.npy",
        "perm.npy",
        "tail_hashes.npy",
        "tail_ids.npy",
    ]
    for path in folder.glob("*.npy"):
        array = np.load(path, allow_pickle=False)  # raises if anything needed unpickling
        assert array.dtype != object
    header = json.loads((folder / "index.json").read_text())
    assert header["format"] == "accord.pdq_index"
    alive = np.load(folder / "alive.npy")
    assert header["count"] == len(alive)
    assert int(alive.sum()) + header["tail"] == len(bank)

    for mmap in (False, True):
        loaded = PdqIndex.load(folder, mmap=mmap)
        queries = _queries(bank, rng, 15)
        _check(loaded, bank, queries)
        # a loaded index keeps taking changes
        loaded.add([6_000_000], [queries[0]])
        loaded.remove([5_000_000])
        assert [h.id for h in loaded.query(queries[0], 0)] == [6_000_000]
        assert loaded.query("ab" * 32, 0) == []


def test_saving_rebuilds_nothing_and_keeps_every_tier(tmp_path: Path) -> None:
    """A save writes main as it is (tombstones included) and the smaller tiers as rows;
    the index saved is not changed, and the loaded one answers exactly alike."""
    rng = np.random.default_rng(11)
    bank = _near_duplicate_bank(rng, 3000)
    keys = list(bank)
    index = PdqIndex()
    index.add_arrays(
        np.asarray(keys[:2000], dtype=np.int64),
        np.frombuffer(b"".join(bytes.fromhex(bank[k]) for k in keys[:2000]), np.uint8).reshape(
            -1, 32
        ),
    )
    index.compact()  # 2,000 rows in main
    index.add(keys[2000:2900], [bank[k] for k in keys[2000:2900]])  # recent
    index.add(keys[2900:], [bank[k] for k in keys[2900:]])  # buffer
    index.remove(keys[:300])  # tombstones in main
    for key in keys[:300]:
        del bank[key]
    main, recent, buffered = index._main, index._recent, len(index._buffer_ids)
    assert main.dead == 300
    assert len(recent)
    assert buffered

    index.save(tmp_path / "snap")
    assert index._main is main
    assert index._recent is recent
    assert len(index._buffer_ids) == buffered
    loaded = PdqIndex.load(tmp_path / "snap")
    np.testing.assert_array_equal(loaded._main.ids, main.ids)
    assert loaded._main.dead == 300
    assert len(loaded) == len(bank)
    _check(loaded, bank, _queries(bank, rng, 20))


def test_a_frozen_copy_keeps_its_rows_while_the_index_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    bank = _near_duplicate_bank(rng, 2000)
    keys = list(bank)
    index = PdqIndex()
    index.add(keys, [bank[k] for k in keys])
    index.compact()
    frozen = index.frozen()
    # later changes to the index: removals (tombstones), additions, a rebuild
    index.remove(keys[:100])
    index.add([10_000_000], ["ab" * 32])
    index.compact()
    assert len(frozen) == len(bank)
    _check(frozen, bank, _queries(bank, rng, 10))
    frozen.save(tmp_path / "snap")
    _check(PdqIndex.load(tmp_path / "snap"), bank, _queries(bank, rng, 10))
    # and the other way round: the copy's changes leave the index alone
    frozen.remove(keys[100:200])
    assert [h.id for h in index.query(bank[keys[150]], 0)] == [keys[150]]


def test_a_version_1_snapshot_folder_still_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    bank = _near_duplicate_bank(rng, 1200)
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    index.compact()
    folder = tmp_path / "v1"
    index.save(folder)
    for name in ("alive", "tail_ids", "tail_hashes"):
        (folder / f"{name}.npy").unlink()
    header = json.loads((folder / "index.json").read_text())
    del header["tail"]
    (folder / "index.json").write_text(json.dumps(header | {"version": 1}))
    _check(PdqIndex.load(folder), bank, _queries(bank, rng, 10))
    (folder / "index.json").write_text(json.dumps(header | {"version": 3}))
    with pytest.raises(InvalidInput, match="not a version 1 or 2"):
        PdqIndex.load(folder)


def test_snapshot_with_another_bit_order_stays_exact(tmp_path: Path) -> None:
    """A snapshot written with a different bit shuffle is searched with its own."""
    rng = np.random.default_rng(8)
    bank = _near_duplicate_bank(rng, 1000)  # same layout as the recent tier gets below
    index = PdqIndex()
    index.add(list(bank), list(bank.values()))
    index.compact()  # every row in main, whose arrays are rewritten below
    folder = tmp_path / "snap"
    index.save(folder)
    keys_by_chunk = np.load(folder / "perm.npy").shape[0]
    # rewrite the snapshot as if it had been built with a reversed bit order
    reversed_order = pdq_index._BIT_ORDER[::-1].copy()
    segment = pdq_index._Segment.build.__func__  # type: ignore[attr-defined]
    original = pdq_index._BIT_ORDER
    try:
        pdq_index._BIT_ORDER = reversed_order  # type: ignore[misc]
        rebuilt = segment(
            pdq_index._Segment,
            np.asarray(list(bank), dtype=np.int64),
            np.frombuffer(b"".join(bytes.fromhex(v) for v in bank.values()), np.uint8).reshape(
                -1, 32
            ),
            31,
        )
    finally:
        pdq_index._BIT_ORDER = original  # type: ignore[misc]
    assert rebuilt.perm.shape[0] == keys_by_chunk
    np.save(folder / "perm.npy", rebuilt.perm)
    np.save(folder / "offsets.npy", rebuilt.offsets)
    np.save(folder / "bit_order.npy", rebuilt.bit_order)
    loaded = PdqIndex.load(folder)
    extra = {9_000_000 + i: v for i, v in enumerate(list(bank.values())[:300])}
    loaded.add(list(extra), list(extra.values()))  # a buffer and a segment with the module order
    loaded.add([9_100_000 + i for i in range(300)], list(bank.values())[300:600])
    bank |= extra | {9_100_000 + i: v for i, v in enumerate(list(bank.values())[300:600])}
    assert loaded._recent.layout == loaded._main.layout
    _check(loaded, bank, _queries(bank, rng, 15))


def test_load_rejects_a_damaged_snapshot(tmp_path: Path) -> None:
    index = PdqIndex()
    index.add([1, 2], ["0" * 64, "1" * 64])
    folder = tmp_path / "snap"
    index.save(folder)
    np.save(folder / "perm.npy", np.zeros((3, 3), dtype=np.int32))
    with pytest.raises(InvalidInput, match=r"perm\.npy"):
        PdqIndex.load(folder)
    (folder / "index.json").write_text('{"format": "something else"}')
    with pytest.raises(InvalidInput, match="snapshot"):
        PdqIndex.load(folder)
    with pytest.raises(InvalidInput, match="no readable"):
        PdqIndex.load(tmp_path / "missing")


def test_rejects_bad_hashes_and_thresholds() -> None:
    index = PdqIndex()
    with pytest.raises(InvalidSignal):
        index.query("abc")
    with pytest.raises(InvalidSignal):
        index.add([1], ["zz" * 32])
    with pytest.raises(InvalidInput):
        index.query("0" * 64, 2.5)
    with pytest.raises(InvalidInput):
        index.add_arrays(np.arange(2), np.zeros((2, 16), dtype=np.uint8))
    with pytest.raises(InvalidInput):
        PdqIndex(300)


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["add", "remove"]),
            st.lists(st.integers(0, 40), min_size=1, max_size=8),
            st.integers(0, 2**32 - 1),
        ),
        max_size=25,
    ),
    threshold=st.integers(0, 64),
)
def test_property_any_sequence_of_changes_matches_the_model(
    ops: list[tuple[str, list[int], int]], threshold: int
) -> None:
    index = PdqIndex()
    model: dict[int, str] = {}
    centre = "5a" * 32
    for op, ids, seed in ops:
        rng = np.random.default_rng(seed)
        if op == "add":
            values = [_flip(centre, int(rng.integers(0, 50)), rng) for _ in ids]
            index.add(ids, values)
            model.update(zip(ids, values, strict=True))
        else:
            index.remove(ids)
            for key in ids:
                model.pop(key, None)
    assert len(index) == len(model)
    rng = np.random.default_rng(0)
    for query in [centre, _flip(centre, 20, rng), *_random_hex(rng, 1)]:
        assert _got(index, query, threshold) == _reference(model, query, threshold)
