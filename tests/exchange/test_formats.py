"""Import and export formats keep signals, labels and provenance; bad lines are named."""

from __future__ import annotations

import io

import pytest

from accord.errors import InvalidInput
from accord.exchange.formats import Format, read_items, write_items
from accord.matching.service import ContentInput


@pytest.fixture
def banked(accord):
    accord.banks.create_bank("TVEC", actor="t")
    accord.banks.add_many(
        "TVEC",
        [
            ContentInput(
                signals={"pdq": f"{i:064x}", "md5": f"{i:032x}"},
                labels={"entity": ["Group X"], "content_type": ["propaganda"]},
                note=f"item {i}",
                external_id=f"src-{i}",
            )
            for i in range(1, 6)
        ],
        source="partner-a",
        actor="curator:1",
    )
    return accord


@pytest.mark.parametrize("fmt", [Format.JSONL, Format.CSV])
def test_round_trip_keeps_labels_and_provenance(banked, fmt):
    buffer = io.StringIO()
    assert write_items(banked.banks.iter_content("TVEC"), buffer, fmt) == 5
    buffer.seek(0)
    items = list(read_items(buffer, fmt))
    assert len(items) == 5
    first = items[0]
    assert first.signals == {"pdq": f"{1:064x}", "md5": f"{1:032x}"}
    assert first.labels == {"entity": ["Group X"], "content_type": ["propaganda"]}
    assert first.external_id == "src-1"
    assert first.metadata["provenance"]["source"] == "partner-a"
    assert first.metadata["provenance"]["bank"] == "TVEC"


def test_pytx_signal_files(banked):
    buffer = io.StringIO()
    write_items(banked.banks.iter_content("TVEC"), buffer, Format.PYTX)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == f"pdq {1:064x}"
    buffer.seek(0)
    assert len(list(read_items(buffer, Format.PYTX))) == 10
    bare = io.StringIO(f"{1:064x}\n# comment\n\n{2:064x}\n")
    assert [i.signals for i in read_items(bare, Format.PYTX, signal_type="pdq")] == [
        {"pdq": f"{1:064x}"},
        {"pdq": f"{2:064x}"},
    ]


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        (Format.PYTX, "pdq\n", "line 1"),
        (Format.JSONL, '{"signals": {"pdq": "00"}}\n{oops\n', "line 2"),
        (Format.JSONL, '{"no_signals": 1}\n', "line 1"),
        (Format.CSV, "a,b\n1,2\n", "header"),
        (Format.CSV, "signal_type,signal\npdq,\n", "line 2"),
    ],
)
def test_bad_records_are_named(fmt, text, message):
    with pytest.raises(InvalidInput, match=message):
        list(read_items(io.StringIO(text), fmt))
