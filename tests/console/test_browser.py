"""The console in a real browser (Debian's Chromium via Playwright) against the live server:
sign in, create a key and see it once, use it, revoke it; browse facts, forget a user and
read the receipt; Test Connection healthy, then with Valkey down."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from playwright.sync_api import expect

from keys.models import ApiKey, ApiKeyAuditEntry
from memory.models import DeletionReceipt, Fact
from tenants.models import Tenant
from tests.conftest import wait_for
from tests.console.conftest import PASSWORD, screenshot
from tests.factories import ingest_enriched
from tests.plugins.services import valkey_server

pytestmark = pytest.mark.browser

INGEST = {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Oslo."}


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/console/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    _submit(page, "input[type=submit]")
    expect(page.locator("text=Signed in as")).to_be_visible()


def _submit(page: Any, selector: str) -> None:
    """Click something that loads a new page, and wait for that page."""
    with page.expect_navigation():
        page.click(selector)


def _ingest(base: str, raw_key: str) -> int:
    request = urllib.request.Request(
        f"{base}/v1/ingest",
        data=json.dumps(INGEST).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_create_key_see_it_once_use_it_revoke_it(
    live_server: Any, page: Any, tenant: Tenant, owner: User
) -> None:
    base = live_server.url
    page.goto(f"{base}/console/")
    screenshot(page, "01-login")
    _sign_in(page, base, "ada")
    screenshot(page, "02-projects")

    _submit(page, f"text={tenant.name}")
    expect(page.locator(".cards .card")).to_have_count(5)
    screenshot(page, "02b-project-overview")
    page.click("nav.tabs >> text=API keys")
    page.click("#create-key")
    page.fill("#id_name", "backend")
    screenshot(page, "03-key-create")
    _submit(page, "input[value='Create key']")
    raw = page.inner_text("#raw-key").strip()
    assert re.fullmatch(r"ck_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", raw)
    expect(page.locator("text=It will not be shown again")).to_be_visible()
    screenshot(page, "04-key-shown-once")

    page.reload()
    expect(page.locator("#key-already-shown")).to_be_visible()
    assert raw not in page.content()

    assert _ingest(base, raw) == 200
    key = ApiKey.objects.get(tenant=tenant, prefix=raw[3:11])

    page.click("text=Done — view the key")
    page.click("#revoke-key")
    screenshot(page, "05-key-revoke-confirm")
    _submit(page, "#confirm-revoke")
    expect(page.locator("text=is revoked")).to_be_visible()
    assert _ingest(base, raw) == 401
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert list(
        ApiKeyAuditEntry.objects.filter(key=key).order_by("at").values_list("action", "actor_label")
    ) == [("created", "ada"), ("revoked", "ada")]

    page.goto(f"{base}/console/keys/apikey/?tenant={tenant.id}")
    screenshot(page, "06-key-list")
    page.goto(f"{base}/console/projects/{tenant.id}/usage/")
    expect(page.locator("#usage-endpoints")).to_contain_text("POST /v1/ingest")
    expect(page.locator("svg.chart")).to_have_count(5)
    screenshot(page, "07-usage")


def test_browse_facts_forget_user_and_read_receipt(
    live_server: Any, page: Any, tenant: Tenant, owner: User
) -> None:
    for i, text in enumerate(
        [
            "I live in Oslo and work at Equinor as a geologist.",
            "My sister Anna lives in Rome.",
            "I love hiking in the mountains.",
            "I moved to Bergen.",
        ]
    ):
        ingest_enriched(tenant, text, user_id="alice", minutes=i)
    facts = Fact.objects.filter(tenant=tenant, user_id="alice")
    current = facts.filter(status="current").count()
    assert current > 0
    base = live_server.url
    _sign_in(page, base, "ada")

    page.goto(f"{base}/console/projects/{tenant.id}/memory/")
    screenshot(page, "08-memory-users")
    _submit(page, "text=alice")
    assert page.locator("#current-facts tr.fact-row").count() == current
    # Verbatim source text; one sentence gives several facts (home, workplace, job), each
    # quoting it.
    expect(page.locator("#current-facts").get_by_text("“I live in Oslo").first).to_be_visible()
    screenshot(page, "09-memory-user")

    page.fill("input[name=q]", "Rome")
    _submit(page, "input[value=Search]")
    assert page.locator("#current-facts tr.fact-row").count() >= 1
    expect(page.locator("#current-facts")).not_to_contain_text("geologist")
    expect(page.locator("#events")).not_to_contain_text("geologist")

    _submit(page, "#forget-user")
    _submit(page, "#forget-preview")
    expected_facts = facts.count()
    assert page.inner_text("#count-facts") == str(expected_facts)
    assert page.inner_text("#count-events-matched") == "4"
    screenshot(page, "10-forget-confirm")
    _submit(page, "#forget-confirm")
    expect(page.locator("#receipt-status")).to_have_text(re.compile(r"^\s*Verified\."))
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert receipt.deleted_counts["facts"] == expected_facts
    assert Fact.objects.filter(tenant=tenant, user_id="alice").count() == 0
    screenshot(page, "11-receipt")
    _submit(page, "text=← All receipts")
    assert page.inner_text("#verify-summary").startswith("All 1 receipt verify.")
    screenshot(page, "12-receipts")


@pytest.mark.usefixtures("owner")
def test_connection_healthy_then_redis_down(
    live_server: Any, page: Any, tenant: Tenant, settings: Any
) -> None:
    settings.CLAIV_PUBLIC_BASE_URL = live_server.url
    base = live_server.url
    _sign_in(page, base, "ada")
    page.goto(f"{base}/console/projects/{tenant.id}/connection/")
    _submit(page, "#test-connection")
    assert page.inner_text("#connection-report .callout").startswith("Healthy.")
    assert page.locator(".probe-ok").count() == 2
    screenshot(page, "13-connection-healthy")

    server = valkey_server()
    server.stop()
    try:
        _submit(page, "#test-connection")
        report = page.inner_text("#connection-report")
        assert "Something is wrong." in report
        assert "Redis/Valkey (task queue, rate limits, cache) is down" in report
        assert "HTTP 503" in report
        assert page.locator(".probe-ok").count() == 1  # liveness needs no dependency
        screenshot(page, "14-connection-redis-down")
    finally:
        server.start()
    wait_for(lambda: redis.Redis.from_url(settings.REDIS_URL).ping())


def test_audit_trail_filtered_by_end_user(
    live_server: Any, page: Any, tenant: Tenant, owner: User
) -> None:
    from keys.services import api_key_create
    from memory.audit import audit_record

    key, _ = api_key_create(tenant=tenant, name="app")
    for user_id in ("alice", "bob", "alice"):
        audit_record(
            key=key,
            action="recall",
            endpoint="POST /v6/recall",
            request_id=f"req-{user_id}",
            user_id=user_id,
            counts={"facts": 2},
        )
    base = live_server.url
    _sign_in(page, base, "ada")
    page.goto(f"{base}/console/projects/{tenant.id}/")
    _submit(page, "nav.tabs >> text=Audit trail")
    expect(page.locator("#audit-entries tbody tr")).to_have_count(4)  # and the key's creation
    screenshot(page, "13-audit-trail")
    page.fill("#id_user_id", "alice")
    page.select_option("#id_action", "recall")
    _submit(page, "#audit-filter")
    rows = page.locator("#audit-entries tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#audit-entries")).not_to_contain_text("bob")
    expect(rows.first).to_contain_text(key.prefix)
    screenshot(page, "14-audit-trail-filtered")
