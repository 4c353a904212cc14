"""``/v1/rights/``: objections, consent, withdrawal, external signals, state, receipts, a form.

Each route is a few lines over :class:`accord.rights.service.RightsService`.
Who may speak for whom: an ``admin`` key names any subject; a ``user`` key
speaks only for the account it was issued for (``Principal.subject``), so a
person files an objection with their own key and cannot touch anyone else's.
The public objection form (``GET /v1/rights/object/form``) needs no key to be
shown; submitting it needs the person's ``user`` key (a form field or the
``Authorization`` header).
"""

from __future__ import annotations

import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from accord.api.deps import AccordDep, requires
from accord.errors import InvalidInput, PermissionDenied
from accord.keys.model import Role
from accord.keys.service import Principal
from accord.rights.model import CATEGORIES, PURPOSES
from accord.rights.signals import (
    Signal,
    parse_meta_tdm_reservation,
    parse_tdmrep_json,
    signals_from_headers,
)

router = APIRouter(tags=["rights"])

Reader = Annotated[Principal, Depends(requires("rights.read"))]
Writer = Annotated[Principal, Depends(requires("rights.write"))]

_SIGNAL_HEADERS = ("sec-gpc", "tdm-reservation", "content-usage", "x-robots-tag")


class ChoiceBody(BaseModel):
    subject: str | None = Field(
        default=None, description="The person's account id; a user key may omit it (its own)."
    )
    purpose: str = Field(description="A purpose of the vocabulary, e.g. train_ai_system.")
    category: str | None = Field(default=None, description="One data category; omitted: all.")


class TdmRepBody(BaseModel):
    document: Any = Field(description="The /.well-known/tdmrep.json document (JSON or its text).")
    path: str = Field(description="The path of the person's content on that origin.")
    url: str | None = Field(default=None, description="Where the document was read.")


class SignalsBody(BaseModel):
    subject: str | None = None
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Header fields seen on a request or response that describes the subject "
        "(Sec-GPC, tdm-reservation, Content-Usage, X-Robots-Tag).",
    )
    html: str | None = Field(default=None, description="A page whose <meta> tags to read.")
    tdmrep: TdmRepBody | None = None


def subject_for(principal: Principal, subject: str | None) -> str:
    """The subject a caller may act on: its own for a user key, any named one otherwise."""
    if principal.role is Role.USER:
        if principal.subject is None:
            raise PermissionDenied("this user key speaks for no account", role="user")
        if subject is not None and subject != principal.subject:
            raise PermissionDenied("a user key may act only for its own account", role="user")
        return principal.subject
    if not subject:
        raise InvalidInput("name the subject (the person's account id)")
    return subject


def _choice(accord: AccordDep, principal: Principal, body: ChoiceBody, what: str) -> dict[str, Any]:
    subject = subject_for(principal, body.subject)
    do = getattr(accord.rights, what)
    receipt = do(subject, body.purpose, body.category, actor=principal.actor, channel="api")
    result: dict[str, Any] = receipt.as_dict()
    return result


@router.post("/rights/object", status_code=201)
def object_(accord: AccordDep, principal: Writer, body: ChoiceBody) -> dict[str, Any]:
    """File a GDPR Art. 21 objection (opt-out); answered at once with a receipt."""
    return _choice(accord, principal, body, "object")


@router.post("/rights/consent", status_code=201)
def consent(accord: AccordDep, principal: Writer, body: ChoiceBody) -> dict[str, Any]:
    """Record an opt-in."""
    return _choice(accord, principal, body, "consent")


@router.post("/rights/withdraw", status_code=201)
def withdraw(accord: AccordDep, principal: Writer, body: ChoiceBody) -> dict[str, Any]:
    """Withdraw consent."""
    return _choice(accord, principal, body, "withdraw")


