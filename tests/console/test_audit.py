"""The console's audit trail page: the project's trail (memory.audit.audit_list, as
GET /v1/audit) with filters by end user, action and time, cursor pages, any member may read
it, another project's trail is a 404, bad filters change nothing and read nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from keys.services import api_key_create
from memory.audit import audit_flush, audit_record
from memory.models import AuditEntry
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

SECRET = "Falcon launch code 7781"


def _page(client: Client, tenant: Tenant, **params: str):  # -> response
    return client.get(f"/console/projects/{tenant.id}/audit/", params)


def _actions(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return [e.action for e in response.context["entries"]]


def _record(tenant: Tenant, n: int, *, user_id: str = "u1", action: str = "recall") -> None:
    key, _ = api_key_create(tenant=tenant, name="app")
    for i in range(n):
        audit_record(
            key=key,
            action=action,
            endpoint="POST /v1/recall",
            request_id=f"req-{i}",
            user_id=user_id,
            counts={"facts": i},
        )


def test_the_trail_with_filters_and_pages(console: Client, tenant: Tenant) -> None:
    _record(tenant, 3, user_id="alice")
    _record(tenant, 2, user_id="bob", action="ingest")
    page = _page(console, tenant)
    assert _actions(page) == ["ingest"] * 2 + ["key_created"] + ["recall"] * 3 + ["key_created"]
    html = page.content.decode()
    assert "Audit trail" in html and "req-2" in html and "alice" in html
    assert _actions(_page(console, tenant, user_id="alice")) == ["recall"] * 3
    assert _actions(_page(console, tenant, action="key_created")) == ["key_created"] * 2
    future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert _actions(_page(console, tenant, since=future)) == []
    assert _actions(_page(console, tenant, until=future, user_id="bob")) == ["ingest"] * 2


def test_pages_by_cursor(console: Client, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memory.admin.AUDIT_PAGE_SIZE", 2)
    _record(tenant, 3)  # and one key_created: four entries, two pages
    first = _page(console, tenant)
    assert first.context["next_query"] and not first.context["paged"]
    older = console.get(f"/console/projects/{tenant.id}/audit/?{first.context['next_query']}")
    assert older.status_code == 200 and older.context["paged"]
    ids = [e.id for e in first.context["entries"] + older.context["entries"]]
    assert len(ids) == 4 == len(set(ids)) and older.context["next_query"] == ""
    assert b'id="audit-newest"' in older.content


@pytest.mark.parametrize(
    "params",
    [{"action": "bogus"}, {"since": "yesterday"}, {"cursor": "nope"}, {"user_id": "x" * 300}],
)
def test_bad_filters_show_an_error_and_read_nothing(
    console: Client, tenant: Tenant, params: dict[str, str]
) -> None:
    _record(tenant, 1)
    page = _page(console, tenant, **params)
    assert page.status_code == 200
    assert page.context["entries"] == [] and page.context["form"].errors


def test_members_of_any_role_read_it_and_other_projects_are_not_found(
    console: Client,
    viewer_console: Client,
    tenant: Tenant,
    other_tenant: Tenant,
    other_owner: User,
) -> None:
    _record(tenant, 1, user_id="alice")
    _record(other_tenant, 1, user_id="olgas-user")
    assert _actions(_page(viewer_console, tenant)) == ["recall", "key_created"]
    assert _page(console, other_tenant).status_code == 404
    assert _page(viewer_console, other_tenant).status_code == 404
    assert "olgas-user" not in _page(console, tenant).content.decode()
    # The project's tab is there for a viewer too.
    overview = viewer_console.get(f"/console/projects/{tenant.id}/").content.decode()
    assert f"/console/projects/{tenant.id}/audit/" in overview
    anonymous = Client().get(f"/console/projects/{tenant.id}/audit/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_page_shows_no_content(console: Client, tenant: Tenant) -> None:
    from tests.conftest import Api

    api = Api(Client(), api_key_create(tenant=tenant)[1])
    assert api.post("/v1/memories", {"user_id": "u1", "content": SECRET}).status_code == 201
    audit_flush()
    assert AuditEntry.objects.filter(tenant=tenant, action="memory_add").exists()
    page = _page(console, tenant).content.decode()
    assert "memory_add" in page and "Falcon" not in page and "7781" not in page
