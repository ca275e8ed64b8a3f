"""Connection settings and Test Connection: typed URLs are SSRF-checked, a stored backend
key is encrypted at rest and never shown again, the test reports each probe in plain words."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from claiv.secret_box import secret_decrypt
from keys.services import api_key_create, api_key_revoke
from tenants.connection import connection_test
from tenants.models import ConsoleConnection, Tenant

pytestmark = pytest.mark.django_db


def _save(console: Client, tenant: Tenant, **fields: str) -> Any:
    return console.post(
        f"/console/projects/{tenant.id}/connection/",
        {"action": "save", "api_base_url": "", "api_key": "", **fields},
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8001", "127.0.0.1 is a loopback address (this machine)"),
        ("http://localhost", "is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://10.1.2.3", "10.1.2.3 is in a private network range"),
        ("http://[fe80::1]", "fe80::1 is a link-local address"),
        ("ftp://example.com", "Only http:// and https:// URLs are allowed."),
        ("http://user:pw@93.184.216.34", "URLs with a user name or password"),
    ],
)
def test_typed_urls_to_internal_addresses_are_refused(
    console: Client, tenant: Tenant, url: str, reason: str
) -> None:
    response = _save(console, tenant, api_base_url=url)
    assert response.status_code == 200
    assert reason in " ".join(response.context["form"].errors["api_base_url"])
    assert reason in html.unescape(response.content.decode())
    assert not ConsoleConnection.objects.filter(tenant=tenant).exists()


def test_private_ranges_pass_when_the_operator_allows_them(
    console: Client, tenant: Tenant, settings: Any
) -> None:
    settings.CLAIV_CONSOLE_ALLOW_PRIVATE_URLS = True
    assert _save(console, tenant, api_base_url="http://10.1.2.3:8000/").status_code == 302
    assert ConsoleConnection.objects.get(tenant=tenant).api_base_url == "http://10.1.2.3:8000"
    refused = _save(console, tenant, api_base_url="http://127.0.0.1:8001")
    assert "loopback" in " ".join(refused.context["form"].errors["api_base_url"])


def test_public_url_and_the_servers_own_url_are_accepted(
    console: Client, tenant: Tenant, settings: Any
) -> None:
    assert _save(console, tenant, api_base_url="https://93.184.216.34").status_code == 302
    assert ConsoleConnection.objects.get(tenant=tenant).api_base_url == "https://93.184.216.34"
    settings.CLAIV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    assert _save(console, tenant, api_base_url="http://127.0.0.1:8000/").status_code == 302
    assert ConsoleConnection.objects.get(tenant=tenant).api_base_url == "http://127.0.0.1:8000"


def test_backend_key_is_encrypted_at_rest_and_never_shown_again(
    console: Client, tenant: Tenant
) -> None:
    raw = api_key_create(tenant=tenant)[1]
    assert _save(console, tenant, api_key=raw).status_code == 302
    stored = ConsoleConnection.objects.get(tenant=tenant)
    assert raw not in stored.api_key_ciphertext and raw[12:] not in stored.api_key_ciphertext
    assert secret_decrypt(stored.api_key_ciphertext) == raw
    assert stored.api_key_mask == raw[:12] + "…" and stored.updated_by.username == "ada"
    body = console.get(f"/console/projects/{tenant.id}/connection/").content.decode()
    assert raw not in body and raw[12:20] not in body and raw[:12] + "…" in body
    _save(console, tenant)  # an empty key field keeps the stored key
    assert secret_decrypt(ConsoleConnection.objects.get(tenant=tenant).api_key_ciphertext) == raw
    _save(console, tenant, clear_key="on")
    stored = ConsoleConnection.objects.get(tenant=tenant)
    assert (stored.api_key_ciphertext, stored.api_key_mask) == ("", "")


def test_connection_test_against_this_server_with_a_stored_key(
    live_server: Any, console: Client, tenant: Tenant, settings: Any
) -> None:
    settings.CLAIV_PUBLIC_BASE_URL = live_server.url
    key, raw = api_key_create(tenant=tenant)
    _save(console, tenant, api_key=raw)
    report = console.post(f"/console/projects/{tenant.id}/connection/", {"action": "test"}).context[
        "report"
    ]
    assert report.ok and report.trusted and report.base_url == live_server.url
    assert [(p.name, p.status, p.summary) for p in report.probes] == [
        ("Liveness (/healthz)", 200, "The API process serves."),
        ("Readiness (/readyz)", 200, "PostgreSQL and Redis/Valkey answer."),
        ("API key (GET /v1/events/…)", 404, "The stored API key is accepted."),
    ]
    assert all(p.latency_ms is not None and p.latency_ms > 0 for p in report.probes)
    api_key_revoke(key=key)
    probe = connection_test(tenant=tenant).probes[2]
    assert (probe.ok, probe.status) == (False, 401)
    assert probe.summary.startswith("The stored API key is rejected")


def test_unreachable_server_is_said_in_plain_words(tenant: Tenant, settings: Any) -> None:
    settings.CLAIV_PUBLIC_BASE_URL = "http://127.0.0.1:9"
    report = connection_test(tenant=tenant)
    assert not report.ok
    assert [(p.status, p.summary) for p in report.probes] == [
        (None, "Connection refused: nothing is listening at 127.0.0.1:9."),
        (None, "Connection refused: nothing is listening at 127.0.0.1:9."),
    ]


def test_a_stored_url_is_checked_again_before_each_test(tenant: Tenant) -> None:
    # As if the host name had been re-pointed at an internal address after it was saved.
    ConsoleConnection.objects.create(tenant=tenant, api_base_url="http://127.0.0.1:1")
    report = connection_test(tenant=tenant)
    assert report.probes == [] and not report.ok
    assert report.refused == "Refused 127.0.0.1: 127.0.0.1 is a loopback address (this machine)."
