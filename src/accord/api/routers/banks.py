"""accord's own bank and matching routes under /v1: labels, provenance, negative banks, bulk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accord.api.deps import AccordDep, requires
from accord.api.uploads import guess_content_type, read_upload
from accord.errors import InvalidInput
from accord.keys.service import Principal
from accord.matching.model import BankKind
from accord.matching.service import ContentInput
from accord.store.bulk import paused_gc

router = APIRouter(tags=["banks and matching"])

Hasher = Annotated[Principal, Depends(requires("hash"))]
MatchCaller = Annotated[Principal, Depends(requires("match"))]
BankReader = Annotated[Principal, Depends(requires("banks.read"))]
BankWriter = Annotated[Principal, Depends(requires("banks.write"))]

MAX_BULK = 100_000


class _Out(BaseModel):
    """Answers read straight from the service's values (dataclasses) by attribute."""

    model_config = ConfigDict(from_attributes=True)


class BankIn(BaseModel):
    name: str = Field(description="UPPER_WITH_UNDERSCORES")
    kind: BankKind = Field(BankKind.POSITIVE, description="negative banks silence matches")
    description: str = ""
    enabled: bool = True
    matching_enabled_ratio: float = Field(1.0, ge=0, le=1)
    thresholds: dict[str, float] = Field(default_factory=dict, description="per signal type")


class BankPatch(BaseModel):
    enabled: bool | None = None
    matching_enabled_ratio: float | None = Field(None, ge=0, le=1)
    description: str | None = None
    thresholds: dict[str, float] | None = None


class BankOut(_Out):
    name: str
    kind: BankKind
    enabled: bool
    matching_enabled_ratio: float
    description: str
    thresholds: dict[str, float]
    created_at: str
    updated_at: str


class ContentIn(BaseModel):
    signals: dict[str, str] = Field(description="signal type -> value, e.g. {'pdq': '…'}")
    labels: dict[str, list[str] | str] | None = Field(
        None, description="entity, ideology, behaviour, content_type, tags"
    )
    note: str | None = None
    external_id: str | None = Field(None, description="the item's id where it came from")
    metadata: dict[str, Any] = Field(default_factory=dict)


class BulkIn(BaseModel):
    items: list[ContentIn] = Field(max_length=MAX_BULK)
    source: str = Field("api:bulk", description="where these came from (provenance)")


class BulkColumnsIn(BaseModel):
    """The column form of a bulk import: one item a hash, all of one signal type."""

    signal_type: str = Field(description="the type of every hash, e.g. 'pdq'")
    hashes: list[str] = Field(max_length=MAX_BULK, description="one item a hash")
    external_ids: list[str | None] | None = Field(
        None, description="the items' ids where they came from, one a hash, in order"
    )
    source: str = Field("api:bulk", description="where these came from (provenance)")


_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        model.model_json_schema(ref_template="#/components/schemas/{model}")
                        for model in (BulkIn, BulkColumnsIn)
                    ]
                }
            },
            "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/ContentIn"}},
        },
    }
}


@dataclass(frozen=True, slots=True)
class _Columns:
    """A bulk body read as one column of values of one signal type."""

    signal_type: str
    values: list[str]
    external_ids: list[str | None] | None
    source: str


class ContentOut(_Out):
    id: int
    bank: str
    signals: dict[str, str]
    labels: dict[str, list[str]]
    enabled: bool
    source: str
    added_by: str
    added_at: str
    note: str | None
    external_id: str | None
    metadata: dict[str, Any]


class ContentPatch(BaseModel):
    enabled: bool | None = None
    labels: dict[str, list[str] | str] | None = None


class MatchOut(_Out):
    bank: str
    content_id: int
    signal_type: str
    distance: float
    labels: dict[str, list[str]]
    detail: dict[str, float]


class ResultOut(_Out):
    matches: list[MatchOut]
    suppressed_by: list[MatchOut] = Field(
        default_factory=list, description="negative-bank matches that silenced this signal"
    )


class HashOut(_Out):
    signal_type: str
    value: str
    quality: int | None


class ContentMatchOut(_Out):
    content_type: str
    hashes: list[HashOut]
    results: dict[str, ResultOut]
    skipped: dict[str, str]
    matched: bool
    reports: list[int] = Field(
        default_factory=list,
        description="automated reports filed (when subject_id was given and something matched)",
    )


class SignalQuery(BaseModel):
    signal_type: str
    value: str


