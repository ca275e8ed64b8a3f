"""A console user of acme cannot see or act on globex (the other account) through any page,
action or URL: globex's ids behave exactly like ids that do not exist (404), and nothing of
globex changes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.test import Client

from keys.models import ApiKey, ApiKeyAuditEntry
from keys.services import api_key_create
from memory.forget import ForgetScope, memory_forget
from memory.models import DeletionReceipt, Episode, Event, Fact
from tenants.models import ConsoleConnection, Membership, Tenant
from tests.console.conftest import make_user
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db


@dataclass
class Rows:
    key: ApiKey
    audit: ApiKeyAuditEntry
    event: Event
    fact: Fact
    episode: Episode
    receipt: DeletionReceipt


def _rows(tenant: Tenant, user_id: str, text: str, key_name: str) -> Rows:
    key, _ = api_key_create(tenant=tenant, name=key_name)
    event = ingest_enriched(tenant, text, user_id=user_id)
    episode = Episode.objects.create(
        tenant=tenant,
        user_id=user_id,
        conversation_id="c-manual",
        summary=f"{user_id} said: {text}",
        event_count=1,
    )
    receipt = memory_forget(tenant=tenant, scope=ForgetScope(user_id=f"{user_id}-gone"))
    return Rows(
        key=key,
        audit=ApiKeyAuditEntry.objects.get(key=key),
        event=event,
        fact=Fact.objects.filter(tenant=tenant, source_event=event).first(),
        episode=episode,
        receipt=receipt,
    )


@pytest.fixture
def acme(tenant: Tenant) -> Rows:
    return _rows(tenant, "alice", "I live in Oslo.", "acme-backend")


@pytest.fixture
def globex(other_tenant: Tenant, other_owner: User) -> Rows:
    rows = _rows(other_tenant, "bob", "My cat Whiskers lives in Lima.", "globex-secret")
    assert rows.fact is not None
    return rows


def _not_found(response: object) -> None:
    assert response.status_code == 404  # type: ignore[attr-defined]
    assert b"Not found" in response.content  # type: ignore[attr-defined]


CHANGELISTS = [
    "tenants/tenant",
    "keys/apikey",
    "keys/apikeyauditentry",
    "memory/event",
    "memory/fact",
    "memory/episode",
]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_changelists_list_only_own_rows(
    console: Client, acme: Rows, globex: Rows, changelist: str
) -> None:
    response = console.get(f"/console/{changelist}/")
    assert response.status_code == 200
    model = response.context["cl"].model
    field = "id" if model is Tenant else "tenant"
    expected = model.objects.filter(**{field: acme.key.tenant_id}).count()
    assert expected > 0
    assert response.context["cl"].result_count == expected
    # A CSRF token is random letters and once held "bob": it is not a row of anyone's.
    body = _CSRF_VALUE.sub("", response.content.decode())
    for marker in ("globex", "Whiskers", globex.key.prefix, "bob"):
        assert marker not in body


_CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.mark.parametrize(
    "changelist", ["memory/event", "memory/fact", "memory/episode", "keys/apikey"]
)
def test_search_and_project_filter_cannot_reach_other_tenant(
    console: Client, acme: Rows, globex: Rows, other_tenant: Tenant, changelist: str
) -> None:
    for query in (
        {"q": "Whiskers"},
        {"q": "globex-secret"},
        {"q": "bob"},
        {"tenant": str(other_tenant.id)},
    ):
        response = console.get(f"/console/{changelist}/", query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0
    filter_choices = console.get(f"/console/{changelist}/").content.decode()
    assert f"tenant={other_tenant.id}" not in filter_choices


def test_other_tenants_objects_are_404_everywhere(
    console: Client, acme: Rows, globex: Rows
) -> None:
    urls = [
        f"/console/tenants/tenant/{globex.key.tenant_id}/change/",
        f"/console/tenants/tenant/{globex.key.tenant_id}/history/",
        f"/console/keys/apikey/{globex.key.pk}/change/",
        f"/console/keys/apikey/{globex.key.pk}/history/",
        f"/console/keys/apikey/{globex.key.pk}/created/",
        f"/console/keys/apikey/{globex.key.pk}/revoke/",
        f"/console/keys/apikey/{globex.key.pk}/rotate/",
        f"/console/keys/apikeyauditentry/{globex.audit.pk}/change/",
        f"/console/memory/event/{globex.event.pk}/change/",
        f"/console/memory/fact/{globex.fact.pk}/change/",
        f"/console/memory/episode/{globex.episode.pk}/change/",
    ]
    for url in urls:
        _not_found(console.get(url))
    # and exactly like an id that does not exist at all
    _not_found(console.get("/console/keys/apikey/00000000-0000-0000-0000-000000000000/change/"))
    for url in (
        f"/console/keys/apikey/{globex.key.pk}/revoke/",
        f"/console/keys/apikey/{globex.key.pk}/rotate/",
        f"/console/memory/event/{globex.event.pk}/reenrich/",
        f"/console/tenants/tenant/{globex.key.tenant_id}/change/",
    ):
        _not_found(
            console.post(url, {"grace": "0", "name": "Taken over", "rate_limit_per_minute": "1"})
        )
    globex.key.refresh_from_db()
    globex.event.refresh_from_db()
    assert globex.key.revoked_at is None and globex.key.replaced_by_id is None
    assert ApiKey.objects.filter(tenant_id=globex.key.tenant_id).count() == 1
    assert globex.event.status == "enriched" and globex.event.stage == "tier"
    assert Tenant.objects.get(pk=globex.key.tenant_id).name == "globex"


def test_actions_posted_with_other_tenants_ids_change_nothing(
    console: Client, acme: Rows, globex: Rows
) -> None:
    facts_before = Fact.objects.filter(tenant_id=globex.event.tenant_id).count()
    console.post(
        "/console/keys/apikey/",
        {
            "action": "revoke_selected",
            "confirmed": "yes",
            ACTION_CHECKBOX_NAME: [str(globex.key.pk)],
        },
    )
    console.post(
        "/console/keys/apikey/",
        {"action": "revoke_selected", "index": "0", ACTION_CHECKBOX_NAME: [str(globex.key.pk)]},
    )
    console.post(
        "/console/memory/event/",
        {"action": "reenrich_selected", "index": "0", ACTION_CHECKBOX_NAME: [str(globex.event.pk)]},
    )
    globex.key.refresh_from_db()
    globex.event.refresh_from_db()
    assert globex.key.revoked_at is None
    assert globex.event.status == "enriched"
    assert Fact.objects.filter(tenant_id=globex.event.tenant_id).count() == facts_before
    assert ApiKeyAuditEntry.objects.filter(tenant_id=globex.key.tenant_id).count() == 1


def test_autocomplete_offers_only_own_projects(console: Client, acme: Rows, globex: Rows) -> None:
    def terms(term: str) -> list[str]:
        response = console.get(
            "/console/autocomplete/",
            {"app_label": "keys", "model_name": "apikey", "field_name": "tenant", "term": term},
        )
        assert response.status_code == 200
        return [item["text"] for item in response.json()["results"]]

    assert terms("acme") == ["acme"]
    assert terms("glob") == []
    assert terms("") == ["acme"]


def test_project_pages_of_other_tenant_are_404(
    console: Client, acme: Rows, globex: Rows, other_tenant: Tenant
) -> None:
    base = f"/console/projects/{other_tenant.id}"
    for route in (
        "/",
        "/memory/",
        "/memory/user/?user_id=bob",
        "/forget/",
        "/receipts/",
        f"/receipts/{globex.receipt.pk}/",
        "/usage/",
        "/members/",
        "/connection/",
    ):
        _not_found(console.get(base + route))
    receipts = DeletionReceipt.objects.filter(tenant=other_tenant).count()
    _not_found(console.post(f"{base}/forget/", {"action": "confirm", "user_id": "bob"}))
    _not_found(
        console.post(f"{base}/members/", {"action": "add", "username": "ada", "role": "owner"})
    )
    _not_found(
        console.post(
            f"{base}/connection/", {"action": "save", "api_base_url": "https://93.184.216.34"}
        )
    )
    _not_found(console.post(f"{base}/connection/", {"action": "test"}))
    assert DeletionReceipt.objects.filter(tenant=other_tenant).count() == receipts
    assert Fact.objects.filter(tenant=other_tenant, user_id="bob").exists()
    assert not Membership.objects.filter(tenant=other_tenant, user__username="ada").exists()
    assert not ConsoleConnection.objects.filter(tenant=other_tenant).exists()


def test_own_project_urls_do_not_reach_other_tenants_rows(
    console: Client, acme: Rows, globex: Rows, tenant: Tenant
) -> None:
    base = f"/console/projects/{tenant.id}"
    _not_found(console.get(f"{base}/receipts/{globex.receipt.pk}/"))
    page = console.get(f"{base}/memory/user/", {"user_id": "bob"})
    assert page.status_code == 200
    assert page.context["current_facts"] == [] and list(page.context["events"]) == []
    assert b"Whiskers" not in page.content
    users = console.get(f"{base}/memory/").context["users"]
    assert [u.user_id for u in users] == ["alice"]
    receipts = console.get(f"{base}/receipts/").context["checks"]
    assert [c.receipt.pk for c in receipts] == [acme.receipt.pk]


def test_forget_of_a_shared_user_id_touches_only_own_tenant(
    console: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Oslo.", user_id="sam")
    ingest_enriched(other_tenant, "I live in Lima.", user_id="sam")
    theirs = Fact.objects.filter(tenant=other_tenant, user_id="sam").count()
    preview = console.post(
        f"/console/projects/{tenant.id}/forget/", {"action": "preview", "user_id": "sam"}
    ).context["preview"]
    assert preview["events_matched"] == 1
    assert preview["facts"] == Fact.objects.filter(tenant=tenant, user_id="sam").count()
    console.post(f"/console/projects/{tenant.id}/forget/", {"action": "confirm", "user_id": "sam"})
    assert Fact.objects.filter(tenant=tenant, user_id="sam").count() == 0
    assert Fact.objects.filter(tenant=other_tenant, user_id="sam").count() == theirs > 0
    assert not DeletionReceipt.objects.filter(tenant=other_tenant).exists()


def test_index_lists_only_member_projects_and_a_superuser_sees_all(
    console: Client, acme: Rows, globex: Rows
) -> None:
    projects = [p["tenant"].slug for p in console.get("/console/").context["projects"]]
    assert projects == ["acme"]
    root = Client()
    root.force_login(make_user("root", superuser=True))
    assert [p["tenant"].slug for p in root.get("/console/").context["projects"]] == [
        "acme",
        "globex",
    ]
    assert root.get("/console/keys/apikey/").context["cl"].result_count == 2
    assert root.get(f"/console/keys/apikey/{globex.key.pk}/change/").status_code == 200


def test_every_console_admin_is_tenant_scoped_and_cannot_unscope_itself() -> None:
    from django.contrib import admin
    from django.contrib.auth.models import Group

    from claiv.console.scoping import TenantScopedAdmin

    unscoped = [
        model.__name__
        for model, model_admin in admin.site._registry.items()
        if model not in (User, Group) and not isinstance(model_admin, TenantScopedAdmin)
    ]
    assert unscoped == []
    with pytest.raises(TypeError, match="must not override get_queryset"):
        type("Sneaky", (TenantScopedAdmin,), {"get_queryset": lambda self, request: None})
    with pytest.raises(TypeError, match="lists every tenant"):
        type("Leaky", (TenantScopedAdmin,), {"list_filter": ("tenant",)})
