"""RightsService: the registry's only door to storage, the ledger and the gate.

Every change (an objection, a consent, a withdrawal, a recorded signal) is one
write transaction that inserts the request, its effects, and appends one ledger
event whose subject is pseudonymised; the request's receipt carries the seq of
that event. Reads rebuild a subject's history from ``rights_effects`` and let
:func:`accord.rights.model.resolve` decide. The gate exports the registry as
of a time to a Parquet decision list, runs :mod:`accord.jobs.gate`, and records
the run (its manifest's hash and Merkle root) in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Connection, func, insert, select

from accord.clock import Clock, format_time, parse_time
from accord.errors import Conflict, InvalidInput, NotFound
from accord.ledger.log import Ledger
from accord.rights.model import (
    CATEGORIES,
    PURPOSES,
    Action,
    Basis,
    Decision,
    Entry,
    Reason,
    check_category,
    check_purpose,
    resolve,
    resolve_all,
)
from accord.rights.signals import Signal
from accord.rights.tables import rights_effects, rights_manifests, rights_requests
from accord.store.engine import Database

__all__ = ["AffectedManifest", "Receipt", "RightsService", "State"]

_EVENT = {
    Action.OBJECT: "rights.objected",
    Action.CONSENT: "rights.consented",
    Action.WITHDRAW: "rights.withdrawn",
}
_DENYING = (Action.OBJECT.value, Action.WITHDRAW.value, Action.SIGNAL_DENY.value)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a person is given when a request is recorded."""

    request_id: str
    subject: str
    kind: str
    action: str
    covers: list[dict[str, str | None]]
    recorded_at: str
    channel: str
    ledger_seq: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "subject": self.subject,
            "kind": self.kind,
            "action": self.action,
            "covers": self.covers,
            "recorded_at": self.recorded_at,
            "channel": self.channel,
            "ledger_seq": self.ledger_seq,
            "source": self.source,
            "effective": "for every export whose as-of time is at or after recorded_at",
        }


@dataclass(frozen=True, slots=True)
class State:
    """A subject's resolved state as of a time."""

    subject: str
    as_of: str
    decisions: list[Decision]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "as_of": self.as_of,
            "decisions": [
                {
                    "purpose": d.purpose,
                    "category": d.category,
                    "allowed": d.allowed,
                    "reason": d.reason.value,
                    "provenance": list(d.provenance),
                }
                for d in self.decisions
            ],
        }


@dataclass(frozen=True, slots=True)
class AffectedManifest:
    """A gate run that included items of people who objected after it was made."""

    manifest_id: str
    purpose: str
    created_at: str
    out_dir: str
    merkle_root: str
    subjects: int
    request_ids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "manifest_id": self.manifest_id,
            "purpose": self.purpose,
            "created_at": self.created_at,
            "out_dir": self.out_dir,
            "merkle_root": self.merkle_root,
            "subjects": self.subjects,
            "request_ids": self.request_ids,
        }


def _check_subject(subject: str) -> str:
    subject = subject.strip() if isinstance(subject, str) else ""
    if not subject or len(subject) > 200:
        raise InvalidInput("a subject id must be 1 to 200 characters", subject=subject[:50])
    return subject


