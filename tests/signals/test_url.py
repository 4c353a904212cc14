"""URL canonicalisation: each spelling of one address gives one string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidSignal
from accord.signals import UrlSignal, canonicalize_url

TABLE = [
    ("HTTP://Example.COM/", "http://example.com/"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com/a#section", "http://example.com/a"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/../../a", "http://example.com/a"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com/%7Euser/%41%62", "http://example.com/~user/Ab"),
    ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
    ("http://example.com/50%", "http://example.com/50%25"),
    ("http://example.com/?b=2&a=1", "http://example.com/?a=1&b=2"),
    (
        "http://example.com/?a=1&utm_source=x&utm_Medium=y&fbclid=z&gclid=w",
        "http://example.com/?a=1",
    ),
    ("http://example.com/?utm_source=x", "http://example.com/"),
    ("http://example.com/?q=a+b", "http://example.com/?q=a%20b"),
    ("http://example.com/?q=a%2Bb", "http://example.com/?q=a%2Bb"),
    ("http://example.com/?q=%7e", "http://example.com/?q=~"),
    ("http://user:pass@example.com/", "http://example.com/"),
    ("http://example.com./", "http://example.com/"),
    ("http://b\u00fccher.de/", "http://xn--bcher-kva.de/"),
    ("http://B\u00dcCHER.de/", "http://xn--bcher-kva.de/"),
    ("http://[2001:DB8::0001]:80/", "http://[2001:db8::1]/"),
    ("http://192.168.0.1:8080/x", "http://192.168.0.1:8080/x"),
    ("  https://example.com/x  ", "https://example.com/x"),
]


@pytest.mark.parametrize(("raw", "canonical"), TABLE)
def test_canonical_form(raw: str, canonical: str) -> None:
    assert canonicalize_url(raw) == canonical
    assert canonicalize_url(canonical) == canonical


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("ftp://example.com/", "not an http or https URL"),
        ("mailto:a@example.com", "not an http or https URL"),
        ("example.com/page", "not an http or https URL"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "invalid host label"),
        ("http://example.com:70000/", "cannot be parsed"),
        ("http://example.com/\nx", "control characters"),
        ("http://[zz::1]/", "IPv6"),
    ],
)
def test_refused(raw: str, why: str) -> None:
    with pytest.raises(InvalidSignal, match=why):
        canonicalize_url(raw)


def test_hash_url_and_compare() -> None:
    signal = UrlSignal()
    a = signal.hash_url("HTTPS://Example.com/a?utm_source=t").value
    b = signal.validate("https://example.com/a")
    assert a == b
    assert signal.compare(a, b).match
    assert not signal.compare(a, signal.validate("https://example.com/b")).match


PIECES = st.sampled_from(
    [
        "a",
        "B",
        ".",
        "..",
        "%7e",
        "%2F",
        "%41",
        "%",
        "~",
        " ",
        "é",
        "?",
        "&",
        "=",
        "+",
        "#",
        "@",
        ":",
        "utm_x",
        "fbclid",
        "//",
        "%zz",
        "[",
        "]",
        "\\",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "HTTPS", "ftp", ""]),
    host=st.sampled_from(
        ["example.com", "EXAMPLE.com.", "bücher.de", "[::1]", "1.2.3.4", "", "a_b"]
    ),
    port=st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    rest=st.lists(PIECES, max_size=12).map("".join),
)
def test_canonical_form_is_a_fixed_point(scheme: str, host: str, port: str, rest: str) -> None:
    raw = f"{scheme}://{host}{port}/{rest}"
    try:
        canonical = canonicalize_url(raw)
    except InvalidSignal:
        return
    assert canonicalize_url(canonical) == canonical
    assert canonical.startswith(("http://", "https://"))
    assert "#" not in canonical
