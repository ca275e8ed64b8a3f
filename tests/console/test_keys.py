"""API keys in the console: created with chosen scopes and shown exactly once, revoked after a
confirmation (effective on the next request), rotated with a grace period; every action in
the audit log."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from keys.models import ApiKey, ApiKeyAuditEntry
from keys.services import api_key_create
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db

INGEST = {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Oslo."}


def _ingest_status(raw: str) -> int:
    return Api(client=Client(), raw_key=raw).post("/v1/ingest", INGEST).status_code


def _create(console: Client, tenant: Tenant, **fields: object) -> tuple[ApiKey, object]:
    data = {
        "tenant": str(tenant.id),
        "name": "backend",
        "scopes": ["memory:write", "memory:read"],
        **fields,
    }
    response = console.post("/console/keys/apikey/add/", data)
    key = ApiKey.objects.get(tenant=tenant, name=data["name"])
    assert response.status_code == 302
    assert response["Location"] == f"/console/keys/apikey/{key.pk}/created/"
    return key, response


def test_created_key_is_shown_exactly_once(console: Client, tenant: Tenant) -> None:
    key, _ = _create(console, tenant)
    assert key.scopes == ["memory:write", "memory:read"]
    # Between the POST and the one page that shows it, the raw key is not in the session store
    # in clear.
    stored = "".join(s.session_data for s in Session.objects.all())
    first = console.get(f"/console/keys/apikey/{key.pk}/created/")
    raw = first.context["raw"]
    assert raw.startswith(f"ck_{key.prefix}_") and raw not in stored
    assert first.content.decode().count(raw) == 1
    assert "It will not be shown again" in first.content.decode()
    assert "no-store" in first["Cache-Control"]

    again = console.get(f"/console/keys/apikey/{key.pk}/created/")
    assert again.context["raw"] is None
    assert raw not in again.content.decode()
    assert "This key was already shown." in again.content.decode()
    assert raw not in console.get(f"/console/keys/apikey/{key.pk}/change/").content.decode()
    assert _ingest_status(raw) == 200

    entry = ApiKeyAuditEntry.objects.get(key=key)
    assert (entry.action, entry.actor_label, entry.actor.username, entry.tenant) == (
        "created",
        "ada",
        "ada",
        tenant,
    )
    assert entry.details == {
        "via": "console",
        "name": "backend",
        "scopes": ["memory:write", "memory:read"],
    }


def test_create_refuses_no_scopes_and_another_tenant(
    console: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    no_scopes = console.post("/console/keys/apikey/add/", {"tenant": str(tenant.id), "name": "x"})
    assert no_scopes.status_code == 200 and no_scopes.context["form"].errors["scopes"]
    theirs = console.post(
        "/console/keys/apikey/add/",
        {"tenant": str(other_tenant.id), "name": "x", "scopes": ["memory:read"]},
    )
    assert theirs.status_code == 200 and theirs.context["form"].errors["tenant"]
    choices = [str(t.pk) for t in theirs.context["form"].fields["tenant"].queryset]
    assert choices == [str(tenant.id)]
    assert not ApiKey.objects.exists() and not ApiKeyAuditEntry.objects.exists()


def test_revoke_needs_confirmation_and_is_effective_on_next_request(
    console: Client, tenant: Tenant
) -> None:
    key, raw = api_key_create(tenant=tenant, name="prod")
    assert _ingest_status(raw) == 200
    confirm = console.get(f"/console/keys/apikey/{key.pk}/revoke/")
    assert confirm.status_code == 200 and b"Yes, revoke" in confirm.content
    key.refresh_from_db()
    assert key.revoked_at is None  # looking at the confirmation changes nothing

    response = console.post(f"/console/keys/apikey/{key.pk}/revoke/")
    assert response["Location"] == f"/console/keys/apikey/{key.pk}/change/"
    assert _ingest_status(raw) == 401
    entry = ApiKeyAuditEntry.objects.get(key=key, action="revoked")
    assert entry.actor_label == "ada" and entry.details["via"] == "console"
    # revoking again changes nothing and writes no second entry
    console.post(f"/console/keys/apikey/{key.pk}/revoke/")
    assert ApiKeyAuditEntry.objects.filter(key=key, action="revoked").count() == 1


def test_rotate_with_grace_keeps_old_key_working_until_then(
    console: Client, tenant: Tenant
) -> None:
    old, old_raw = api_key_create(tenant=tenant, name="prod", scopes=["memory:write"])
    page = console.get(f"/console/keys/apikey/{old.pk}/rotate/")
    assert page.status_code == 200
    before = timezone.now()
    response = console.post(f"/console/keys/apikey/{old.pk}/rotate/", {"grace": "3600"})
    new = ApiKey.objects.get(tenant=tenant, replaced_by__isnull=True, revoked_at__isnull=True)
    assert response["Location"] == f"/console/keys/apikey/{new.pk}/created/"
    new_raw = console.get(response["Location"]).context["raw"]
    assert console.get(response["Location"]).context["raw"] is None
    old.refresh_from_db()
    assert old.replaced_by == new and new.scopes == ["memory:write"] and new.name == "prod"
    assert (
        before + timedelta(seconds=3600)
        <= old.revoked_at
        <= timezone.now() + timedelta(seconds=3600)
    )
    assert _ingest_status(old_raw) == 200 and _ingest_status(new_raw) == 200
    rotated = ApiKeyAuditEntry.objects.get(key=old, action="rotated")
    assert rotated.details["new_key"] == new.prefix and rotated.details["grace_seconds"] == 3600
    assert ApiKeyAuditEntry.objects.get(key=new, action="created").details["rotated_from"] == (
        old.prefix
    )


def test_rotate_now_and_a_revoked_key_cannot_be_rotated(console: Client, tenant: Tenant) -> None:
    old, old_raw = api_key_create(tenant=tenant)
    console.post(f"/console/keys/apikey/{old.pk}/rotate/", {"grace": "0"})
    assert _ingest_status(old_raw) == 401
    keys = ApiKey.objects.filter(tenant=tenant).count()
    response = console.post(f"/console/keys/apikey/{old.pk}/rotate/", {"grace": "0"}, follow=True)
    assert "already revoked" in response.content.decode()
    assert ApiKey.objects.filter(tenant=tenant).count() == keys == 2


def test_revoke_selected_action_asks_first(console: Client, tenant: Tenant) -> None:
    keys = [api_key_create(tenant=tenant, name=f"k{i}")[0] for i in range(2)]
    selected = {ACTION_CHECKBOX_NAME: [str(k.pk) for k in keys]}
    ask = console.post(
        "/console/keys/apikey/", {"action": "revoke_selected", "index": "0", **selected}
    )
    assert ask.status_code == 200 and b"Revoke 2 keys?" in ask.content
    assert ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=False).count() == 0
    console.post(
        "/console/keys/apikey/", {"action": "revoke_selected", "confirmed": "yes", **selected}
    )
    assert ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=False).count() == 2
    assert ApiKeyAuditEntry.objects.filter(tenant=tenant, action="revoked").count() == 2


def test_key_list_shows_mask_scopes_times_and_status(console: Client, tenant: Tenant) -> None:
    key, raw = api_key_create(tenant=tenant, name="prod", scopes=["memory:read"])
    _ingest_status(raw)  # 403 (no write scope) still authenticates: last used is set
    body = console.get("/console/keys/apikey/").content.decode()
    assert f"ck_{key.prefix}_…" in body and "memory:read" in body and "prod" in body
    assert raw not in body and key.key_hash not in body
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert 'class="badge ok">active' in body


def test_audit_log_is_read_only_and_records_manage_py(console: Client, tenant: Tenant) -> None:
    call_command("api_key", "create", "--tenant", "acme", "--name", "cli", stdout=io.StringIO())
    entry = ApiKeyAuditEntry.objects.get(tenant=tenant)
    assert (entry.action, entry.actor, entry.actor_label) == ("created", None, "manage.py")
    assert json.dumps(entry.details) == json.dumps(
        {
            "via": "manage.py",
            "name": "cli",
            "scopes": ["memory:write", "memory:read", "memory:forget"],
        }
    )
    listing = console.get("/console/keys/apikeyauditentry/")
    assert listing.context["cl"].result_count == 1
    assert console.get("/console/keys/apikeyauditentry/add/").status_code == 403
    detail = console.post(
        f"/console/keys/apikeyauditentry/{entry.pk}/change/", {"actor_label": "someone else"}
    )
    assert detail.status_code == 403
    entry.refresh_from_db()
    assert entry.actor_label == "manage.py"
