"""POST /m/lookup answered before Starlette's stack (accord.api.uploads.answer_upload)
answers exactly as the FastAPI route does: same bodies, statuses, errors and headers,
for the common form and for every odd or bad form, which FastAPI answers itself."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.api.uploads import one_file_part

B = "b0und4ry"
FORM = f"multipart/form-data; boundary={B}"
JPEG_PART = 'Content-Disposition: form-data; name="photo"; filename="a.jpg"'


def body(*parts: tuple[str, bytes], boundary: str = B, preamble: bytes = b"") -> bytes:
    """A multipart body of ``parts`` (header lines, data), closed by ``--B--`` and CRLF."""
    out = preamble
    for head, data in parts:
        out += f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@pytest.fixture
def image(make_image) -> bytes:
    return make_image(3)


@pytest.fixture
def clients(accord, image, reencode):
    """A client of the app as served, and one of the same app without the fast paths;
    TEST_BANK holds the picture that ``image`` is a re-encoded copy of."""
    fast_app = create_app(accord, start_matcher=False)
    slow_app = create_app(accord, start_matcher=False, fast_lookups=False)
    accord.banks.create_bank("TEST_BANK", actor="t")
    accord.banks.create_bank("OTHER_BANK", actor="t")
    with TestClient(fast_app) as fast, TestClient(slow_app) as slow:
        admin = {"Authorization": f"Bearer {accord.keys.create('admin')}"}
        banked = slow.post(
            "/c/bank/TEST_BANK/content", files={"photo": ("a.jpg", image)}, headers=admin
        )
        assert banked.status_code == 200, banked.text
        accord.matcher.catch_up()
        yield fast, slow


def assert_alike(a, b) -> None:
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")


def post_both(clients, url, content, content_type, headers):
    fast, slow = clients
    h = {**headers, "Content-Type": content_type}
    return fast.post(url, content=content, headers=h), slow.post(url, content=content, headers=h)


FORMS = {
    "plain": lambda img: body((JPEG_PART, img)),
    "with part type": lambda img: body((JPEG_PART + "\r\nContent-Type: image/jpeg", img)),
    "no closing CRLF": lambda img: body((JPEG_PART, img))[:-2],
    "lower-case header": lambda img: body((JPEG_PART.lower().replace("a.jpg", "A.jpg"), img)),
    "empty file": lambda img: body((JPEG_PART, b"")),
    "not an image": lambda img: body((JPEG_PART, b"not an image at all")),
    "truncated jpeg": lambda img: body((JPEG_PART, img[: len(img) // 3])),
    "a field, not a file": lambda img: body(('Content-Disposition: form-data; name="photo"', img)),
    "text file": lambda img: body(
        ('Content-Disposition: form-data; name="text"; filename="t"', b"hi")
    ),
    "unknown field": lambda img: body((JPEG_PART.replace("photo", "picture"), img)),
    "capitalised name": lambda img: body((JPEG_PART.replace("photo", "Photo"), img)),
    "metadata then photo": lambda img: body(
        ('Content-Disposition: form-data; name="metadata"', b"{}"), (JPEG_PART, img)
    ),
    "two files": lambda img: body((JPEG_PART, img), (JPEG_PART, img)),
    "preamble": lambda img: body((JPEG_PART, img), preamble=b"hello\r\n"),
    "base64 part": lambda img: body((JPEG_PART + "\r\nContent-Transfer-Encoding: base64", img)),
    "other part header": lambda img: body((JPEG_PART + "\r\nX-Odd: 1", img)),
    "filename*": lambda img: body(
        ("Content-Disposition: form-data; name=\"photo\"; filename*=UTF-8''a.jpg", img)
    ),
    "escaped filename": lambda img: body((JPEG_PART.replace("a.jpg", 'a\\".jpg'), img)),
    "delimiter inside": lambda img: body((JPEG_PART, img[:100] + f"\r\n--{B}\r\n".encode())),
    "no closing delimiter": lambda img: body((JPEG_PART, img))[: -len(f"--{B}--\r\n")],
    "no headers": lambda img: f"--{B}\r\n\r\n".encode() + img + f"\r\n--{B}--\r\n".encode(),
    "empty body": lambda img: b"",
}


# Starlette's parser leaves the file of a part that never ends unclosed (its SpooledTemporaryFile
# warns when collected); FastAPI's route answers that form, as it did before the fast path.
_LEAKS = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize(
    "form",
    [pytest.param(f, marks=_LEAKS) if f == "no closing delimiter" else f for f in sorted(FORMS)],
)
def test_every_form_is_answered_alike(clients, headers, image, form):
    a, b = post_both(
        clients,
        "/m/lookup",
        FORMS[form](image),
        FORM,
        headers["curator"],
    )
    assert_alike(a, b)
    if form in ("plain", "with part type", "no closing CRLF", "lower-case header"):
        assert a.status_code == 200
        assert a.json()["pdq"]["TEST_BANK"]
        assert a.content == b.content


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{B}"',
        f"multipart/form-data;boundary={B}",
        f"multipart/form-data; boundary={B}; charset=utf-8",
        f"Multipart/Form-Data; boundary={B}",
        "multipart/form-data",
        "multipart/form-data; boundary=other",
        "application/octet-stream",
        "image/jpeg",
    ],
)
def test_every_content_type_is_answered_alike(clients, headers, image, content_type):
    a, b = post_both(
        clients, "/m/lookup", body((JPEG_PART, image)), content_type, headers["curator"]
    )
    assert_alike(a, b)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?robust=false",
        "?robust=true",
        "?robust=0",
        "?robust=yes",  # FastAPI's route
        "?robust=maybe",  # 422 from FastAPI
        "?robust=",
        "?banks=TEST_BANK",
        "?banks=OTHER_BANK",
        "?banks=OTHER_BANK,TEST_BANK",
        "?banks=",
        "?banks=NO_SUCH_BANK",
        "?bypass_coinflip=1",
        "?bypass_coinflip=on",
        "?extra=1",
        "?url=http://127.0.0.1:9/x.jpg",
        "?robust=false&robust=true",
    ],
)
def test_parameters_are_answered_alike(clients, headers, image, query):
    a, b = post_both(
        clients,
        f"/m/lookup{query}",
        body((JPEG_PART, image)),
        FORM,
        headers["curator"],
    )
    assert_alike(a, b)


@pytest.mark.parametrize("query", ["", "?robust=false", "?robust=yes", "?extra=1"])
@pytest.mark.parametrize("role", ["hasher", "reporter", None, "bad"])
def test_keys_are_answered_alike(clients, api_keys, image, query, role):
    if role is None:
        h = {}
    elif role == "bad":
        h = {"Authorization": "Bearer acc_not_a_key"}
    else:
        h = {"Authorization": f"Bearer {api_keys[role]}"}
    a, b = post_both(
        clients,
        f"/m/lookup{query}",
        body((JPEG_PART, image)),
        FORM,
        h,
    )
    assert_alike(a, b)


@pytest.mark.parametrize(
    "authorization", ["bearer {key}", "Bearer  {key} ", "Basic {key}", "Bearer", "{key}"]
)
def test_the_key_is_read_as_http_bearer_does(clients, api_keys, image, authorization):
    h = {"Authorization": authorization.format(key=api_keys["curator"])}
    a, b = post_both(clients, "/m/lookup", body((JPEG_PART, image)), FORM, h)
    assert_alike(a, b)


def test_clients_multipart_encoders_take_the_fast_path(clients, headers, image, monkeypatch):
    """httpx's own encoding of ``files=`` is the common form: FastAPI's route is not used."""
    import accord.api.routers.hma as hma

    def not_here(*_args, **_kwargs):
        raise AssertionError("the upload went to FastAPI's route")

    monkeypatch.setattr(hma, "read_upload", not_here)
    fast, _ = clients
    found = fast.post("/m/lookup", files={"photo": ("b.jpg", image)}, headers=headers["curator"])
    assert found.status_code == 200
    assert found.json()["pdq"]["TEST_BANK"]
    plain = fast.post(
        "/m/lookup?robust=false&banks=TEST_BANK",
        files={"photo": ("b.jpg", image, "image/jpeg")},
        headers=headers["curator"],
    )
    assert plain.status_code == 200
    assert plain.json()["pdq"]["TEST_BANK"]


def test_a_failing_upload_is_matched_once(clients, headers, accord, monkeypatch):
    """A bad image's error is the route's, answered without asking FastAPI to match it again."""
    calls = []
    real = accord.lookups.match_content

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(accord.lookups, "match_content", counted)
    fast, slow = clients
    files = {"photo": ("a.jpg", b"not an image")}
    a = fast.post("/m/lookup", files=files, headers=headers["curator"])
    assert len(calls) == 1
    b = slow.post("/m/lookup", files=files, headers=headers["curator"])
    assert_alike(a, b)
    assert a.status_code == 400
    assert "image" in a.json()["message"]


@pytest.mark.parametrize("size", [999, 1000, 1001, 5000, 70_000])
def test_the_size_limit_is_answered_alike(clients, headers, accord, size):
    accord.settings.max_upload_bytes = 1000
    a, b = post_both(
        clients,
        "/m/lookup",
        body((JPEG_PART, b"\xff" * size)),
        FORM,
        headers["curator"],
    )
    assert_alike(a, b)
    assert a.status_code == (413 if size > 1000 else 400)


def test_a_chunked_body_is_answered_alike(clients, headers, image):
    """No Content-Length: FastAPI's route reads it."""
    fast, slow = clients
    data = body((JPEG_PART, image))
    h = {**headers["curator"], "Content-Type": FORM}
    a = fast.post("/m/lookup", content=iter([data[:1000], data[1000:]]), headers=h)
    b = slow.post("/m/lookup", content=iter([data[:1000], data[1000:]]), headers=h)
    assert_alike(a, b)
    assert a.status_code == 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (body((JPEG_PART, b"xy")), ("photo", b"xy")),
        (
            body(('Content-Disposition: form-data; name="video"; filename="v.mp4"', b"")),
            ("video", b""),
        ),
        (body((JPEG_PART, b"x\r\n--b0und4r")), ("photo", b"x\r\n--b0und4r")),
        (body((JPEG_PART, b"x\r\n--b0und4ry")), None),
        (body((JPEG_PART + "\r\nContent-Type: image/jpeg", b"\r\n")), ("photo", b"\r\n")),
        (body((JPEG_PART + "\r\n" + JPEG_PART, b"x")), None),
        (body(("Content-Type: image/jpeg", b"x")), None),
        (body((JPEG_PART.replace('"a.jpg"', '"a%22.jpg"'), b"x")), None),
        (body((JPEG_PART + "\r\nbroken header", b"x")), None),
        # no headers, and a data that looks like a part's headers
        (
            f"--{B}\r\n\r\n{JPEG_PART}\r\n\r\nx\r\n--{B}--\r\n".encode(),
            None,
        ),
    ],
)
def test_one_file_part(data, expected):
    found = one_file_part(data, B.encode())
    assert (found if found is None else (found[0].value, found[1])) == expected


