"""``accord hash``, ``accord match`` and ``accord bank ...``: the hash-sharing core from a shell.

Output meant for scripts (hashes, matches, exports) is JSON Lines on standard
output; progress and summaries go to standard error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord.cli.app import app, err, fail, get_accord, out
from accord.errors import AccordError, InvalidInput
from accord.exchange.formats import Format, detect_format, read_items, write_items
from accord.matching.model import BankKind
from accord.matching.service import ContentInput
from accord.signals.base import ContentType
from accord.signals.sniff import sniff_content_type

bank_app = typer.Typer(
    help="Banks of known content: create, list, show, add, import, export, remove.",
    no_args_is_help=True,
)
app.add_typer(bank_app, name="bank")
exchange_app = typer.Typer(help="Share banks with other accord instances.", no_args_is_help=True)
app.add_typer(exchange_app, name="exchange")

ACTOR = "cli"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _content_type(path: Path, given: str | None) -> ContentType:
    if given:
        try:
            return ContentType(given)
        except ValueError:
            fail(f"unknown content type {given!r}; use photo, video, text or url")
    with path.open("rb") as handle:
        head = handle.read(512)
    sniffed = sniff_content_type(head)
    if sniffed is None:
        fail(f"{path}: cannot tell what this file holds; pass --type photo|video|text")
    return sniffed


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")


def _files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.is_file())
        else:
            yield p


def _parse_labels(labels: list[str]) -> dict[str, list[str]]:
    out_labels: dict[str, list[str]] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not value:
            fail(f"label {item!r} must be DIMENSION=VALUE, e.g. ideology=white_supremacist")
        out_labels.setdefault(key.strip(), []).append(value.strip())
    return out_labels


@app.command("hash")
def hash_files(
    files: list[Path] = typer.Argument(..., help="Files or folders to hash."),
    content_type: str = typer.Option(
        None, "--type", help="photo, video or text (default: sniffed)."
    ),
) -> None:
    """Hash files; one JSON line per signal: file, content_type, signal_type, value, quality."""
    lookups = get_accord().lookups
    paths = list(_files(files))
    failures = 0
    with _progress() as progress:
        task = progress.add_task("hashing", total=len(paths))
        for path in paths:
            ctype = _content_type(path, content_type)
            try:
                hashes = lookups.hash(ctype, _read(path))
            except AccordError as exc:
                failures += 1
                err.print(f"{path}: {exc.message}", markup=False)
            else:
                for h in hashes:
                    line = {
                        "file": str(path),
                        "content_type": ctype.value,
                        "signal_type": h.signal_type,
                        "value": h.value,
                        "quality": h.quality,
                    }
                    typer.echo(json.dumps(line))
            progress.advance(task)
    if failures:
        raise typer.Exit(2)


@app.command("match")
def match_files(
    files: list[Path] = typer.Argument(..., help="Files or folders to match."),
    content_type: str = typer.Option(
        None, "--type", help="photo, video or text (default: sniffed)."
    ),
    banks: str = typer.Option(None, help="Only these banks (comma-separated)."),
) -> None:
    """Hash and match files; one JSON line per file with its matches. Exit 1 if any matched."""
    accord = get_accord()
    bank_list = [b for b in banks.split(",") if b] if banks else None
    any_match = False
    failures = 0
    for path in _files(files):
        ctype = _content_type(path, content_type)
        try:
            outcome = accord.lookups.match_content(ctype, _read(path), banks=bank_list)
        except AccordError as exc:
            failures += 1
            err.print(f"{path}: {exc.message}", markup=False)
            continue
        matches = [
            {
                "bank": m.bank,
                "content_id": m.content_id,
                "signal_type": m.signal_type,
                "distance": m.distance,
                "labels": m.labels,
            }
            for r in outcome.results.values()
            for m in r.matches
        ]
        any_match = any_match or bool(matches)
        typer.echo(
            json.dumps(
                {
                    "file": str(path),
                    "matched": bool(matches),
                    "matches": matches,
                    "skipped": outcome.skipped,
                }
            )
        )
    if failures:
        raise typer.Exit(2)
    if any_match:
        raise typer.Exit(1)


@bank_app.command("create")
def bank_create(
    name: str = typer.Argument(..., help="UPPER_WITH_UNDERSCORES"),
    negative: bool = typer.Option(
        False, help="A bank of known-safe content that silences matches."
    ),
    description: str = typer.Option("", help="What the bank holds."),
    ratio: float = typer.Option(
        1.0, help="matching_enabled_ratio: share of lookups it takes part in."
    ),
    threshold: list[str] = typer.Option([], help="Per-type threshold, e.g. pdq=24 (repeatable)."),
) -> None:
    """Create a bank."""
    thresholds: dict[str, float] = {}
    for item in threshold:
        key, _, value = item.partition("=")
        try:
            thresholds[key] = float(value)
        except ValueError:
            fail(f"threshold {item!r} must be TYPE=NUMBER")
    bank = get_accord().banks.create_bank(
        name,
        kind=BankKind.NEGATIVE if negative else BankKind.POSITIVE,
        description=description,
        matching_enabled_ratio=ratio,
        thresholds=thresholds,
        actor=ACTOR,
    )
    err.print(f"created {bank.kind.value} bank {bank.name}")


@bank_app.command("list")
def bank_list() -> None:
    """List banks with their size."""
    accord = get_accord()
    table = Table("name", "kind", "enabled", "ratio", "items", "thresholds")
    for b in accord.banks.list_banks():
        table.add_row(
            b.name,
            b.kind.value,
            str(b.enabled),
            f"{b.matching_enabled_ratio:g}",
            str(accord.banks.count_content(b.name)),
            json.dumps(b.thresholds),
        )
    out.print(table)


@bank_app.command("show")
def bank_show(name: str) -> None:
    """Show a bank as JSON."""
    accord = get_accord()
    b = accord.banks.get_bank(name)
    typer.echo(
        json.dumps(
            {
                "name": b.name,
                "kind": b.kind.value,
                "enabled": b.enabled,
                "matching_enabled_ratio": b.matching_enabled_ratio,
                "description": b.description,
                "thresholds": b.thresholds,
                "created_at": b.created_at,
                "updated_at": b.updated_at,
                "items": accord.banks.count_content(name),
            },
            indent=2,
        )
    )


@bank_app.command("add")
def bank_add(
    name: str = typer.Argument(..., help="The bank."),
    files: list[Path] = typer.Argument(None, help="Media files to hash and bank, one item each."),
    signal: list[str] = typer.Option([], help="A signal to bank as TYPE=VALUE (repeatable)."),
    label: list[str] = typer.Option([], help="DIMENSION=VALUE, e.g. entity=X (repeatable)."),
    note: str = typer.Option(None, help="A note kept with the item(s)."),
    content_type: str = typer.Option(
        None, "--type", help="photo, video or text (default: sniffed)."
    ),
) -> None:
    """Bank media files (each hashed into every applicable signal) or signals given directly."""
    accord = get_accord()
    labels = _parse_labels(label)
    accord.banks.get_bank(name)
    if signal:
        signals: dict[str, str] = {}
        for item in signal:
            key, sep, value = item.partition("=")
            if not sep:
                fail(f"signal {item!r} must be TYPE=VALUE")
            signals[key] = value
        content = accord.banks.add_content(
            name, ContentInput(signals=signals, labels=labels, note=note), source="cli", actor=ACTOR
        )
        typer.echo(json.dumps({"id": content.id, "signals": content.signals}))
    minimum = accord.settings.pdq_min_quality
    for path in _files(files or []):
        ctype = _content_type(path, content_type)
        kept, points = accord.lookups.hash_to_bank(ctype, _read(path))
        if not kept:
            raise InvalidInput(f"{path}: every hash is below the minimum quality {minimum}")
        content = accord.banks.add_hashed(
            name,
            kept,
            labels=labels,
            note=note,
            metadata={"file": path.name},
            source=f"cli:{path.name}",
            actor=ACTOR,
            keypoints=points,
        )
        typer.echo(json.dumps({"file": str(path), "id": content.id, "signals": content.signals}))


@bank_app.command("import")
def bank_import(
    name: str = typer.Argument(..., help="The bank to import into."),
    file: Path = typer.Argument(..., help="A pytx signal file, CSV or JSON Lines ('-' for stdin)."),
    fmt: Format = typer.Option(None, "--format", help="pytx, csv or jsonl (default: by suffix)."),
    signal_type: str = typer.Option(
        None, help="pytx files whose lines are bare signals: their type."
    ),
    label: list[str] = typer.Option([], help="Labels for items that carry none (DIMENSION=VALUE)."),
    source: str = typer.Option(None, help="Where this list came from (provenance)."),
) -> None:
    """Import a shared hash list; every line is validated before anything is stored."""
    accord = get_accord()
    accord.banks.get_bank(name)
    chosen = fmt or (Format.PYTX if str(file) == "-" else detect_format(file))
    default_labels = _parse_labels(label)
    try:
        handle = sys.stdin if str(file) == "-" else file.open(encoding="utf-8", newline="")
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    with handle:
        try:
            items = list(read_items(handle, chosen, signal_type=signal_type))
        except UnicodeDecodeError:
            fail(f"{file}: not UTF-8 text")
    for item in items:
        if not item.labels and default_labels:
            item.labels = default_labels
    with _progress() as progress:
        task = progress.add_task("importing", total=len(items))
        ids = accord.banks.add_many(
            name,
            items,
            source=source or f"import:{chosen.value}:{file.name}",
            actor=ACTOR,
            progress=lambda n: progress.advance(task, n),
        )
    err.print(f"imported {len(ids)} items into {name}")


@bank_app.command("export")
def bank_export(
    name: str = typer.Argument(..., help="The bank."),
    fmt: Format = typer.Option(Format.JSONL, "--format", help="pytx, csv or jsonl."),
    output: Path = typer.Option(None, "--out", help="File to write (default: standard output)."),
) -> None:
    """Export a bank with its labels and provenance."""
    accord = get_accord()
    accord.banks.get_bank(name)
    items = accord.banks.iter_content(name)
    if output is None:
        count = write_items(items, sys.stdout, fmt)
    else:
        tmp = output.with_name(f".{output.name}.partial")
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            count = write_items(items, handle, fmt)
        tmp.replace(output)
    err.print(f"exported {count} items from {name}")


@bank_app.command("remove")
def bank_remove(
    name: str = typer.Argument(..., help="The bank."),
    content_ids: list[int] = typer.Argument(None, help="Content ids to remove."),
    whole_bank: bool = typer.Option(False, "--bank", help="Delete the whole bank and its content."),
) -> None:
    """Remove content from a bank, or (with --bank) the bank itself."""
    accord = get_accord()
    if whole_bank:
        accord.banks.delete_bank(name, actor=ACTOR)
        err.print(f"deleted bank {name}")
        return
    if not content_ids:
        fail("name the content ids to remove, or pass --bank to delete the bank")
    for cid in content_ids:
        accord.banks.remove_content(name, cid, actor=ACTOR)
    err.print(f"removed {len(content_ids)} items from {name}")


@exchange_app.command("pull")
def exchange_pull(
    url: str = typer.Argument(..., help="The peer accord's base URL, e.g. https://peer.example"),
    bank: str = typer.Option(..., help="The local bank to fill."),
    remote_bank: str = typer.Option(None, help="The peer's bank (default: the same name)."),
    key: str = typer.Option(None, envvar="ACCORD_PEER_KEY", help="The key the peer gave you."),
) -> None:
    """Follow a peer's bank: apply its changes since the last pull."""
    result = get_accord().exchange.pull(
        url, local_bank=bank, remote_bank=remote_bank, key=key, actor=f"cli:exchange:{url}"
    )
    summary: dict[str, Any] = {
        "added": result.added,
        "removed": result.removed,
        "skipped": result.skipped,
        "checkpoint": result.checkpoint,
    }
    typer.echo(json.dumps(summary))


@exchange_app.command("peers")
def exchange_peers() -> None:
    """List the peers this instance follows and how far it has read."""
    for peer in get_accord().exchange.peers():
        typer.echo(json.dumps(peer))


index_app = typer.Typer(help="The matcher's in-memory indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("snapshot")
def index_snapshot() -> None:
    """Write the PDQ index as plain arrays under the home, so matchers start in seconds.

    A running service keeps one fresh by itself (ACCORD_SNAPSHOT_CHANGES); this writes one
    now, waiting while a service process writes its own."""
    accord = get_accord()
    seq = accord.matcher.save_snapshot()
    size = accord.matcher.status("pdq")["pdq"].size
    where = accord.matcher.snapshot_dir
    err.print(f"snapshot of {size} PDQ hashes at feed position {seq} in {where}")


@index_app.command("status")
def index_status() -> None:
    """Size and feed position of each signal type's index."""
    matcher = get_accord().matcher
    for name, s in matcher.status().items():
        typer.echo(json.dumps({"signal_type": name, "size": s.size, "built_to": s.built_to}))
    snapshot = {"snapshot": str(matcher.snapshot_dir), "feed_seq": matcher.snapshot_seq()}
    typer.echo(json.dumps(snapshot))
