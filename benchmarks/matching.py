"""Benchmark of the PDQ index against faiss brute force, on realistic PDQ hashes.

Run: ``.venv/bin/python benchmarks/matching.py`` (1M and 10M banked hashes) or
``--quick`` (100k). For each bank size it builds :class:`accord.matching.pdq_index.PdqIndex`
and ``faiss.IndexBinaryFlat`` over the same hashes, then measures, single-threaded
(``faiss.omp_set_num_threads(1)``, the service default):

- lookups per second and p50 / p99 latency, one query at a time, at threshold 31, and the
  mean CPU time of a lookup (``time.thread_time``: on a shared machine it leaves out the
  time other processes held the core, which wall-clock figures include);
- batch throughput (``query_many`` against one ``range_search`` call);
- recall of PdqIndex against brute force (every (query, bank id) pair within 31);
- RAM per banked hash: the index's arrays, and the RSS growth when loading a snapshot;
- build time, snapshot save time, and load time from the snapshot.

Data (see ``pdq_corpus.py``): PDQ hashes of generated natural-looking images and of
their real variants; the bank is those hashes plus bit-flip copies drawn from the
measured variant distances and per-bit flip rates. Queries: one third real variant
hashes of banked images (JPEG, resize, crop, noise, contrast), one third bit-flip
near-duplicates of random bank items (3-31 bits), one third hashes of fresh images
that are not banked.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pdq_corpus
from accord.matching.pdq_index import PdqIndex

THRESHOLD = 31
LOAD_PROBE = """
import sys
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
from accord.matching.pdq_index import PdqIndex
import numpy, faiss
before = rss()
index = PdqIndex.load(sys.argv[1])
print(rss() - before)
"""


def make_queries(
    corpus: pdq_corpus.Corpus, count: int, rng: np.random.Generator, bank: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint8]:
    third = count // 3
    real = corpus.variants[rng.choice(len(corpus.variants), third, replace=False)]
    near = pdq_corpus.flip_bits(
        bank[rng.integers(0, len(bank), third)],
        rng.integers(3, THRESHOLD + 1, third),
        corpus.bit_flip_rates(),
        rng,
    )
    fresh = pdq_corpus._work((9_999, 0, count - 2 * third, 0))[0]
    return np.concatenate([real, near, fresh])


def pairs_from_index(results: list[list[object]]) -> set[tuple[int, int]]:
    return {(qi, hit.id) for qi, hits in enumerate(results) for hit in hits}  # type: ignore[attr-defined]


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q) * 1e3)


def bench_size(
    size: int, corpus: pdq_corpus.Corpus, queries_n: int, rng: np.random.Generator
) -> list[dict[str, object]]:
    bank = pdq_corpus.synthetic_bank(corpus, size, rng)
    ids = np.arange(size, dtype=np.int64)
    queries = make_queries(corpus, queries_n, rng, bank)

    t0 = time.perf_counter()
    index = PdqIndex(THRESHOLD)
    index.add_arrays(ids, bank)
    build_s = time.perf_counter() - t0
    array_bytes = index.nbytes() / size

    folder = Path(tempfile.mkdtemp(prefix="accord-pdq-"))
    try:
        t0 = time.perf_counter()
        index.save(folder)
        save_s = time.perf_counter() - t0
        del index
        gc.collect()
        # RSS growth is measured in a fresh process: this one's allocator keeps freed pages
        probe = subprocess.run(
            [sys.executable, "-c", LOAD_PROBE, str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss_per_hash = int(probe.stdout.split()[0]) / size
        t0 = time.perf_counter()
        index = PdqIndex.load(folder)
        load_s = time.perf_counter() - t0
        layout = index._main.layout
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    t0 = time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(bank)
    flat_build_s = time.perf_counter() - t0

    # brute force: the reference pairs, and one-at-a-time timings
    flat_lat: list[float] = []
    truth: set[tuple[int, int]] = set()
    cpu0 = time.thread_time()
    for i in range(len(queries)):
        t0 = time.perf_counter()
        lims, _dist, labels = flat.range_search(queries[i : i + 1], THRESHOLD + 1)
        flat_lat.append(time.perf_counter() - t0)
        truth.update((i, int(x)) for x in labels[lims[0] : lims[1]])
    flat_cpu = (time.thread_time() - cpu0) / len(queries)
    t0 = time.perf_counter()
    flat.range_search(queries, THRESHOLD + 1)
    flat_batch = len(queries) / (time.perf_counter() - t0)

    mih_lat: list[float] = []
    single: list[list[object]] = []
    cpu0 = time.thread_time()
    for i in range(len(queries)):
        t0 = time.perf_counter()
        single.extend(index.query_many(queries[i : i + 1], THRESHOLD))
        mih_lat.append(time.perf_counter() - t0)
    mih_cpu = (time.thread_time() - cpu0) / len(queries)
    t0 = time.perf_counter()
    batch = index.query_many(queries, THRESHOLD)
    mih_batch = len(queries) / (time.perf_counter() - t0)
    found = pairs_from_index(single)  # type: ignore[arg-type]
    assert found == pairs_from_index(batch)  # type: ignore[arg-type]
    recall = len(found & truth) / max(len(truth), 1)
    extra = len(found - truth)

    # incremental changes on the loaded index: new bank rows (growing ids), then removals
    fresh_rows = pdq_corpus.flip_bits(
        bank[rng.integers(0, size, 20_000)],
        rng.integers(0, 40, 20_000),
        corpus.bit_flip_rates(),
        rng,
    )
    stalls: list[float] = []
    for lo in range(0, len(fresh_rows), 100):
        t0 = time.perf_counter()
        index.add_arrays(np.arange(size + lo, size + lo + 100), fresh_rows[lo : lo + 100])
        stalls.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    index.remove_arrays(rng.choice(size, 10_000, replace=False))
    remove_s = time.perf_counter() - t0
    changes = (
        f"{size:>10,}: adding 20,000 rows, 100 at a time: {sum(stalls) / 20_000 * 1e6:.0f} us/row, "
        f"slowest batch {max(stalls) * 1e3:.0f} ms; removing 10,000: {remove_s * 1e3:.0f} ms"
    )

    common = {"size": size, "queries": len(queries), "pairs": len(truth), "changes": changes}
    return [
        {
            **common,
            "method": f"PdqIndex MIH {layout.chunks}x{layout.width}b",
            "lookups_s": len(mih_lat) / sum(mih_lat),
            "p50_ms": percentile_ms(mih_lat, 50),
            "p99_ms": percentile_ms(mih_lat, 99),
            "cpu_ms": mih_cpu * 1e3,
            "batch_s": mih_batch,
            "recall": recall,
            "false": extra,
            "bytes_hash": array_bytes,
            "rss_hash": rss_per_hash,
            "build_s": build_s,
            "save_s": save_s,
            "load_s": load_s,
        },
        {
            **common,
            "method": "faiss IndexBinaryFlat",
            "lookups_s": len(flat_lat) / sum(flat_lat),
            "p50_ms": percentile_ms(flat_lat, 50),
            "p99_ms": percentile_ms(flat_lat, 99),
            "cpu_ms": flat_cpu * 1e3,
            "batch_s": flat_batch,
            "recall": 1.0,
            "false": 0,
            "bytes_hash": flat.ntotal and 32.0,
            "rss_hash": float("nan"),
            "build_s": flat_build_s,
            "save_s": float("nan"),
            "load_s": float("nan"),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one bank of 100k hashes")
    parser.add_argument("--sizes", type=int, nargs="*", help="bank sizes (default 1M 10M)")
    parser.add_argument("--images", type=int, help="generated images hashed (default 20000)")
    parser.add_argument("--queries", type=int, default=300, help="queries per bank size")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    sizes = args.sizes or ([100_000] if args.quick else [1_000_000, 10_000_000])
    images = args.images or (4_000 if args.quick else 20_000)
    with_variants = min(images, 1_500)
    t0 = time.perf_counter()
    corpus = pdq_corpus.load_corpus(images, with_variants)
    corpus_s = time.perf_counter() - t0
    distances = corpus.variant_distances()
    print(
        f"corpus: {len(corpus.bases)} image hashes, {len(corpus.variants)} variant hashes "
        f"({corpus_s:.1f} s); variant distance p10/p50/p90 = "
        f"{np.percentile(distances, [10, 50, 90]).tolist()}, "
        f"share within {THRESHOLD}: {np.mean(distances <= THRESHOLD):.2f}"
    )
    print(
        f"threads: faiss omp 1; numpy {np.__version__}; faiss {faiss.__version__}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    rng = np.random.default_rng(2026)
    rows: list[dict[str, object]] = []
    for size in sizes:
        rows.extend(bench_size(size, corpus, args.queries, rng))
        gc.collect()
    header = (
        f"{'bank':>10} {'method':<24} {'lookups/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} "
        f"{'batch/s':>9} {'recall':>8} {'B/hash':>7} {'RSS B/h':>8} {'build s':>8} "
        f"{'save s':>7} {'load s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['size']:>10,} {r['method']:<24} {r['lookups_s']:>10,.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['cpu_ms']:>7.3f} {r['batch_s']:>9,.0f} {r['recall']:>8.4f} "
            f"{r['bytes_hash']:>7.1f} {r['rss_hash']:>8.1f} {r['build_s']:>8.2f} "
            f"{r['save_s']:>7.2f} {r['load_s']:>7.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end (other processes share the cores)")
    print()
    for mih, flat in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"{mih['size']:>10,}: PdqIndex / brute force = "
            f"{mih['lookups_s'] / flat['lookups_s']:.1f}x single lookups "  # type: ignore[operator]
            f"({flat['cpu_ms'] / mih['cpu_ms']:.1f}x in CPU time), "  # type: ignore[operator]
            f"{mih['batch_s'] / flat['batch_s']:.1f}x batch; "  # type: ignore[operator]
            f"recall {mih['recall']:.4f} over {mih['pairs']} true pairs, "
            f"{mih['false']} pairs beyond the threshold"
        )
        print(mih["changes"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
