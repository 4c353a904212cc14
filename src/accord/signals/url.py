"""``url``: links to known terrorist content, matched after canonicalisation.

Data flow: a URL string → :func:`canonicalize_url` → one canonical string,
which is both the signal and its own hash. Two spellings of one resource
(``HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#top`` and
``http://example.com/a/c?a=1&b=2``) become the same string, so comparison is
equality and the index a dictionary.

Canonical form (each step undoes one way of writing the same address):
scheme and host lowercased; host IDNA-encoded (``xn--``), trailing dot
dropped; user information dropped; the default port (80 for http, 443 for
https) dropped; fragment dropped; dot segments resolved (RFC 3986 §5.2.4);
percent-encoding normalised (unreserved characters decoded, other escapes in
upper case, characters that must be escaped are escaped as UTF-8); tracking
parameters (``utm_*``, ``fbclid``, ``gclid``) dropped, the remaining query
parameters sorted, ``+`` read as a space; an empty path becomes ``/``.
Only ``http`` and ``https`` URLs with a host are accepted.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from accord.errors import InvalidSignal
from accord.signals.base import Comparison, ContentType, Hashed, SignalType, UrlHasher
from accord.signals.exact import ExactIndex

__all__ = ["TRACKING_PARAMETERS", "UrlSignal", "canonicalize_url"]

TRACKING_PARAMETERS = frozenset({"fbclid", "gclid"})
"""Query parameters that identify a click, not a resource (besides every ``utm_*``)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "!$&'()*+,;=:@/"
_QUERY_SAFE = "!$'()*,;:@/?"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def _invalid(url: str, why: str) -> InvalidSignal:
    shown = url if len(url) <= 120 else url[:117] + "..."
    return InvalidSignal(f"Invalid url signal: {shown!r} {why}", signal_type="url")


def _normalise_escapes(text: str, safe: str) -> str:
    """Decode escapes of unreserved characters, upper-case the others, escape the rest."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            match = _ESCAPE.match(text, i)
            if match:
                decoded = chr(int(match.group(1), 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + match.group(1).upper())
                i += 3
                continue
            out.append("%25")
        elif char in _UNRESERVED or char in safe:
            out.append(char)
        else:
            out.append(quote(char, safe="", encoding="utf-8", errors="strict"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _canonical_host(url: str, host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        try:
            return "[" + ipaddress.IPv6Address(host[1:-1]).compressed + "]"
        except ValueError:
            raise _invalid(url, "has a malformed IPv6 host") from None
    host = unquote(host).rstrip(".").lower()
    if not host:
        raise _invalid(url, "has no host")
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    labels = []
    for label in host.split("."):
        try:
            ascii_label = label.encode("idna").decode("ascii") if not label.isascii() else label
        except UnicodeError:
            raise _invalid(url, f"has a host label {label!r} that IDNA cannot encode") from None
        if not _HOST_LABEL.fullmatch(ascii_label):
            raise _invalid(url, f"has an invalid host label {label!r}")
        labels.append(ascii_label)
    return ".".join(labels)


def canonicalize_url(url: str) -> str:
    """The canonical form of an http(s) URL, or :class:`InvalidSignal` saying what is wrong."""
    if not isinstance(url, str):
        raise InvalidSignal(f"Invalid url signal: expected a string, got {type(url).__name__}")
    text = url.strip()
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise _invalid(url, "contains control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _invalid(url, f"cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _invalid(url, "is not an http or https URL")
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        raw_host = netloc[: netloc.find("]") + 1]
    else:
        raw_host = netloc.rpartition(":")[0] if ":" in netloc else netloc
    if not raw_host:
        raise _invalid(url, "has no host")
    host = _canonical_host(url, raw_host)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE) or "/")
    pairs: list[tuple[str, str]] = []
    for item in parts.query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key = unquote(key.replace("+", " "))
        value = unquote(value.replace("+", " "))
        lowered = key.lower()
        if lowered.startswith("utm_") or lowered in TRACKING_PARAMETERS:
            continue
        pairs.append((key, value))
    pairs.sort()
    query = "&".join(
        _normalise_escapes(quote(k, safe=_QUERY_SAFE), _QUERY_SAFE)
        + "="
        + _normalise_escapes(quote(v, safe=_QUERY_SAFE), _QUERY_SAFE)
        for k, v in pairs
    )
    return urlunsplit((scheme, host, path, query, ""))


class UrlSignal(SignalType, UrlHasher):
    """``url``: a canonical http(s) URL; matches only the same canonical URL."""

    name: ClassVar[str] = "url"
    content_types: ClassVar[tuple[ContentType, ...]] = (ContentType.URL,)
    default_threshold: ClassVar[float] = 0

    def validate(self, value: str) -> str:
        return canonicalize_url(value)

    def compare(self, a: str, b: str, threshold: float | None = None) -> Comparison:
        same = a == b
        return Comparison(match=same, distance=0 if same else 1)

    def new_index(self, threshold: float | None = None) -> ExactIndex:
        return ExactIndex()

    def hash_url(self, url: str) -> Hashed:
        return Hashed(signal_type=self.name, value=canonicalize_url(url))
