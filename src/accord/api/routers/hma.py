"""HMA 1.x compatible routes: the paths, parameters and JSON shapes HMA clients use.

The lookup routes are ``async``: their work is a fast in-memory index query
(about 0.2 ms), cheaper than a hop to the thread pool; routes that fetch URLs
or write to the database stay synchronous and run in the pool.

Kept quirks (so clients keep working): ``distance`` is a string in lookups and
an integer in compare; bank names are ``UPPER_WITH_UNDERSCORES``; an existing
bank is ``403 "Bank already exists"``; a multipart field other than
``photo``/``video`` is ``400 no such content_type``. Deliberate differences,
documented in the README: every route needs an API key; ``?url=`` refuses
internal addresses; added hashes are matchable within a second.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from accord.api.deps import AccordDep, requires
from accord.api.uploads import guess_content_type, read_upload
from accord.errors import AlreadyExists, InvalidInput
from accord.keys.service import Principal
from accord.matching.lookup import ContentMatch
from accord.matching.matcher import LookupResult
from accord.matching.model import Bank
from accord.matching.service import ContentInput
from accord.runtime import Accord
from accord.signals.base import ContentType

router = APIRouter(tags=["HMA compatibility"])

Hasher = Annotated[Principal, Depends(requires("hash"))]
MatchCaller = Annotated[Principal, Depends(requires("match"))]
BankReader = Annotated[Principal, Depends(requires("banks.read"))]
BankWriter = Annotated[Principal, Depends(requires("banks.write"))]


def _banks(banks: str | None) -> list[str] | None:
    return [b.strip() for b in banks.split(",") if b.strip()] if banks else None


def _by_bank(result: LookupResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in result.matches:
        out.setdefault(m.bank, []).append(
            {"bank_content_id": m.content_id, "distance": _distance_str(m.distance)}
        )
    return out


def _distance_str(distance: float) -> str:
    return str(int(distance)) if float(distance).is_integer() else f"{distance:g}"


def _hma_bank(bank: Bank) -> dict[str, Any]:
    return {"matching_enabled_ratio": bank.matching_enabled_ratio, "name": bank.name}


# -- hashing ---------------------------------------------------------------------------


@router.get("/h/hash", summary="Hash the content at a URL")
def hash_url(
    accord: AccordDep,
    _: Hasher,
    url: str,
    content_type: str | None = None,
) -> dict[str, str]:
    ctype = guess_content_type(url, content_type)
    data = accord.lookups.fetch(url)
    return {h.signal_type: h.value for h in accord.lookups.hash(ctype, data)}


@router.post("/h/hash", summary="Hash uploaded content (multipart field photo or video)")
async def hash_upload(request: Request, accord: AccordDep, _: Hasher) -> dict[str, str]:
    ctype, data = await read_upload(request, accord)
    hashes = await run_in_threadpool(accord.lookups.hash, ctype, data)
    return {h.signal_type: h.value for h in hashes}


# -- matching --------------------------------------------------------------------------


@router.get("/m/lookup", summary="Look up a signal, or the content at a URL")
async def lookup_get(
    accord: AccordDep,
    _: MatchCaller,
    signal: str | None = None,
    signal_type: str | None = None,
    url: str | None = None,
    content_type: str | None = None,
    banks: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    if url:
        ctype = guess_content_type(url, content_type)

        def fetch_and_match() -> ContentMatch:
            return accord.lookups.match_content(
                ctype,
                accord.lookups.fetch(url),
                banks=_banks(banks),
                bypass_coinflip=bypass_coinflip,
            )

        outcome = await run_in_threadpool(fetch_and_match)
        return {t: _by_bank(r) for t, r in outcome.results.items()}
    if not signal or not signal_type:
        raise InvalidInput("Either url or both signal and signal_type are required")
    return lookup_answer(accord, signal_type, signal, banks, bypass_coinflip)


def lookup_answer(
    accord: Accord, signal_type: str, signal: str, banks: str | None, bypass_coinflip: bool
) -> dict[str, Any]:
    """The answer of ``GET /m/lookup?signal=`` (shared with :mod:`accord.api.fast`)."""
    result = accord.lookups.match_signal(
        signal_type,
        signal,
        banks=_banks(banks),
        bypass_coinflip=bypass_coinflip,
        with_labels=False,
    )
    return _by_bank(result)


@router.post("/m/lookup", summary="Look up uploaded content (multipart field photo or video)")
async def lookup_post(
    request: Request,
    accord: AccordDep,
    _: MatchCaller,
    banks: str | None = None,
    bypass_coinflip: bool = False,
    robust: Annotated[
        bool | None,
        Query(description="match photos by robust views (default: ACCORD_ROBUST_MATCHING)"),
    ] = None,
) -> dict[str, Any]:
    ctype, data = await read_upload(request, accord)
    outcome = await run_in_threadpool(
        lambda: accord.lookups.match_content(
            ctype, data, banks=_banks(banks), bypass_coinflip=bypass_coinflip, robust=robust
        )
    )
    return content_answer(outcome)


def content_answer(outcome: ContentMatch) -> dict[str, Any]:
    """The answer of ``POST /m/lookup``: matches by signal type, then by bank (shared
    with :func:`accord.api.uploads.answer_upload`)."""
    return {t: _by_bank(r) for t, r in outcome.results.items()}


@router.get("/m/raw_lookup", summary="Look up a signal; answer only content ids")
async def raw_lookup(
    accord: AccordDep,
    _: MatchCaller,
    signal: str,
    signal_type: str,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    return raw_lookup_answer(accord, signal_type, signal, include_distance)


def raw_lookup_answer(
    accord: Accord, signal_type: str, signal: str, include_distance: bool
) -> dict[str, list[Any]]:
    """The answer of ``GET /m/raw_lookup`` (shared with :mod:`accord.api.fast`)."""
    result = accord.lookups.match_signal(
        signal_type, signal, bypass_coinflip=True, with_labels=False
    )
    if include_distance:
        return {
            "matches": [
                {"bank_content_id": m.content_id, "distance": _distance_str(m.distance)}
                for m in result.matches
            ]
        }
    return {"matches": [m.content_id for m in result.matches]}


@router.post("/m/compare", summary="Compare pairs of signals with the reference comparison")
async def compare(
    accord: AccordDep,
    _: MatchCaller,
    body: Annotated[dict[str, list[str]], Body(examples=[{"pdq": ["<hex>", "<hex>"]}])],
) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, pair in body.items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidInput(f"{name}: give exactly two signals to compare")
        stype = accord.signals.get(name)
        a, b = (stype.validate(v) for v in pair)
        result = stype.compare(a, b)
        distance: Any = (
            int(result.distance) if float(result.distance).is_integer() else result.distance
        )
        out[name] = [result.match, {"distance": distance}]
    return out


@router.get("/m/index/status", summary="Size and freshness of each signal type's index")
async def index_status(
    accord: AccordDep, _: MatchCaller, signal_type: str | None = None
) -> dict[str, dict[str, Any]]:
    return {
        name: {"built_to": s.built_to, "present": s.present, "size": s.size}
        for name, s in accord.matcher.status(signal_type).items()
    }


@router.get("/c/signal_type/index", summary="Index state against the database, per type")
def signal_type_index(accord: AccordDep, _: BankReader) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "db_size": s.size,
            "index_built_to": s.built_to,
            "index_out_of_date": False,
            "index_size": s.size,
            "newest_db_item": s.built_to,
        }
        for name, s in accord.matcher.status().items()
    }


# -- curation --------------------------------------------------------------------------


@router.get("/c/banks", summary="List banks")
def list_banks(accord: AccordDep, _: BankReader) -> list[dict[str, Any]]:
    return [_hma_bank(b) for b in accord.banks.list_banks()]


@router.post("/c/banks", status_code=201, summary="Create a bank")
def create_bank(
    accord: AccordDep, principal: BankWriter, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidInput("a bank needs a name")
    ratio = body.get("enabled_ratio", body.get("matching_enabled_ratio"))
    if ratio is None and "enabled" in body:
        ratio = 1.0 if body["enabled"] else 0.0
    try:
        bank = accord.banks.create_bank(
            name,
            matching_enabled_ratio=1.0 if ratio is None else ratio,
            actor=principal.actor,
        )
    except AlreadyExists:
        return JSONResponse({"message": "Bank already exists"}, status_code=403)
    return JSONResponse(_hma_bank(bank), status_code=201)


@router.get("/c/bank/{bank_name}", summary="Show a bank")
def show_bank(bank_name: str, accord: AccordDep, _: BankReader) -> dict[str, Any]:
    return _hma_bank(accord.banks.get_bank(bank_name))


@router.put("/c/bank/{bank_name}", summary="Update a bank")
def update_bank(
    bank_name: str,
    accord: AccordDep,
    principal: BankWriter,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    ratio = body.get("enabled_ratio", body.get("matching_enabled_ratio"))
    if ratio is None and "enabled" in body:
        ratio = 1.0 if body["enabled"] else 0.0
    bank = accord.banks.update_bank(
        bank_name,
        matching_enabled_ratio=ratio,
        new_name=body.get("name"),
        actor=principal.actor,
    )
    return _hma_bank(bank)


@router.delete("/c/bank/{bank_name}", summary="Delete a bank and its content")
def delete_bank(bank_name: str, accord: AccordDep, principal: BankWriter) -> dict[str, str]:
    accord.banks.delete_bank(bank_name, actor=principal.actor)
    return {"message": "Done"}


@router.post(
    "/c/bank/{bank_name}/content", summary="Bank uploaded content, or the content at ?url="
)
async def add_content(
    bank_name: str,
    request: Request,
    accord: AccordDep,
    principal: BankWriter,
    url: str | None = None,
    content_type: str | None = None,
    metadata: Annotated[str | None, Query(description="JSON object kept with the content")] = None,
) -> dict[str, Any]:
    meta = _metadata(metadata)
    accord.banks.get_bank(bank_name)  # unknown bank: 404 before any work
    if url:
        ctype: ContentType = guess_content_type(url, content_type)
        data = await run_in_threadpool(accord.lookups.fetch, url)
        source = f"url:{url}"
    else:
        ctype, data = await read_upload(request, accord)
        source = f"upload:{ctype.value}"
    hashed, points = await run_in_threadpool(accord.lookups.hash_to_bank, ctype, data)
    if not hashed:
        raise InvalidInput(
            f"the content's hashes are all below the minimum quality "
            f"{accord.settings.pdq_min_quality}; nothing was banked"
        )
    labels = meta.pop("labels", None)
    content = accord.banks.add_hashed(
        bank_name,
        hashed,
        labels=labels,
        metadata=meta,
        source=source,
        actor=principal.actor,
        keypoints=points,
    )
    return {"id": content.id, "signals": content.signals}


@router.post("/c/bank/{bank_name}/signal", summary="Bank signals given as {type: value}")
def add_signal(
    bank_name: str,
    accord: AccordDep,
    principal: BankWriter,
    body: Annotated[dict[str, Any], Body(examples=[{"pdq": "<hex>", "note": "optional"}])],
) -> dict[str, Any]:
    note = body.get("note")
    labels = body.get("labels")
    signals = {k: v for k, v in body.items() if k not in ("note", "labels", "metadata")}
    for name, value in signals.items():
        if not isinstance(value, str):
            raise InvalidInput(f"Invalid {name} signal: expected a string")
        try:
            signals[name] = accord.signals.validate(name, value)
        except InvalidInput as exc:
            if name in accord.signals:
                raise InvalidInput(f"Invalid {name} signal: {exc.message}") from None
            raise
    content = accord.banks.add_content(
        bank_name,
        ContentInput(signals=signals, labels=labels, note=note),
        source="api:signal",
        actor=principal.actor,
    )
    return {"id": content.id, "signals": content.signals}


@router.get("/c/bank/{bank_name}/content/{content_id}", summary="Show banked content")
def get_content(
    bank_name: str, content_id: int, accord: AccordDep, _: BankReader
) -> dict[str, Any]:
    c = accord.banks.get_content(bank_name, content_id)
    return {
        "id": c.id,
        "bank": c.bank,
        "signals": c.signals,
        "enabled": c.enabled,
        "labels": c.labels,
        "metadata": c.metadata,
    }


@router.delete("/c/bank/{bank_name}/content/{content_id}", summary="Remove banked content")
def remove_content(
    bank_name: str, content_id: int, accord: AccordDep, principal: BankWriter
) -> dict[str, str]:
    accord.banks.remove_content(bank_name, content_id, actor=principal.actor)
    return {"message": "Done"}


def _metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"metadata is not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object")
    return value
