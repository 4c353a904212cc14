"""URL fetching refuses internal addresses unless allow-listed, and re-checks every redirect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accord.errors import FetchRefused, MediaTooLarge
from accord.fetch import FetchPolicy, fetch


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1]
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        body = b"x" * (5000 if self.path == "/big" else 10)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_internal_addresses_are_refused(url):
    with pytest.raises(FetchRefused, match="internal address"):
        fetch(url, FetchPolicy(max_bytes=1000, timeout=2))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "http://user:pw@example.org/"]
)
def test_other_schemes_and_credentials_are_refused(url):
    with pytest.raises(FetchRefused):
        fetch(url, FetchPolicy(max_bytes=1000, timeout=2))


def test_allow_listed_hosts_are_fetched_within_limits(server):
    policy = FetchPolicy(max_bytes=1000, timeout=5, allow=("127.0.0.1/32",))
    assert fetch(server + "/small", policy) == b"x" * 10
    with pytest.raises(MediaTooLarge):
        fetch(server + "/big", policy)


def test_a_redirect_into_a_refused_address_is_refused(server):
    policy = FetchPolicy(max_bytes=1000, timeout=5, allow=("127.0.0.1/32",))
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.2"):
        fetch(f"{server}/redirect?to=http://127.0.0.2:{port}/small", policy)
    assert fetch(f"{server}/redirect?to={server}/small", policy) == b"x" * 10
