"""Outbound HTTP on a user's behalf, guarded against server-side request forgery.

`url_check` accepts only http/https URLs whose host resolves exclusively to public
addresses: loopback, link-local (169.254.0.0/16, fe80::/10: cloud metadata lives there),
multicast, unspecified and reserved addresses are always refused; private ranges
(10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) only pass when the operator allows them.
`http_get` then connects to the very address that was checked (so a DNS answer that changes
between check and connect cannot redirect it), with short timeouts, and follows at most a
few redirects, checking each target the same way. A refusal carries a plain reason.

A URL from the server's own settings is trusted (`trusted=True` skips the check for that
URL's origin only; a redirect to any other origin is checked).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

Resolver = Callable[..., list[Any]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
MAX_BODY_BYTES = 64 * 1024
# Carrier-grade NAT space: not "private" to Python, but not public either.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class UrlRefused(Exception):
    """The URL may not be fetched; `reason` is a sentence for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path plus query, as sent in the request line
    address: str  # the checked address to connect to


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: bytes
    elapsed_ms: float
    final_url: str


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why this address may not be contacted, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_loopback:
        return f"{address} is a loopback address (this machine)"
    if address.is_link_local:
        return f"{address} is a link-local address (169.254.0.0/16 or fe80::/10)"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private or address in _SHARED:
        if allow_private and not address.is_reserved:
            return None
        return (
            f"{address} is in a private network range; an operator can allow private "
            "ranges with CLAIV_CONSOLE_ALLOW_PRIVATE_URLS"
        )
    if not address.is_global:
        return f"{address} is a reserved address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    if len(url) > 2000:
        raise UrlRefused("The URL is too long.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"The URL is not valid ({exc}).") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs are allowed.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host name.")
    if parts.username or parts.password:
        raise UrlRefused("URLs with a user name or password in them are not allowed.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def url_check(
    url: str, *, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo
) -> Target:
    """Resolve and check `url`; raise UrlRefused with a plain reason when it is not allowed."""
    scheme, host, port, path = _split(url)
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"The host name {host!r} could not be resolved.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused(f"The host name {host!r} could not be resolved.")
    for text in addresses:
        # Every answer must pass: one public and one internal address is a rebinding trick.
        reason = address_refusal(
            ipaddress.ip_address(text.split("%")[0]), allow_private=allow_private
        )
        if reason:
            raise UrlRefused(f"Refused {host}: {reason}.")
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def _trusted_target(url: str) -> Target:
    scheme, host, port, path = _split(url)
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, address=host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate checked against the host name, while the socket goes to the checked IP.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_get(
    url: str,
    *,
    trusted: bool = False,
    allow_private: bool = False,
    timeout: float = 3.0,
    headers: dict[str, str] | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> HttpResult:
    """GET `url` (checked unless trusted). Raises UrlRefused for a refused URL or redirect,
    and OSError (timeouts, refused connections, TLS errors) when the server cannot be reached."""
    target = (
        _trusted_target(url)
        if trusted
        else url_check(url, allow_private=allow_private, resolver=resolver)
    )
    trusted_origin = (target.scheme, target.host, target.port) if trusted else None
    started = time.perf_counter()
    for _ in range(MAX_REDIRECTS + 1):
        connection_class = (
            _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(target, timeout)
        try:
            connection.request(
                "GET",
                target.path,
                headers={
                    "User-Agent": "claiv-console",
                    "Accept": "application/json",
                    **(headers or {}),
                },
            )
            response = connection.getresponse()
            location = response.getheader("Location")
            body = response.read(MAX_BODY_BYTES)
        finally:
            connection.close()
        if response.status in (301, 302, 303, 307, 308) and location:
            # Headers such as Authorization are not carried to another host.
            next_url = urljoin(target.url, location)
            if trusted_origin and _split(next_url)[:3] == trusted_origin:
                next_target = _trusted_target(next_url)
            else:
                next_target = url_check(next_url, allow_private=allow_private, resolver=resolver)
            if (next_target.host, next_target.port) != (target.host, target.port):
                headers = {}
            target = next_target
            continue
        return HttpResult(
            status=response.status,
            body=body,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            final_url=target.url,
        )
    raise UrlRefused(f"More than {MAX_REDIRECTS} redirects.")
