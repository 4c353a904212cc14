"""``/v1/ledger``: the signed checkpoint, entries, proofs, receipts and witness cosignatures.

Each route is a few lines over :class:`accord.ledger.service.LedgerService`.
Reading needs an auditor key (``ledger.read``) unless ``ACCORD_LEDGER_PUBLIC``
is true, in which case the checkpoint and the proofs are served to anyone
(entries and receipts still need a key: the log is pseudonymised, but its
contents are the platform's to publish). A receipt is also served to the
person it concerns: a key whose ``subject`` pseudonymises to an identifier
that appears in the event. Proof hashes are base64, in RFC 9162 order.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from accord.api.deps import AccordDep, PrincipalDep, requires
from accord.errors import PermissionDenied
from accord.keys.model import permits
from accord.keys.service import Principal
from accord.ledger.service import MAX_PAGE

router = APIRouter(tags=["ledger"])

_bearer = HTTPBearer(auto_error=False, description="An auditor key, unless the ledger is public.")
_NOTE = "text/plain; charset=utf-8"


def public_or_auditor(
    accord: AccordDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """No key needed when ``ACCORD_LEDGER_PUBLIC`` is set; otherwise ``ledger.read``."""
    if accord.settings.ledger_public:
        return None
    principal = accord.keys.authenticate(credentials.credentials if credentials else None)
    principal.require("ledger.read")
    return principal


PublicOrAuditor = Annotated[Principal | None, Depends(public_or_auditor)]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get("/ledger/checkpoint", response_class=PlainTextResponse)
def checkpoint(accord: AccordDep, _reader: PublicOrAuditor) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP note), with witnesses' cosignature lines."""
    return PlainTextResponse(accord.ledger_service.latest_checkpoint().text(), media_type=_NOTE)


@router.get("/ledger/entries")
def entries(
    accord: AccordDep,
    _auditor: Annotated[Principal, Depends(requires("ledger.read"))],
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Leaves ``start <= seq < end`` as JSON Lines: each line a leaf's exact canonical bytes.

    At most 1000 per page; the next page starts at the last ``seq`` + 1.
    """
    events = accord.ledger_service.entries(start, end)
    body = b"".join(e.body + b"\n" for e in events)
    return Response(body, media_type="application/jsonl", headers={"X-Page-Limit": str(MAX_PAGE)})


@router.get("/ledger/proofs/inclusion")
def inclusion_proof(
    accord: AccordDep,
    _reader: PublicOrAuditor,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1, description="Default: the latest checkpoint.")] = None,
) -> dict[str, Any]:
    svc = accord.ledger_service
    tree_size = size if size is not None else svc.latest_checkpoint().size
    proof = svc.inclusion_proof(index, tree_size)
    return {"index": index, "size": tree_size, "inclusion_proof": _b64(proof)}


@router.get("/ledger/proofs/consistency")
def consistency_proof(
    accord: AccordDep,
    _reader: PublicOrAuditor,
    old: Annotated[int, Query(alias="from", ge=0)],
    new: Annotated[int | None, Query(alias="to", ge=0)] = None,
) -> dict[str, Any]:
    svc = accord.ledger_service
    to = new if new is not None else svc.latest_checkpoint().size
    return {"from": old, "to": to, "consistency_proof": _b64(svc.consistency_proof(old, to))}


@router.get("/ledger/receipts/{event}")
def receipt(accord: AccordDep, principal: PrincipalDep, event: int) -> dict[str, Any]:
    """An event, its inclusion proof and the checkpoint: for auditors, and for the person
    whose pseudonymised identifier is in the event."""
    if not permits(principal.role, "ledger.read"):
        found = accord.ledger.entries(event, event + 1) if event >= 0 else []
        mine = (
            bool(found)
            and principal.subject is not None
            and (f'"{accord.pseudonymizer(principal.subject)}"'.encode() in found[0].body)
        )
        if found and not mine:
            raise PermissionDenied(
                "a receipt is served to auditors and to the person the event concerns",
                event=event,
            )
    found_receipt = accord.ledger_service.receipt(event)
    return found_receipt.to_json()


@router.post("/ledger/checkpoints", response_class=PlainTextResponse)
def issue_checkpoint(
    accord: AccordDep, _admin: Annotated[Principal, Depends(requires("ledger.checkpoint"))]
) -> PlainTextResponse:
    """Sign a checkpoint of the current tree now (admin)."""
    return PlainTextResponse(accord.ledger_service.issue_checkpoint().text(), media_type=_NOTE)


class CosignatureIn(BaseModel):
    note: str = Field(description="A checkpoint of this log with the witness's line added.")
    witness_key: str = Field(description="The witness's verifier key (type 0x04).")


@router.post("/ledger/cosignatures", response_class=PlainTextResponse)
def add_cosignature(
    accord: AccordDep,
    body: CosignatureIn,
    _auditor: Annotated[Principal, Depends(requires("ledger.cosign"))],
) -> PlainTextResponse:
    """Store a witness cosignature; answers the checkpoint with every cosignature line."""
    stored = accord.ledger_service.add_cosignature(body.note, body.witness_key)
    return PlainTextResponse(stored.text(), media_type=_NOTE)