class RightsService:
    def __init__(self, db: Database, ledger: Ledger, clock: Clock) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock

    # --- changes -------------------------------------------------------------------------

    def object(
        self,
        subject: str,
        purpose: str,
        category: str | None = None,
        *,
        actor: str | None = None,
        channel: str = "api",
    ) -> Receipt:
        """Record an Art. 21 objection (an opt-out): denies at once, for every later export."""
        return self._choice(Action.OBJECT, subject, purpose, category, actor, channel)

    def consent(
        self,
        subject: str,
        purpose: str,
        category: str | None = None,
        *,
        actor: str | None = None,
        channel: str = "api",
    ) -> Receipt:
        """Record an opt-in (it also lifts an earlier objection: the latest choice wins)."""
        return self._choice(Action.CONSENT, subject, purpose, category, actor, channel)

    def withdraw(
        self,
        subject: str,
        purpose: str,
        category: str | None = None,
        *,
        actor: str | None = None,
        channel: str = "api",
    ) -> Receipt:
        """Record the withdrawal of consent."""
        return self._choice(Action.WITHDRAW, subject, purpose, category, actor, channel)

    def _choice(
        self,
        action: Action,
        subject: str,
        purpose: str,
        category: str | None,
        actor: str | None,
        channel: str,
    ) -> Receipt:
        subject = _check_subject(subject)
        check_purpose(purpose)
        check_category(category)
        covers: list[dict[str, str | None]] = [{"purpose": purpose, "category": category}]
        return self._record(
            subject=subject,
            kind="choice",
            action=action.value,
            effects=[(action, purpose, category)],
            source="person",
            raw=None,
            actor=actor,
            channel=channel,
            event=_EVENT[action],
            event_data={"purpose": purpose, "category": category},
            covers=covers,
        )

    def record_signal(
        self, subject: str, signal: Signal, *, actor: str | None = None, channel: str = "api"
    ) -> Receipt:
        """Record an external signal with its provenance (see :mod:`accord.rights.signals`)."""
        subject = _check_subject(subject)
        effects = [(e.action, e.purpose, e.category) for e in signal.effects]
        covers: list[dict[str, str | None]] = [
            {"purpose": e.purpose, "category": e.category, "action": e.action.value}
            for e in signal.effects
        ]
        return self._record(
            subject=subject,
            kind="signal",
            action=signal.kind,
            effects=effects,
            source=signal.source[:500],
            raw=signal.raw,
            actor=actor,
            channel=channel,
            event="rights.signal_recorded",
            event_data={"signal": signal.kind, "effects": covers},
            covers=covers,
        )

    def _record(
        self,
        *,
        subject: str,
        kind: str,
        action: str,
        effects: Sequence[tuple[Action, str, str | None]],
        source: str,
        raw: str | None,
        actor: str | None,
        channel: str,
        event: str,
        event_data: Mapping[str, Any],
        covers: list[dict[str, str | None]],
    ) -> Receipt:
        request_id = "rr_" + secrets.token_hex(10)
        now = format_time(self.clock.now())
        first = effects[0] if len(effects) == 1 else None
        with self.db.write() as conn:
            ev = self.ledger.append(
                conn,
                event,
                {
                    "request_id": request_id,
                    "subject": self.ledger.pseudonymize(subject),
                    "channel": channel,
                    **event_data,
                },
                actor=actor,
            )
            conn.execute(
                insert(rights_requests).values(
                    request_id=request_id,
                    subject=subject,
                    kind=kind,
                    action=action,
                    purpose=first[1] if first else None,
                    category=first[2] if first else None,
                    source=source,
                    raw=raw,
                    channel=channel,
                    actor=actor,
                    recorded_at=now,
                    ledger_seq=ev.seq,
                )
            )
            conn.execute(
                insert(rights_effects),
                [
                    {
                        "request_id": request_id,
                        "subject": subject,
                        "action": a.value,
                        "purpose": purpose,
                        "category": category,
                        "kind": "choice" if kind == "choice" else action,
                        "source": source,
                        "recorded_at": now,
                    }
                    for a, purpose, category in effects
                ],
            )
        return Receipt(request_id, subject, kind, action, covers, now, channel, ev.seq, source)

    # --- reads ---------------------------------------------------------------------------

    def receipt(self, request_id: str) -> Receipt:
        with self.db.read() as conn:
            row = conn.execute(
                select(rights_requests).where(rights_requests.c.request_id == request_id)
            ).first()
            if row is None:
                raise NotFound(f"no rights request {request_id!r}", request_id=request_id)
            effects = conn.execute(
                select(rights_effects)
                .where(rights_effects.c.request_id == request_id)
                .order_by(rights_effects.c.id)
            ).all()
        if row.kind == "choice":
            covers: list[dict[str, str | None]] = [
                {"purpose": e.purpose, "category": e.category} for e in effects
            ]
        else:
            covers = [
                {"purpose": e.purpose, "category": e.category, "action": e.action} for e in effects
            ]
        return Receipt(
            row.request_id,
            row.subject,
            row.kind,
            row.action,
            covers,
            row.recorded_at,
            row.channel,
            int(row.ledger_seq),
            row.source,
        )

    def history(self, subject: str, *, conn: Connection | None = None) -> list[Entry]:
        """The subject's append-only history, oldest first."""
        query = (
            select(rights_effects)
            .where(rights_effects.c.subject == subject)
            .order_by(rights_effects.c.recorded_at, rights_effects.c.id)
        )
        if conn is None:
            with self.db.read() as c:
                rows = c.execute(query).all()
        else:
            rows = conn.execute(query).all()
        return [_entry(r) for r in rows]

    def state(self, subject: str, as_of: datetime | str | None = None) -> State:
        """Every (purpose, category) decision for ``subject`` as of a time (default: now)."""
        when = self._as_of(as_of)
        decisions = resolve_all(self.history(_check_subject(subject)), when)
        return State(subject, format_time(when), decisions)

    def _as_of(self, as_of: datetime | str | None) -> datetime:
        if as_of is None:
            return self.clock.now()
        if isinstance(as_of, str):
            try:
                return parse_time(as_of)
            except ValueError as exc:
                raise InvalidInput(f"not a time: {as_of!r}", as_of=as_of) from exc
        return as_of

    # --- the gate ------------------------------------------------------------------------

    def export_decisions(self, purpose: str, as_of: datetime, target: Path) -> dict[str, Any]:
        """Write the purpose's non-default cells as of ``as_of`` to Parquet; return the position.

        Only subjects with history matter: everyone else has the purpose's default.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        spec = check_purpose(purpose)
        default = (
            Reason.LEGITIMATE_INTEREST
            if spec.basis is Basis.LEGITIMATE_INTEREST
            else (Reason.NO_CONSENT)
        )
        cutoff = format_time(as_of)
        with self.db.read() as conn:
            rows = conn.execute(
                select(rights_effects)
                .where(rights_effects.c.purpose == purpose, rights_effects.c.recorded_at <= cutoff)
                .order_by(
                    rights_effects.c.subject, rights_effects.c.recorded_at, rights_effects.c.id
                )
            ).all()
            registry_seq = conn.execute(
                select(func.max(rights_requests.c.ledger_seq)).where(
                    rights_requests.c.recorded_at <= cutoff
                )
            ).scalar_one()
            ledger_size = self.ledger.size(conn)
        by_subject: dict[str, list[Entry]] = defaultdict(list)
        for r in rows:
            by_subject[r.subject].append(_entry(r))
        subjects: list[str] = []
        categories: list[str] = []
        allowed: list[bool] = []
        reasons: list[str] = []
        for subject, history in by_subject.items():
            # entries that all cover every category decide every category alike: resolve once
            uniform = all(e.category is None for e in history)
            first = resolve(history, purpose, CATEGORIES[0], as_of) if uniform else None
            for category in CATEGORIES:
                d = first if first is not None else resolve(history, purpose, category, as_of)
                if d.reason is not default:
                    subjects.append(subject)
                    categories.append(category)
                    allowed.append(d.allowed)
                    reasons.append(d.reason.value)
        table = pa.table(
            {
                "subject": pa.array(subjects, pa.string()),
                "category": pa.array(categories, pa.string()),
                "allowed": pa.array(allowed, pa.bool_()),
                "reason": pa.array(reasons, pa.string()),
            }
        )
        pq.write_table(table, target)
        return {
            "last_rights_seq": None if registry_seq is None else int(registry_seq),
            "subjects_with_history": len(by_subject),
            "decision_rows": len(subjects),
            "ledger_size_at_export": ledger_size,
        }

    def gate(
        self,
        corpus: Path,
        out: Path,
        *,
        purpose: str = "train_ai_system",
        as_of: datetime | str | None = None,
        engine: str = "duckdb",
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Gate ``corpus`` into ``out``; record the run; return its manifest."""
        from accord.jobs.gate import GateSpec, run_gate

        spec_purpose = check_purpose(purpose)
        when = self._as_of(as_of)
        if when > self.clock.now():
            # objections filed between now and then would be missing from a state "as of" then
            raise InvalidInput(
                f"--as-of {format_time(when)} is in the future; the registry is known only "
                "up to now",
                as_of=format_time(when),
            )
        li = spec_purpose.basis is Basis.LEGITIMATE_INTEREST
        with tempfile.TemporaryDirectory(prefix="accord-gate-") as tmp:
            decisions = Path(tmp) / "decisions.parquet"
            position = self.export_decisions(purpose, when, decisions)
            # the ledger size is not part of the manifest: it differs between two runs
            registry = {
                "last_rights_seq": position["last_rights_seq"],
                "subjects_with_history": position["subjects_with_history"],
                "decision_rows": position["decision_rows"],
            }
            spec = GateSpec(
                corpus=Path(corpus),
                out=Path(out),
                decisions=decisions,
                purpose=purpose,
                as_of=format_time(when),
                default_allowed=li,
                default_reason=(Reason.LEGITIMATE_INTEREST if li else Reason.NO_CONSENT).value,
                registry=registry,
                created_at=format_time(self.clock.now()),
            )
            manifest = run_gate(spec, engine=engine)
        manifest_bytes = (Path(out) / "manifest.json").read_bytes()
        digest = hashlib.sha256(manifest_bytes).hexdigest()
        manifest_id = "gm_" + secrets.token_hex(10)
        with self.db.write() as conn:
            ev = self.ledger.append(
                conn,
                "rights.gate_run",
                {
                    "manifest_id": manifest_id,
                    "purpose": purpose,
                    "as_of": spec.as_of,
                    "manifest_sha256": digest,
                    "merkle_root": manifest["merkle"]["root"],
                    "input_count": manifest["input_count"],
                    "output_count": manifest["output_count"],
                    "registry_seq": registry["last_rights_seq"],
                },
                actor=actor,
            )
            conn.execute(
                insert(rights_manifests).values(
                    manifest_id=manifest_id,
                    purpose=purpose,
                    as_of=spec.as_of,
                    created_at=spec.created_at,
                    engine=engine,
                    out_dir=str(Path(out).resolve()),
                    registry_seq=-1
                    if registry["last_rights_seq"] is None
                    else registry["last_rights_seq"],
                    input_count=manifest["input_count"],
                    output_count=manifest["output_count"],
                    merkle_root=manifest["merkle"]["root"],
                    manifest_sha256=digest,
                    ledger_seq=ev.seq,
                )
            )
        return {**manifest, "manifest_id": manifest_id, "ledger_seq": ev.seq, "engine": engine}

    def affected(self, since: datetime | str) -> list[AffectedManifest]:
        """Gate runs holding items of people who objected (or withdrew) after the run was made.

        A run's output rows are its record of whom it included: their ``subject_id`` and
        ``category`` columns are matched against the later denials.
        """
        import duckdb
        import pyarrow as pa

        cutoff = format_time(self._as_of(since))
        with self.db.read() as conn:
            manifests = conn.execute(select(rights_manifests).order_by(rights_manifests.c.id)).all()
            denials = conn.execute(
                select(
                    rights_effects.c.subject,
                    rights_effects.c.purpose,
                    rights_effects.c.category,
                    rights_effects.c.recorded_at,
                    rights_effects.c.request_id,
                ).where(
                    rights_effects.c.action.in_(_DENYING),
                    rights_effects.c.recorded_at >= cutoff,
                )
            ).all()
        found: list[AffectedManifest] = []
        for m in manifests:
            later = [d for d in denials if d.purpose == m.purpose and d.recorded_at > m.created_at]
            if not later:
                continue
            data = Path(m.out_dir) / "data"
            if not data.is_dir():
                raise NotFound(
                    f"gate run {m.manifest_id}: {data} is missing (moved or deleted?)",
                    manifest_id=m.manifest_id,
                )
            cells = [
                (d.subject, category, d.request_id)
                for d in later
                for category in ((d.category,) if d.category else CATEGORIES)
            ]
            objections = pa.table(
                {
                    "subject": [c[0] for c in cells],
                    "category": [c[1] for c in cells],
                    "request_id": [c[2] for c in cells],
                }
            )
            con = duckdb.connect()
            try:
                con.register("d", objections)
                hits = con.execute(
                    "SELECT count(DISTINCT d.subject), "
                    "list(DISTINCT d.request_id ORDER BY d.request_id) "
                    "FROM d SEMI JOIN (SELECT CAST(subject_id AS VARCHAR) AS subject, "
                    "CAST(category AS VARCHAR) AS category FROM read_parquet(?)) p "
                    "ON p.subject = d.subject AND p.category = d.category",
                    [str(data / "*.parquet")],
                ).fetchone()
            finally:
                con.close()
            if hits is not None and hits[0]:
                found.append(
                    AffectedManifest(
                        m.manifest_id,
                        m.purpose,
                        m.created_at,
                        m.out_dir,
                        m.merkle_root,
                        int(hits[0]),
                        list(hits[1]),
                    )
                )
        return found

    def prove_absence(self, out_dir: Path, item_id: str) -> dict[str, Any]:
        """A proof, against the run's manifest root, that ``item_id`` is not in its output.

        Reads, sorts and hashes every included id of the run (about as long as the
        gate's own Merkle phase): meant for one person's request at a time.
        """
        import duckdb

        from accord.jobs.engines.duckdb_engine import keyed_ids
        from accord.jobs.idsort import hash_rows, sort_ids
        from accord.jobs.merkle import BlockHasher, absence_proof, verify_absence

        manifest_path = Path(out_dir) / "manifest.json"
        if not manifest_path.exists():
            raise NotFound(f"{manifest_path} does not exist", out_dir=str(out_dir))
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        block_size = manifest.get("merkle", {}).get("block_size")
        if not isinstance(block_size, int):
            raise Conflict(
                f"{manifest_path} is a version {manifest.get('version')} manifest (one leaf "
                "per id); proofs are made for block manifests (version 2) only",
                out_dir=str(out_dir),
            )
        hasher = BlockHasher(block_size, keep_leaves=True)
        threads = os.cpu_count() or 1
        files = sorted((Path(out_dir) / "data").glob("*.parquet"))
        keyed = keyed_ids(files, threads)
        ids: Sequence[bytes]
        if keyed is not None:  # read and keyed row group by row group, hashed in two stages
            hash_rows(keyed, hasher, threads)
            ids = _KeyedIds(keyed)
        else:
            con = duckdb.connect()
            try:
                whole = sort_ids(
                    con.sql(
                        "SELECT CAST(item_id AS VARCHAR) AS id FROM read_parquet(?)",
                        params=[str(Path(out_dir) / "data" / "*.parquet")],
                    )
                    .to_arrow_table()
                    .column(0)
                )
            finally:
                con.close()
            hasher.add(whole)
            ids = _ArrowIds(whole)
        root = bytes.fromhex(manifest["merkle"]["root"])
        if hasher.root() != root:
            raise Conflict("the output does not match its manifest's Merkle root")
        assert hasher.leaves is not None
        try:
            proof = absence_proof(ids, item_id.encode(), block_size, leaf_digests=hasher.leaves)
        except ValueError as exc:
            raise Conflict(
                f"item {item_id!r} is in the output of this run", item_id=item_id
            ) from exc
        if not verify_absence(proof, root, int(manifest["merkle"]["tree_size"])):
            raise Conflict("the output does not match its manifest's Merkle root")
        return {"merkle_root": root.hex(), **proof.as_dict()}

    def purposes(self) -> list[dict[str, str]]:
        return [
            {"name": p.name, "basis": p.basis.value, "description": p.description}
            for p in PURPOSES.values()
        ]


