"""Roles inside one's own project: viewers change nothing, admins manage keys and memory but
not members or project settings, owners manage everything. Projects: create, rename, limits,
members."""

from __future__ import annotations

import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.test import Client

from keys.models import ApiKey
from keys.services import api_key_create
from memory.models import DeletionReceipt, Event
from tenants.models import ConsoleConnection, MemberRole, Membership, Tenant
from tests.console.conftest import make_user
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db


def test_viewer_reads_but_changes_nothing(viewer_console: Client, tenant: Tenant) -> None:
    key, _ = api_key_create(tenant=tenant, name="prod")
    event = ingest_enriched(tenant, "I live in Oslo.", user_id="alice")
    base = f"/console/projects/{tenant.id}"
    for url in (
        "/console/",
        f"{base}/",
        f"{base}/memory/",
        f"{base}/receipts/",
        f"{base}/usage/",
        f"{base}/members/",
        f"{base}/connection/",
        "/console/keys/apikey/",
        f"/console/keys/apikey/{key.pk}/change/",
        f"/console/memory/event/{event.pk}/change/",
    ):
        assert viewer_console.get(url).status_code == 200, url
    forbidden = [
        ("get", "/console/keys/apikey/add/", {}),
        (
            "post",
            "/console/keys/apikey/add/",
            {"tenant": str(tenant.id), "scopes": ["memory:read"]},
        ),
        ("get", f"/console/keys/apikey/{key.pk}/revoke/", {}),
        ("post", f"/console/keys/apikey/{key.pk}/revoke/", {}),
        ("post", f"/console/keys/apikey/{key.pk}/rotate/", {"grace": "0"}),
        ("post", f"/console/memory/event/{event.pk}/reenrich/", {}),
        ("get", f"{base}/forget/", {}),
        ("post", f"{base}/forget/", {"action": "confirm", "user_id": "alice"}),
        ("post", f"{base}/members/", {"action": "add", "username": "vic", "role": "owner"}),
        ("post", f"{base}/connection/", {"action": "save", "api_base_url": ""}),
        (
            "post",
            f"/console/tenants/tenant/{tenant.id}/change/",
            {"name": "Renamed", "rate_limit_per_minute": "1"},
        ),
        ("get", "/console/tenants/tenant/add/", {}),
    ]
    for method, url, data in forbidden:
        response = getattr(viewer_console, method)(url, data)
        assert response.status_code == 403, (method, url)
        assert b"Not allowed" in response.content
    # actions a viewer is not offered do nothing even when posted
    viewer_console.post(
        "/console/keys/apikey/",
        {"action": "revoke_selected", "confirmed": "yes", ACTION_CHECKBOX_NAME: [str(key.pk)]},
    )
    assert viewer_console.get("/console/keys/apikey/").context["action_form"] is None
    key.refresh_from_db()
    event.refresh_from_db()
    tenant.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.filter(tenant=tenant).count() == 1
    assert event.status == "enriched"
    assert not DeletionReceipt.objects.filter(tenant=tenant).exists()
    assert Membership.objects.get(user__username="vic").role == MemberRole.VIEWER
    assert not ConsoleConnection.objects.filter(tenant=tenant).exists()
    assert tenant.name == "acme"


def test_viewer_may_run_test_connection(
    viewer_console: Client, tenant: Tenant, settings: object
) -> None:
    settings.CLAIV_PUBLIC_BASE_URL = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    response = viewer_console.post(f"/console/projects/{tenant.id}/connection/", {"action": "test"})
    assert response.status_code == 200
    assert response.context["report"].probes[0].summary == (
        "Connection refused: nothing is listening at 127.0.0.1:9."
    )