def _sized(headers: dict[str, str], data: bytes) -> dict[str, str]:
    """``headers`` of a plain upload of ``data`` with its length declared."""
    return {**headers, "Content-Type": FORM, "Content-Length": str(len(data))}


def _asgi_post(app, headers: dict[str, str], messages: list[dict]) -> list[dict]:
    """``POST /m/lookup`` to the ASGI app with the body in ``messages``; what it sent."""
    import anyio

    sent: list[dict] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/m/lookup",
        "raw_path": b"/m/lookup",
        "root_path": "",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    queue = list(messages)

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return sent


def test_a_body_in_several_messages_is_read_whole(clients, headers, image, monkeypatch):
    import accord.api.routers.hma as hma

    fast, slow = clients
    data = body((JPEG_PART, image))
    h = _sized(headers["curator"], data)
    expected = slow.post("/m/lookup", content=data, headers=h)
    monkeypatch.setattr(hma, "read_upload", None)  # FastAPI's route would fail now
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]
    sent = _asgi_post(fast.app, h, messages)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == expected.content
    assert expected.json()["pdq"]["TEST_BANK"]


def test_a_client_gone_before_the_body_ends_gets_no_answer(clients, headers, image, accord):
    fast, _ = clients
    data = body((JPEG_PART, image))
    h = _sized(headers["curator"], data)
    messages = [
        {"type": "http.request", "body": data[:1000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert _asgi_post(fast.app, h, messages) == []
