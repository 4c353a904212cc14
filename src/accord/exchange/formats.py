"""Bank import and export formats: pytx signal files, CSV and JSON Lines.

- ``pytx``: python-threatexchange's local signal file, one ``<signal_type> <signal>``
  per line (or bare signals with a signal type given). It carries no labels or
  provenance, so those come from the import's options.
- ``jsonl``: one content item a line, with every signal, labels and provenance:
  ``{"id", "signals": {type: value}, "labels": {...}, "note", "external_id",
  "provenance": {"bank", "source", "added_by", "added_at"}, "metadata"}``.
- ``csv``: one signal a row, with the item's id, labels (each dimension a column,
  values separated by ``|``) and provenance; rows sharing an id are one item.

Readers yield :class:`ContentInput`; an item's original provenance is kept in
its metadata (``metadata["provenance"]``) and its original id as
``external_id``, so that a bank that travelled through several platforms still
says where each item came from. Every reader names the line of a bad record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from accord.errors import InvalidInput
from accord.matching.model import LABEL_DIMENSIONS, Content
from accord.matching.service import ContentInput

__all__ = ["Format", "content_record", "detect_format", "read_items", "write_items"]

CSV_COLUMNS = [
    "id",
    "signal_type",
    "signal",
    *LABEL_DIMENSIONS,
    "note",
    "external_id",
    "bank",
    "source",
    "added_by",
    "added_at",
]


class Format(StrEnum):
    PYTX = "pytx"
    CSV = "csv"
    JSONL = "jsonl"


def detect_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return Format.CSV
    if suffix in (".jsonl", ".ndjson"):
        return Format.JSONL
    return Format.PYTX


def read_items(
    handle: TextIO, fmt: Format, *, signal_type: str | None = None
) -> Iterator[ContentInput]:
    if fmt is Format.PYTX:
        yield from _read_pytx(handle, signal_type)
    elif fmt is Format.JSONL:
        yield from _read_jsonl(handle)
    else:
        yield from _read_csv(handle)


def _read_pytx(handle: TextIO, signal_type: str | None) -> Iterator[ContentInput]:
    for number, raw in enumerate(handle, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if signal_type is not None:
            stype, value = signal_type, line
        else:
            stype, _, value = line.partition(" ")
            value = value.strip()
            if not value:
                raise InvalidInput(
                    f"line {number}: expected '<signal_type> <signal>' (or pass a signal type)",
                    line=number,
                )
        yield ContentInput(signals={stype: value}, metadata={"line": number})


def _read_jsonl(handle: TextIO) -> Iterator[ContentInput]:
    for number, raw in enumerate(handle, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not JSON ({exc.msg})", line=number) from None
        if not isinstance(record, dict) or not isinstance(record.get("signals"), dict):
            raise InvalidInput(f"line {number}: expected an object with 'signals'", line=number)
        yield _item(record, number)


def _item(record: dict[str, Any], number: int) -> ContentInput:
    signals = record["signals"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in signals.items()):
        raise InvalidInput(f"line {number}: signals must map type names to strings", line=number)
    metadata = dict(record.get("metadata") or {})
    provenance = record.get("provenance")
    if provenance:
        metadata["provenance"] = provenance
    original = record.get("external_id") or (
        str(record["id"]) if record.get("id") is not None else None
    )
    return ContentInput(
        signals=dict(signals),
        labels=record.get("labels"),
        note=record.get("note"),
        external_id=original,
        metadata=metadata,
    )


def _read_csv(handle: TextIO) -> Iterator[ContentInput]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or not {"signal_type", "signal"} <= set(reader.fieldnames):
        raise InvalidInput("CSV needs a header with at least signal_type and signal columns")
    grouped: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for number, row in enumerate(reader, 2):
        stype = (row.get("signal_type") or "").strip()
        value = (row.get("signal") or "").strip()
        if not stype or not value:
            raise InvalidInput(f"line {number}: signal_type and signal are required", line=number)
        key = (row.get("id") or "").strip() or f"line:{number}"
        if key not in grouped:
            order.append(key)
            labels = {
                dim: [v for v in (row.get(dim) or "").split("|") if v]
                for dim in LABEL_DIMENSIONS
                if row.get(dim)
            }
            provenance = {
                k: row[k] for k in ("bank", "source", "added_by", "added_at") if row.get(k)
            }
            grouped[key] = {
                "id": None if key.startswith("line:") else key,
                "signals": {},
                "labels": labels,
                "note": row.get("note") or None,
                "external_id": row.get("external_id") or None,
                "provenance": provenance or None,
                "line": number,
            }
        grouped[key]["signals"][stype] = value
    for key in order:
        record = grouped[key]
        yield _item(record, record.pop("line"))


def content_record(content: Content) -> dict[str, Any]:
    """One item as a JSON Lines record (also what peers receive in an exchange feed)."""
    return {
        "id": content.id,
        "signals": content.signals,
        "labels": content.labels,
        "note": content.note,
        "external_id": content.external_id,
        "enabled": content.enabled,
        "provenance": {
            "bank": content.bank,
            "source": content.source,
            "added_by": content.added_by,
            "added_at": content.added_at,
        },
        "metadata": content.metadata,
    }


def write_items(items: Iterable[Content], handle: TextIO, fmt: Format) -> int:
    """Write content in ``fmt``; returns how many items were written."""
    count = 0
    if fmt is Format.PYTX:
        for c in items:
            for stype, value in c.signals.items():
                if "\n" in value:  # multi-line signals (vPDQ) do not fit one line
                    value = ";".join(value.splitlines())
                handle.write(f"{stype} {value}\n")
            count += 1
    elif fmt is Format.JSONL:
        for c in items:
            handle.write(
                json.dumps(content_record(c), sort_keys=True, separators=(",", ":")) + "\n"
            )
            count += 1
    else:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for c in items:
            for stype, value in c.signals.items():
                row = {
                    "id": c.id,
                    "signal_type": stype,
                    "signal": ";".join(value.splitlines()) if "\n" in value else value,
                    "note": c.note or "",
                    "external_id": c.external_id or "",
                    "bank": c.bank,
                    "source": c.source,
                    "added_by": c.added_by,
                    "added_at": c.added_at,
                }
                for dim in LABEL_DIMENSIONS:
                    row[dim] = "|".join(c.labels.get(dim, []))
                writer.writerow(row)
            count += 1
    return count


def dumps(items: Iterable[Content], fmt: Format) -> str:
    buffer = io.StringIO()
    write_items(items, buffer, fmt)
    return buffer.getvalue()