class SignalsIn(BaseModel):
    signals: list[SignalQuery] = Field(max_length=10_000)
    banks: list[str] | None = None
    bypass_coinflip: bool = False


def _input(item: ContentIn) -> ContentInput:
    return ContentInput(
        signals=item.signals,
        labels=item.labels,
        note=item.note,
        external_id=item.external_id,
        metadata=item.metadata,
    )


@router.get("/banks", response_model=list[BankOut], summary="List banks")
def list_banks(accord: AccordDep, _: BankReader) -> list[BankOut]:
    return [BankOut.model_validate(b) for b in accord.banks.list_banks()]


@router.post("/banks", response_model=BankOut, status_code=201, summary="Create a bank")
def create_bank(body: BankIn, accord: AccordDep, principal: BankWriter) -> BankOut:
    bank = accord.banks.create_bank(
        body.name,
        kind=body.kind,
        description=body.description,
        enabled=body.enabled,
        matching_enabled_ratio=body.matching_enabled_ratio,
        thresholds=body.thresholds,
        actor=principal.actor,
    )
    return BankOut.model_validate(bank)


@router.get("/banks/{name}", response_model=BankOut, summary="Show a bank")
def show_bank(name: str, accord: AccordDep, _: BankReader) -> BankOut:
    return BankOut.model_validate(accord.banks.get_bank(name))


@router.patch("/banks/{name}", response_model=BankOut, summary="Update a bank")
def update_bank(name: str, body: BankPatch, accord: AccordDep, principal: BankWriter) -> BankOut:
    return BankOut.model_validate(
        accord.banks.update_bank(
            name,
            enabled=body.enabled,
            matching_enabled_ratio=body.matching_enabled_ratio,
            description=body.description,
            thresholds=body.thresholds,
            actor=principal.actor,
        )
    )


@router.delete("/banks/{name}", status_code=204, summary="Delete a bank and its content")
def delete_bank(name: str, accord: AccordDep, principal: BankWriter) -> None:
    accord.banks.delete_bank(name, actor=principal.actor)


@router.get("/banks/{name}/content", response_model=list[ContentOut], summary="List content")
def list_content(
    name: str, accord: AccordDep, _: BankReader, after: int = 0, limit: int = 100
) -> list[ContentOut]:
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000")
    out: list[ContentOut] = []
    for c in accord.banks.iter_content(name, batch=limit):
        if c.id <= after:
            continue
        out.append(ContentOut.model_validate(c))
        if len(out) >= limit:
            break
    return out


@router.post(
    "/banks/{name}/content", response_model=ContentOut, status_code=201, summary="Bank one item"
)
def add_content(name: str, body: ContentIn, accord: AccordDep, principal: BankWriter) -> ContentOut:
    return ContentOut.model_validate(
        accord.banks.add_content(name, _input(body), source="api", actor=principal.actor)
    )


@router.post(
    "/banks/{name}/content/bulk",
    status_code=201,
    summary="Bank many items at once",
    openapi_extra=_BULK_BODY,
)
async def add_bulk(
    name: str, request: Request, accord: AccordDep, principal: BankWriter
) -> dict[str, Any]:
    """JSON ``{"items": [...], "source": "..."}``, the column form ``{"signal_type": "pdq",
    "hashes": [...], "external_ids": [...], "source": "..."}`` (one item a hash; the ids
    optional), or JSON Lines (``application/x-ndjson``), up to 100,000 items a request;
    all are validated before any is stored, and one bad item refuses the request,
    named by its position (counting from 0)."""
    raw = await request.body()
    ndjson = request.headers.get("content-type", "").startswith("application/x-ndjson")
    source = request.headers.get("x-accord-source", "api:bulk")

    def parse_and_bank() -> list[int]:
        with paused_gc():
            parsed = _parse_ndjson(raw, source) if ndjson else _parse_bulk(raw)
            if isinstance(parsed, _Columns):
                return accord.banks.add_column(
                    name,
                    parsed.signal_type,
                    parsed.values,
                    external_ids=parsed.external_ids,
                    source=parsed.source,
                    actor=principal.actor,
                )
            items, bulk_source = parsed
            return accord.banks.add_many(name, items, source=bulk_source, actor=principal.actor)

    # Parsing and writing 10,000 items takes a while: in the pool, not on the event loop.
    ids = await run_in_threadpool(parse_and_bank)
    return {
        "count": len(ids),
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    }


