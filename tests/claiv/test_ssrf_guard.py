"""The outbound URL guard: what is refused (with a plain reason), what passes, redirects."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from claiv.ssrf_guard import UrlRefused, http_get, url_check


def _resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


def _unresolvable(host: str, port: int, **kwargs: Any) -> list[Any]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.216.34/", "Only http:// and https:// URLs are allowed."),
        ("file:///etc/passwd", "Only http:// and https:// URLs are allowed."),
        ("javascript:alert(1)", "Only http:// and https:// URLs are allowed."),
        ("http:///nohost", "The URL has no host name."),
        ("http://a:b@93.184.216.34/", "URLs with a user name or password in them are not allowed."),
        ("http://93.184.216.34:99999/", "The URL is not valid"),
        ("http://127.0.0.1/", "Refused 127.0.0.1: 127.0.0.1 is a loopback address (this machine)."),
        ("http://127.8.9.10/", "127.8.9.10 is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1 is a loopback address"),
        ("http://0.0.0.0/", "0.0.0.0 is the unspecified address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://10.0.0.1/", "10.0.0.1 is in a private network range"),
        ("http://172.16.5.4/", "172.16.5.4 is in a private network range"),
        ("http://192.168.1.1/", "192.168.1.1 is in a private network range"),
        ("http://100.64.0.1/", "100.64.0.1 is in a private network range"),
        ("http://[fc00::1]/", "fc00::1 is in a private network range"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "240.0.0.1 is in a private network range"),
    ],
)
def test_refused_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        url_check(url)
    assert reason in refused.value.reason


def test_localhost_by_name_is_refused() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        url_check("http://localhost:8000/")


def test_public_addresses_pass_and_are_pinned() -> None:
    target = url_check("https://api.example.test/v1?x=1", resolver=_resolver("93.184.216.34"))
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "api.example.test",
        443,
        "/v1?x=1",
        "93.184.216.34",
    )
    assert url_check("http://[2606:4700::1111]:8080/").address == "2606:4700::1111"


def test_one_internal_answer_among_public_ones_is_refused() -> None:
    with pytest.raises(UrlRefused, match="10.0.0.5 is in a private network range"):
        url_check("http://rebind.example.test/", resolver=_resolver("93.184.216.34", "10.0.0.5"))


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(UrlRefused, match="could not be resolved"):
        url_check("http://nowhere.invalid/", resolver=_unresolvable)


def test_operator_may_allow_private_ranges_but_never_loopback_or_link_local() -> None:
    assert url_check("http://10.0.0.1/", allow_private=True).address == "10.0.0.1"
    assert url_check("http://[fd00::1]/", allow_private=True).address == "fd00::1"
    for url in ("http://127.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/"):
        with pytest.raises(UrlRefused):
            url_check(url, allow_private=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        routes = {
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/same-origin": "/final",
            "/loop": "/loop",
        }
        if self.path in routes:
            self.send_response(302)
            self.send_header("Location", routes[self.path])
            self.end_headers()
            return
        body = f'{{"path": "{self.path}", "auth": "{self.headers.get("Authorization")}"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_trusted_url_is_fetched_and_same_origin_redirects_followed(server: str) -> None:
    result = http_get(f"{server}/same-origin", trusted=True, headers={"Authorization": "x"})
    assert result.status == 200 and result.final_url == f"{server}/final"
    assert result.body == b'{"path": "/final", "auth": "x"}'
    assert result.elapsed_ms > 0


def test_an_untrusted_loopback_url_is_never_fetched(server: str) -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        http_get(f"{server}/healthz")


def test_a_redirect_to_a_refused_address_is_not_followed(server: str) -> None:
    with pytest.raises(UrlRefused, match="169.254.169.254 is a link-local address"):
        http_get(f"{server}/to-metadata", trusted=True)


def test_redirect_loops_stop(server: str) -> None:
    with pytest.raises(UrlRefused, match="More than 3 redirects."):
        http_get(f"{server}/loop", trusted=True)


def test_timeouts_are_short() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(TimeoutError):
            http_get(f"http://127.0.0.1:{listener.getsockname()[1]}/", trusted=True, timeout=0.3)
    finally:
        listener.close()