def test_admin_manages_keys_but_not_members_or_project_settings(tenant: Tenant) -> None:
    client = Client()
    client.force_login(make_user("adam", tenant=tenant, role=MemberRole.ADMIN))
    response = client.post(
        "/console/keys/apikey/add/", {"tenant": str(tenant.id), "scopes": ["memory:read"]}
    )
    assert response.status_code == 302
    assert ApiKey.objects.filter(tenant=tenant).count() == 1
    assert client.get(f"/console/projects/{tenant.id}/forget/").status_code == 200
    assert (
        client.post(
            f"/console/projects/{tenant.id}/members/",
            {"action": "add", "username": "adam", "role": "owner"},
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/console/tenants/tenant/{tenant.id}/change/",
            {"name": "Renamed", "rate_limit_per_minute": "5"},
        ).status_code
        == 403
    )
    assert Membership.objects.get(user__username="adam").role == MemberRole.ADMIN
    assert Tenant.objects.get(pk=tenant.pk).name == "acme"


def test_staff_user_creates_a_project_and_becomes_its_owner(console: Client, owner: User) -> None:
    response = console.post(
        "/console/tenants/tenant/add/",
        {"name": "Initech", "slug": "initech", "rate_limit_per_minute": "120"},
    )
    created = Tenant.objects.get(slug="initech")
    assert response.status_code == 302
    assert response["Location"] == f"/console/projects/{created.id}/"
    assert (created.name, created.rate_limit_per_minute) == ("Initech", 120)
    assert Membership.objects.get(tenant=created).user == owner
    assert Membership.objects.get(tenant=created).role == MemberRole.OWNER
    assert console.get(response["Location"]).status_code == 200
    taken = console.post(
        "/console/tenants/tenant/add/",
        {"name": "Again", "slug": "initech", "rate_limit_per_minute": "1"},
    )
    assert taken.status_code == 200 and Tenant.objects.filter(slug="initech").count() == 1


def test_member_without_staff_cannot_create_projects(viewer_console: Client) -> None:
    count = Tenant.objects.count()
    assert (
        viewer_console.post(
            "/console/tenants/tenant/add/", {"name": "X", "slug": "x", "rate_limit_per_minute": "1"}
        ).status_code
        == 403
    )
    assert Tenant.objects.count() == count


def test_owner_renames_project_and_sets_limits_slug_stays(console: Client, tenant: Tenant) -> None:
    response = console.post(
        f"/console/tenants/tenant/{tenant.id}/change/",
        {"name": "Acme Corp", "slug": "hijacked", "rate_limit_per_minute": "0"},
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.slug, tenant.rate_limit_per_minute) == ("Acme Corp", "acme", 0)


def test_owner_manages_members_and_keeps_an_owner(
    console: Client, tenant: Tenant, owner: User
) -> None:
    make_user("bea")
    members = f"/console/projects/{tenant.id}/members/"
    console.post(members, {"action": "add", "username": "bea", "role": "viewer"})
    assert Membership.objects.get(user__username="bea", tenant=tenant).role == "viewer"
    console.post(members, {"action": "role", "username": "bea", "role": "admin"})
    assert Membership.objects.get(user__username="bea", tenant=tenant).role == "admin"
    response = console.post(
        members, {"action": "add", "username": "nobody", "role": "viewer"}, follow=True
    )
    assert "No active console user 'nobody'" in html.unescape(response.content.decode())
    response = console.post(members, {"action": "remove", "user": str(owner.pk)}, follow=True)
    assert "A project needs at least one owner." in response.content.decode()
    response = console.post(
        members, {"action": "role", "username": "ada", "role": "viewer"}, follow=True
    )
    assert "A project needs at least one owner." in response.content.decode()
    assert Membership.objects.get(user=owner, tenant=tenant).role == "owner"
    bea = User.objects.get(username="bea")
    console.post(members, {"action": "remove", "user": str(bea.pk)})
    assert list(
        Membership.objects.filter(tenant=tenant).values_list("user__username", flat=True)
    ) == ["ada"]


def test_event_reenrich_button_only_for_writers(
    console: Client, viewer_console: Client, tenant: Tenant
) -> None:
    event = ingest_enriched(tenant, "I live in Oslo.")
    url = f"/console/memory/event/{event.pk}/change/"
    assert b'id="reenrich"' in console.get(url).content
    assert b'id="reenrich"' not in viewer_console.get(url).content
    Event.objects.filter(pk=event.pk).update(forgotten_at=event.created_at)
    assert b'id="reenrich"' not in console.get(url).content