def _parse_ndjson(raw: bytes, source: str) -> tuple[list[ContentInput], str]:
    items = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(ContentIn.model_validate_json(line))
        except ValueError as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
    if len(items) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} items a request")
    return [_input(i) for i in BulkIn(items=items, source=source).items], source


def _parse_bulk(raw: bytes) -> tuple[list[ContentInput], str] | _Columns:
    """A JSON bulk body as items to bank, or as one column of values.

    The column form is read by ``json.loads`` and checked by :class:`BulkColumnsIn`'s
    rules by hand (its values are validated by the signal type, all at once). The
    common row shape, items of only ``{"signals": {type: "value"}}``, is read by
    ``json.loads`` and a type check of each item (about 3x faster than pydantic
    models of 10,000 items), into a column when every item has one signal of one
    type; any other body is validated by :class:`BulkIn`, so its answers and error
    messages are pydantic's."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"invalid bulk body: {exc}") from None
    if isinstance(body, dict) and "hashes" in body:
        return _columns(body)
    column = _plain_column(body)
    if column is not None:
        return column
    fast = _plain_items(body)
    if fast is not None:
        return fast, body.get("source", "api:bulk")
    try:
        bulk = BulkIn.model_validate(body)
    except ValueError as exc:
        raise InvalidInput(f"invalid bulk body: {exc}") from None
    return [_input(i) for i in bulk.items], bulk.source


def _columns(body: dict[str, Any]) -> _Columns:
    """The column form, checked as :class:`BulkColumnsIn` would (its values by type later)."""
    if type(body.get("hashes")) is not list or type(body.get("signal_type")) is not str:
        try:
            BulkColumnsIn.model_validate(body)
        except ValueError as exc:
            raise InvalidInput(f"invalid bulk body: {exc}") from None
    hashes: list[Any] = body["hashes"]
    external_ids = body.get("external_ids")
    source = body.get("source", "api:bulk")
    extra = body.keys() - BulkColumnsIn.model_fields.keys()
    if extra:
        raise InvalidInput(f"invalid bulk body: unknown fields {sorted(extra)} in the column form")
    if len(hashes) > MAX_BULK:
        raise InvalidInput(f"invalid bulk body: at most {MAX_BULK} hashes a request")
    if not isinstance(source, str):
        raise InvalidInput("invalid bulk body: source must be a string")
    if external_ids is not None and (
        type(external_ids) is not list or not set(map(type, external_ids)) <= {str, type(None)}
    ):
        raise InvalidInput("invalid bulk body: external_ids must be a list of strings or null")
    return _Columns(body["signal_type"], hashes, external_ids, source)


def _plain_column(body: Any) -> _Columns | None:
    """A row body whose items are each ``{"signals": {type: "value"}}`` of one type, as a
    column (None for any other body)."""
    if not isinstance(body, dict) or not body.keys() <= {"items", "source"}:
        return None
    items = body.get("items")
    source = body.get("source", "api:bulk")
    if not isinstance(items, list) or not items or len(items) > MAX_BULK:
        return None
    if not isinstance(source, str):
        return None
    first = items[0]
    if type(first) is not dict or type(first.get("signals")) is not dict:
        return None
    if len(first["signals"]) != 1:
        return None
    (stype,) = first["signals"]
    values: list[str] = []
    append = values.append
    for item in items:
        if type(item) is not dict or len(item) != 1:
            return None
        signals = item.get("signals")
        if type(signals) is not dict or len(signals) != 1:
            return None
        value = signals.get(stype)
        if type(value) is not str:
            return None
        append(value)
    return _Columns(stype, values, None, source)


def _plain_items(body: Any) -> list[ContentInput] | None:
    """Items of a body of only plain signals, or None when the body needs full validation."""
    if not isinstance(body, dict) or not body.keys() <= {"items", "source"}:
        return None
    items = body.get("items")
    source = body.get("source", "api:bulk")
    if not isinstance(items, list) or len(items) > MAX_BULK or not isinstance(source, str):
        return None
    out = []
    for item in items:
        if type(item) is not dict or len(item) != 1:
            return None
        signals = item.get("signals")
        if type(signals) is not dict or not set(map(type, signals.values())) <= {str}:
            return None
        out.append(ContentInput(signals=signals))
    return out


@router.post(
    "/banks/{name}/media",
    response_model=ContentOut,
    status_code=201,
    summary="Bank uploaded media (multipart photo/video/text/url; labels as JSON field)",
)
async def add_media(
    name: str, request: Request, accord: AccordDep, principal: BankWriter, url: str | None = None
) -> ContentOut:
    accord.banks.get_bank(name)
    labels: Any = None
    note = None
    if url:
        ctype = guess_content_type(url, request.query_params.get("content_type"))
        data = await run_in_threadpool(accord.lookups.fetch, url)
        source = f"url:{url}"
    else:
        form = await request.form()
        raw_labels = form.get("labels")
        note_value = form.get("note")
        note = note_value if isinstance(note_value, str) else None
        if isinstance(raw_labels, str) and raw_labels:
            try:
                labels = json.loads(raw_labels)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"labels is not JSON: {exc.msg}") from None
        ctype, data = await read_upload(request, accord)
        source = f"upload:{ctype.value}"
    hashed, points = await run_in_threadpool(accord.lookups.hash_to_bank, ctype, data)
    if not hashed:
        raise InvalidInput("every hash of this content is below the minimum quality")
    return ContentOut.model_validate(
        accord.banks.add_hashed(
            name,
            hashed,
            labels=labels,
            note=note,
            source=source,
            actor=principal.actor,
            keypoints=points,
        )
    )


@router.get("/banks/{name}/content/{content_id}", response_model=ContentOut)
def get_content(name: str, content_id: int, accord: AccordDep, _: BankReader) -> ContentOut:
    return ContentOut.model_validate(accord.banks.get_content(name, content_id))


@router.patch("/banks/{name}/content/{content_id}", response_model=ContentOut)
def patch_content(
    name: str, content_id: int, body: ContentPatch, accord: AccordDep, principal: BankWriter
) -> ContentOut:
    content = accord.banks.get_content(name, content_id)
    if body.labels is not None:
        content = accord.banks.update_labels(name, content_id, body.labels, actor=principal.actor)
    if body.enabled is not None:
        content = accord.banks.set_content_enabled(
            name, content_id, body.enabled, actor=principal.actor
        )
    return ContentOut.model_validate(content)


@router.delete("/banks/{name}/content/{content_id}", status_code=204)
def delete_content(name: str, content_id: int, accord: AccordDep, principal: BankWriter) -> None:
    accord.banks.remove_content(name, content_id, actor=principal.actor)


@router.post("/hash", response_model=list[HashOut], summary="Hash uploaded media or ?url=")
async def hash_media(
    request: Request, accord: AccordDep, _: Hasher, url: str | None = None
) -> list[HashOut]:
    if url:
        ctype = guess_content_type(url, request.query_params.get("content_type"))
        data = await run_in_threadpool(accord.lookups.fetch, url)
    else:
        ctype, data = await read_upload(request, accord)
    return [
        HashOut.model_validate(h) for h in await run_in_threadpool(accord.lookups.hash, ctype, data)
    ]


@router.post("/match", response_model=ContentMatchOut, summary="Hash and match media or ?url=")
async def match_media(
    request: Request,
    accord: AccordDep,
    _: MatchCaller,
    url: str | None = None,
    banks: str | None = None,
    subject_id: str | None = None,
    subject_type: str = "content",
    account: str | None = None,
    reach: int = 0,
    robust: bool | None = None,
) -> ContentMatchOut:
    """Name the platform's ``subject_id`` (and the uploading ``account``) to have every
    matching bank file an automated report for review."""
    if url:
        ctype = guess_content_type(url, request.query_params.get("content_type"))
        data = await run_in_threadpool(accord.lookups.fetch, url)
    else:
        ctype, data = await read_upload(request, accord)
    bank_list = [b for b in banks.split(",") if b] if banks else None
    outcome = await run_in_threadpool(
        lambda: accord.lookups.match_content(ctype, data, banks=bank_list, robust=robust)
    )
    out = ContentMatchOut.model_validate(outcome)
    if subject_id and outcome.matched:
        from accord.moderation.automation import Subject, report_content_match

        receipts = report_content_match(
            accord.moderation,
            outcome,
            Subject(subject_id=subject_id, subject_type=subject_type, account=account, reach=reach),
        )
        out.reports = [r.report_id for r in receipts]
    return out


@router.post("/match/signals", response_model=list[ResultOut], summary="Match many signals")
def match_signals(body: SignalsIn, accord: AccordDep, _: MatchCaller) -> list[ResultOut]:
    return [
        ResultOut.model_validate(
            accord.lookups.match_signal(
                q.signal_type, q.value, banks=body.banks, bypass_coinflip=body.bypass_coinflip
            )
        )
        for q in body.signals
    ]