@router.post("/rights/signals", status_code=201)
def signals(
    accord: AccordDep, principal: Writer, body: SignalsBody, request: Request
) -> dict[str, Any]:
    """Record the signals found in the body's headers, page and TDMRep document, and in this
    request's own Sec-GPC / tdm-reservation / Content-Usage / X-Robots-Tag headers."""
    subject = subject_for(principal, body.subject)
    seen = {k: v for k, v in request.headers.items() if k.lower() in _SIGNAL_HEADERS}
    seen.update({k.lower(): v for k, v in body.headers.items()})
    found: list[Signal] = signals_from_headers(seen)
    if body.html is not None:
        meta = parse_meta_tdm_reservation(body.html)
        if meta is not None:
            found.append(meta)
    if body.tdmrep is not None:
        doc = body.tdmrep.document
        text = doc if isinstance(doc, str) else json.dumps(doc)
        rule = parse_tdmrep_json(
            text, path=body.tdmrep.path, source=body.tdmrep.url or "/.well-known/tdmrep.json"
        )
        if rule is not None:
            found.append(rule)
    receipts = [
        accord.rights.record_signal(subject, s, actor=principal.actor, channel="api").as_dict()
        for s in found
    ]
    return {"subject": subject, "recorded": receipts}


@router.get("/rights/state/{subject}")
def state(
    accord: AccordDep,
    principal: Reader,
    subject: str,
    as_of: Annotated[str | None, Query(description="RFC 3339 time; default now.")] = None,
) -> dict[str, Any]:
    """The subject's decision per (purpose, category) as of a time, with reasons and provenance."""
    result: dict[str, Any] = accord.rights.state(subject_for(principal, subject), as_of).as_dict()
    return result


@router.get("/rights/receipts/{request_id}")
def receipt(accord: AccordDep, principal: Reader, request_id: str) -> dict[str, Any]:
    """A request's receipt (request id, time, what it covers, the seq of its ledger event)."""
    found = accord.rights.receipt(request_id)
    subject_for(principal, found.subject)
    result: dict[str, Any] = found.as_dict()
    return result


@router.get("/rights/purposes")
def purposes(accord: AccordDep, _principal: Reader) -> dict[str, Any]:
    """The purpose vocabulary with each purpose's legal basis, and the data categories."""
    return {"purposes": accord.rights.purposes(), "categories": list(CATEGORIES)}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Object to the use of your data</title></head>
<body><main>
<h1>Object to the use of your data</h1>
{body}
</main></body></html>
"""


def _form() -> str:
    options = "".join(
        f'<option value="{html.escape(p.name)}">{html.escape(p.description)}</option>'
        for p in PURPOSES.values()
    )
    cats = '<option value="">every kind of data</option>' + "".join(
        f'<option value="{c}">{c.replace("_", " ")}</option>' for c in CATEGORIES
    )
    return (
        "<p>Under Article 21 GDPR you may object to processing based on legitimate interest. "
        "Your objection takes effect for every export made after it is recorded.</p>"
        '<form method="post" action="/v1/rights/object/form">'
        '<label>Your access key <input name="key" type="password" required></label><br>'
        f'<label>Purpose <select name="purpose">{options}</select></label><br>'
        f'<label>Data <select name="category">{cats}</select></label><br>'
        '<button type="submit">Object</button></form>'
    )


@router.get("/rights/object/form", response_class=HTMLResponse)
def form_page() -> HTMLResponse:
    """The public objection form (no key needed to see it)."""
    return HTMLResponse(_PAGE.format(body=_form()))


@router.post("/rights/object/form", response_class=HTMLResponse, status_code=201)
def form_submit(
    accord: AccordDep,
    request: Request,
    purpose: Annotated[str, Form()],
    key: Annotated[str | None, Form()] = None,
    category: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """File an objection from the form, with the person's own ``user`` key; shows the receipt."""
    header = request.headers.get("authorization", "")
    token = key or (header[7:] if header.lower().startswith("bearer ") else None)
    principal = accord.keys.authenticate(token)
    if principal.role is not Role.USER:
        raise PermissionDenied("the form files a person's own objection: use their user key")
    subject = subject_for(principal, None)
    r = accord.rights.object(
        subject, purpose, category or None, actor=principal.actor, channel="form"
    )
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in (
            ("request id", r.request_id),
            ("recorded at", r.recorded_at),
            ("purpose", purpose),
            ("data", category or "every kind of data"),
            ("ledger entry", r.ledger_seq),
        )
    )
    body = f"<p>Your objection is recorded.</p><table>{rows}</table>"
    return HTMLResponse(_PAGE.format(body=body), status_code=201)
