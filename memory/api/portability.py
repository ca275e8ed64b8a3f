"""Export and import as API jobs (memory.portability_jobs): the JSONL of `manage.py export`
and `import`, for the key's own tenant.

- `POST /v1/exports` {user_id?, idempotency_key?} → 202 job; `GET /v1/exports/{id}`;
  `GET /v1/exports/{id}/download` → the JSONL (`application/x-ndjson`). Scope memory:read.
- `POST /v1/imports` {jsonl, idempotency_key?} → 202 job; `GET /v1/imports/{id}`. Scope
  memory:write. The file travels as one JSON string (requests are JSON, API.md §1), so
  within the 1 MiB body limit; larger files go through `manage.py import`.

Another tenant's job id answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc, validated
from claiv.errors import request_id_of
from keys.models import SCOPE_READ, SCOPE_WRITE, ApiKey
from memory.api import schema, serializers
from memory.models import PortabilityJobKind
from memory.portability_jobs import (
    portability_export_file,
    portability_job_as_dict,
    portability_job_create,
    portability_job_get,
)

_JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH)


def _create(view: TenantScopedAPIView, request: Request, kind: str, **fields: Any) -> Response:
    key = cast(ApiKey, request.auth)
    raw = request._request
    job, _ = portability_job_create(
        tenant=view.tenant,
        kind=kind,
        actor=key.prefix,
        endpoint=f"{raw.method} {raw.path}",
        request_id=request_id_of(raw),
        **fields,
    )
    return Response(portability_job_as_dict(job), status=202)


class ExportsView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        request=serializers.ExportCreateSerializer,
        response=schema.ExportJobSerializer,
        errors=(409,),
        success=202,
        summary="Start an export of the tenant's memory (or one user's) as JSONL",
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.ExportCreateSerializer, request.data)
        return _create(
            self,
            request,
            PortabilityJobKind.EXPORT,
            user_id=data.get("user_id") or "",
            idempotency_key=data.get("idempotency_key"),
        )


class ExportDetailView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        response=schema.ExportJobSerializer,
        errors=(404,),
        parameters=[_JOB_ID],
        summary="An export job's status, counts and error",
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = portability_job_get(tenant=self.tenant, kind=PortabilityJobKind.EXPORT, job_id=job_id)
        return Response(portability_job_as_dict(job))


class ExportDownloadView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        response=OpenApiResponse(
            response=OpenApiTypes.STR,
            description="The JSONL file: a header line, then events, facts, episodes and "
            "receipts, one JSON object per line.",
        ),
        success=(200, "application/x-ndjson"),
        errors=(404, 409),
        parameters=[_JOB_ID],
        summary="An export's file; 409 while the job has not succeeded",
    )
    def get(self, request: Request, job_id: str) -> HttpResponse:
        text = portability_export_file(tenant=self.tenant, job_id=job_id)
        response = HttpResponse(text.encode(), content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="claiv-export-{job_id}.jsonl"'
        response["Cache-Control"] = "no-store"  # a user's memory: no shared cache keeps it
        return response


class ImportsView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE

    @api_doc(
        request=serializers.ImportCreateSerializer,
        response=schema.ImportJobSerializer,
        errors=(409,),
        success=202,
        summary="Start an import of an export file (JSONL in a JSON string) into this tenant",
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.ImportCreateSerializer, request.data)
        return _create(
            self,
            request,
            PortabilityJobKind.IMPORT,
            jsonl=data["jsonl"],
            idempotency_key=data.get("idempotency_key"),
        )


class ImportDetailView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE

    @api_doc(
        response=schema.ImportJobSerializer,
        errors=(404,),
        parameters=[_JOB_ID],
        summary="An import job's status, counts and error",
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = portability_job_get(tenant=self.tenant, kind=PortabilityJobKind.IMPORT, job_id=job_id)
        return Response(portability_job_as_dict(job))
