"""The console's document pages (issue #18): a user's documents in the memory browser
(status, sections, spans), upload from the browser, delete with a confirmation step.

Uploading and deleting need the admin role, like forget; deleting is a forget of the
document (`memory.forget.memory_forget` with its `document_id`) and ends on its receipt.
Registered on the console site when memory.admin is imported.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from claiv.errors import ApplicationError, NotFound
from enrichment.documents import distil_enqueue
from memory.documents import selectors, store
from memory.documents.models import Document
from memory.forget import ForgetScope, memory_forget
from tenants.models import MemberRole, Tenant

logger = logging.getLogger("claiv.console")
# The console's admin site (claiv.console.site.ConsoleSite), as memory.admin uses it.
site: Any = admin.site

# The API's body limit: a browser upload is held to the same size.
MAX_UPLOAD_BYTES = 1024 * 1024
SPANS_SHOWN = 200


def user_documents(*, tenant: Tenant, user_id: str) -> list[dict[str, Any]]:
    """The user's documents for the memory browser, newest first."""
    items, _total = selectors.document_page(tenant=tenant, user_id=user_id, limit=100)
    return items


class DocumentUploadForm(forms.Form):
    user_id = forms.CharField(max_length=255, label="End user id")
    project_id = forms.CharField(max_length=255, label="project_id")
    document_name = forms.CharField(max_length=1000, label="Name")
    document_id = forms.CharField(
        max_length=255,
        required=False,
        label="Document id",
        help_text="Optional; the same id again replaces the document.",
    )
    file = forms.FileField(required=False, label="Text or Markdown file")
    content = forms.CharField(widget=forms.Textarea, required=False, label="…or paste the text")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                raise forms.ValidationError("The file is over 1 MiB.")
            try:
                data["content"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
        content = data.get("content") or ""
        if not content.strip():
            raise forms.ValidationError("Choose a file or paste the text.")
        if len(content.encode()) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The text is over 1 MiB.")
        return data


def _document_url(tenant: Tenant, document: Document) -> str:
    return (
        reverse("admin:project_memory_document", args=[tenant.pk])
        + f"?document_id={document.external_id}"
    )


@site.project_page(
    "memory/documents/upload/",
    name="memory_document_upload",
    title="Upload a document",
    min_role=MemberRole.ADMIN,
)
def document_upload_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    form = (
        DocumentUploadForm(request.POST, request.FILES)
        if request.method == "POST"
        else DocumentUploadForm(initial={"user_id": request.GET.get("user_id", "")})
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = store.document_upload(
                tenant=tenant,
                user_id=data["user_id"],
                project_id=data["project_id"],
                name=data["document_name"],
                content=data["content"],
                document_id=data["document_id"] or None,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            distil_enqueue(result.document)
            logger.info(
                "console document upload tenant=%s spans=%d by user=%s",
                tenant.pk,
                result.document.spans_created,
                request.user.pk,
            )
            messages.success(request, "Uploaded. Summaries follow in the background.")
            return HttpResponseRedirect(_document_url(tenant, result.document))
    context = site.project_context(
        request, tenant, role, title="Upload a document", tab="Memory", form=form
    )
    return TemplateResponse(request, "console/document_upload.html", context)


@site.project_page("memory/document/", name="memory_document", title="Document")
def document_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """A document: status, section tree, spans; step 1 of deleting it."""
    try:
        document = store.document_of_tenant(
            tenant=tenant, document_id=request.GET.get("document_id", "")[:255]
        )
    except NotFound as exc:
        raise Http404("No such document.") from exc
    sections = selectors.document_sections(document)
    context = site.project_context(
        request,
        tenant,
        role,
        title=f"Document {document.name}",
        tab="Memory",
        document=document,
        sections=sections,
        spans=selectors.document_spans(document, limit=SPANS_SHOWN),
        confirm=request.GET.get("delete") == "1",
    )
    return TemplateResponse(request, "console/document.html", context)


@site.project_page(
    "memory/document/delete/",
    name="memory_document_delete",
    title="Delete a document",
    min_role=MemberRole.ADMIN,
)
def document_delete_view(request: HttpRequest, tenant: Tenant, role: str) -> HttpResponse:
    """Step 2 (POST from the confirmation): forget the document, show the receipt."""
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:project_memory", args=[tenant.pk]))
    try:
        document = store.document_of_tenant(
            tenant=tenant, document_id=request.POST.get("document_id", "")[:255]
        )
    except NotFound as exc:
        raise Http404("No such document.") from exc
    receipt = memory_forget(
        tenant=tenant,
        scope=ForgetScope(user_id=document.user_id, document_id=document.external_id),
    )
    logger.info(
        "console document delete tenant=%s receipt=%s by user=%s",
        tenant.pk,
        receipt.pk,
        request.user.pk,
    )
    messages.success(request, "Document deleted. This is the signed receipt.")
    return HttpResponseRedirect(reverse("admin:project_receipt", args=[tenant.pk, receipt.pk]))
