"""Fetching media by URL without becoming a proxy into the platform's network.

HMA fetches ``?url=`` from any host. accord resolves the host first and refuses
loopback, private, link-local (cloud metadata lives there), multicast, reserved
and unspecified addresses unless ``ACCORD_FETCH_ALLOW`` names the host or its
network; it then connects to the address it checked (so a DNS answer that
changes between check and connect cannot redirect it), follows redirects
itself, checking every hop, and stops at the size and time limits.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from accord.errors import FetchRefused, MediaTooLarge, UpstreamError

__all__ = ["FetchPolicy", "fetch"]

_MAX_REDIRECTS = 5
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int
    timeout: float
    allow: Sequence[str] = ()

    def allows(self, host: str, address: IPAddress) -> bool:
        for entry in self.allow:
            if entry.lower() == host.lower():
                return True
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


def _internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve host {host!r}: {exc.strerror}", host=host) from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _check(url: str, policy: FetchPolicy) -> tuple[str, str, IPAddress]:
    """The URL to connect to (by address), the Host header, and the address checked."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parts.scheme!r}", url=url)
    host = parts.hostname
    if not host:
        raise FetchRefused("the URL has no host", url=url)
    if parts.username or parts.password:
        raise FetchRefused("URLs with credentials are not fetched", url=url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    for address in addresses:
        if _internal(address) and not policy.allows(host, address):
            raise FetchRefused(
                f"refusing to fetch {host!r}: it resolves to the internal address {address} "
                "(add it to ACCORD_FETCH_ALLOW to permit it)",
                host=host,
                address=str(address),
            )
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return pinned, host_header, address


def fetch(url: str, policy: FetchPolicy) -> bytes:
    """The body at ``url``, within the policy's limits (raises FetchRefused / UpstreamError)."""
    deadline = time.monotonic() + policy.timeout
    current = url
    with httpx.Client(follow_redirects=False, timeout=policy.timeout) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            pinned, host_header, _address = _check(current, policy)
            host = urlsplit(current).hostname or ""
            try:
                with client.stream(
                    "GET",
                    pinned,
                    headers={"Host": host_header, "User-Agent": "accord-fetch/1"},
                    extensions={"sni_hostname": host},
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise UpstreamError("redirect without a Location header", url=current)
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise UpstreamError(
                            f"fetching {current} answered HTTP {response.status_code}",
                            url=current,
                            status=response.status_code,
                        )
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                        raise MediaTooLarge(
                            f"the fetched body is {declared} bytes; the limit is "
                            f"{policy.max_bytes}",
                            limit=policy.max_bytes,
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > policy.max_bytes:
                            raise MediaTooLarge(
                                f"the fetched body exceeds the limit of {policy.max_bytes} bytes",
                                limit=policy.max_bytes,
                            )
                        if time.monotonic() > deadline:
                            raise FetchRefused(
                                f"fetching took longer than {policy.timeout:g} s", url=current
                            )
                    return bytes(body)
            except httpx.TimeoutException:
                raise FetchRefused(
                    f"fetching {current} took longer than {policy.timeout:g} s", url=current
                ) from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"fetching {current} failed: {exc}", url=current) from None
        raise FetchRefused(f"more than {_MAX_REDIRECTS} redirects", url=url)
