"""The console's document pages (issue #18): a user's documents in the memory browser,
upload from the browser (file or pasted text), the document page with its sections and
spans, and delete with a confirmation step ending on the signed receipt."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from memory.documents.store import document_upload
from memory.models import DeletionReceipt, Document, DocumentSpan
from tenants.models import Tenant
from tests.factories import ingest_enriched
from tests.support.manual import MANUAL

pytestmark = pytest.mark.django_db


def _upload(console: Client, tenant: Tenant, **fields: object) -> object:
    return console.post(
        f"/console/projects/{tenant.id}/memory/documents/upload/",
        {"user_id": "alice", "project_id": "p1", "document_name": "Skyline Manual"} | fields,
    )


def test_upload_browse_and_delete_with_confirmation(console: Client, tenant: Tenant) -> None:
    response = _upload(
        console,
        tenant,
        document_id="manual",
        file=SimpleUploadedFile("manual.md", MANUAL.encode(), content_type="text/markdown"),
    )
    assert response.status_code == 302
    document = Document.objects.get(tenant=tenant)
    assert (document.external_id, document.user_id) == ("manual", "alice")
    assert document.spans_created == DocumentSpan.objects.count() > 0

    user_page = console.get(f"/console/projects/{tenant.id}/memory/user/", {"user_id": "alice"})
    assert [d["document_id"] for d in user_page.context["documents"]] == ["manual"]
    assert "Skyline Manual" in user_page.content.decode()

    page = console.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Troubleshooting" in body and "fifteen seconds" in body and "processing" in body
    assert [s.title for s in page.context["sections"]][:2] == [
        "Skyline Router Manual",
        "Installation",
    ]

    confirm = console.get(response["Location"] + "&delete=1")
    assert "Delete and sign a receipt" in confirm.content.decode()
    assert Document.objects.count() == 1  # the confirmation step changes nothing
    deleted = console.post(
        f"/console/projects/{tenant.id}/memory/document/delete/", {"document_id": "manual"}
    )
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert deleted["Location"].endswith(f"/receipts/{receipt.pk}/")
    assert receipt.scope["document_id"] == "manual"
    assert Document.objects.count() == DocumentSpan.objects.count() == 0


def test_pasted_text_and_bad_uploads(console: Client, tenant: Tenant) -> None:
    assert _upload(console, tenant, content="Plain notes.\n\nSecond block.").status_code == 302
    assert Document.objects.get().spans_created == 2
    empty = _upload(console, tenant, content="  ")
    assert empty.status_code == 200 and empty.context["form"].errors
    binary = _upload(console, tenant, file=SimpleUploadedFile("x.bin", b"\xff\xfe\x00"))
    assert binary.status_code == 200 and binary.context["form"].errors
    assert Document.objects.count() == 1


def test_viewers_cannot_upload_or_delete_and_other_projects_see_nothing(
    viewer_console: Client, console: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    _upload(console, tenant, content="Notes.", document_id="notes")
    assert _upload(viewer_console, tenant, content="x").status_code == 403
    refused = viewer_console.post(
        f"/console/projects/{tenant.id}/memory/document/delete/", {"document_id": "notes"}
    )
    assert refused.status_code == 403
    page = viewer_console.get(
        f"/console/projects/{tenant.id}/memory/document/", {"document_id": "notes"}
    )
    assert page.status_code == 200 and "Delete this document" not in page.content.decode()
    assert Document.objects.count() == 1
    other = console.get(
        f"/console/projects/{other_tenant.id}/memory/document/", {"document_id": "notes"}
    )
    assert other.status_code in (403, 404)


def test_a_user_with_only_documents_is_in_the_users_list(
    console: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Oslo.", user_id="bob")
    assert _upload(console, tenant, document_id="manual", content=MANUAL).status_code == 302
    document_upload(
        tenant=other_tenant, user_id="carol", project_id="p", name="Theirs", content="Text."
    )
    page = console.get(f"/console/projects/{tenant.id}/memory/")
    rows = [(u.user_id, u.events, u.facts, u.documents) for u in page.context["users"]]
    # The upload is newer than bob's event (at the factories' base time); carol is not ours.
    assert rows == [("alice", 0, 0, 1), ("bob", 1, 1, 0)]
    assert "?user_id=alice" in page.content.decode()
    found = console.get(f"/console/projects/{tenant.id}/memory/", {"q": "ali"})
    assert [u.user_id for u in found.context["users"]] == ["alice"]