def _entry(r: Any) -> Entry:
    return Entry(
        request_id=r.request_id,
        action=Action(r.action),
        purpose=r.purpose,
        category=r.category,
        recorded_at=parse_time(r.recorded_at),
        kind=r.kind,
        source=r.source,
    )


class _Ids(Sequence[bytes]):
    """Sorted ids as the bytes sequence that a proof reads: a bisect and two blocks, so
    each id is fetched when it is read."""

    def _item(self, index: int) -> bytes:
        raise NotImplementedError

    def _span(self, start: int, stop: int) -> list[bytes]:
        return [self._item(i) for i in range(start, stop)]

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return [self._item(i) for i in range(start, stop, step)]
            return self._span(start, max(start, stop))
        if not -n <= index < n:
            raise IndexError(index)
        return self._item(index % n)


class _KeyedIds(_Ids):
    """Keyed ids (:class:`accord.jobs.idsort.KeyedIds`), each rebuilt from its key."""

    def __init__(self, keyed: Any) -> None:
        self.keyed = keyed

    def __len__(self) -> int:
        return int(self.keyed.n)

    def _item(self, index: int) -> bytes:
        return bytes(self.keyed.rows(index, index + 1)[0])

    def _span(self, start: int, stop: int) -> list[bytes]:
        return [bytes(row) for row in self.keyed.rows(start, stop)]


class _ArrowIds(_Ids):
    """The ids of a sorted Arrow array."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def _item(self, index: int) -> bytes:
        value = self.array[index].as_py()
        return value.encode() if isinstance(value, str) else bytes(value)
