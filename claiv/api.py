"""The tenant-scoped API base: strict input schemas, scope checks, the tenant from the key,
rate limits and quotas, and the OpenAPI description of all of it.

Every API view derives from `TenantScopedAPIView`. The tenant comes only from the
authenticated API key (`request.auth`), never from the request body, and subclasses
cannot swap it. Right after authentication each request is counted against the key's
per-minute limit (`claiv.ratelimit`); every authenticated response carries the
`X-RateLimit-*` headers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from django.http import HttpResponseBase
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from claiv.errors import STATUS_CODES, ApplicationError, RateLimited
from claiv.ratelimit import rate_limit_hit
from tenants.models import Tenant


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not declare, naming them in `details.unknown_fields`."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ApplicationError("The body must be a JSON object.")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ApplicationError(
                "Unknown fields: " + ", ".join(unknown), details={"unknown_fields": unknown}
            )
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


# Unix seconds are bounded to years 1970–9999: outside that they cannot be a time.
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "number", "minimum": 0, "maximum": MAX_UNIX_SECONDS},
        ]
    }
)
class FlexibleDateTimeField(serializers.Field):
    """ISO-8601 (with offset, or naive meaning UTC) or Unix seconds; returns aware UTC."""

    default_error_messages = {"invalid": "Expected ISO-8601 or Unix seconds."}

    def to_internal_value(self, data: Any) -> datetime:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int | float):
            # The contract's range (the schema above): a negative number is not a time.
            if not 0 <= data <= MAX_UNIX_SECONDS:
                self.fail("invalid")
            return datetime.fromtimestamp(float(data), tz=UTC)
        if isinstance(data, str):
            try:
                parsed = datetime.fromisoformat(data.strip().replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
                # An offset can push a valid local time past year 1 or 9999 in UTC.
                return parsed.astimezone(UTC)
            except (ValueError, OverflowError):
                self.fail("invalid")
        self.fail("invalid")
        raise AssertionError("unreachable")

    def to_representation(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat()


class HasScope(BasePermission):
    """Allows the request when the API key carries the view's `required_scope`."""

    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        required = getattr(view, "required_scope", None)
        key = request.auth
        return key is not None and (required is None or required in key.scopes)


class TenantScopedAPIView(APIView):
    """Base for every tenant API view: authenticated key, rate limit, scope check, quota,
    `self.tenant`.

    `quota_metrics` names the plan quotas (memory.usage.QUOTA_METRICS) an endpoint consumes;
    when one is used up the request is refused with 429 `quota_exceeded`.
    """

    permission_classes: ClassVar[list[type[BasePermission]]] = [HasScope]
    required_scope: ClassVar[str | None] = None
    quota_metrics: ClassVar[tuple[str, ...]] = ()

    @property
    def tenant(self) -> Tenant:
        # The key's tenant, fixed by authentication; a subclass has nothing to override.
        return self.request.auth.tenant

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        key = request.auth
        if key is None:
            return  # the permission check answers 401
        state = rate_limit_hit(tenant=key.tenant, api_key_id=str(key.pk))
        request._request.rate_limit = state
        if state is not None and state.limited:
            raise RateLimited(
                f"Rate limit of {state.limit} requests per minute exceeded for this API key.",
                details={"limit": state.limit, "retry_after": state.reset_seconds},
            )

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if self.quota_metrics:
            # Imported here: the project layer must not load app models at import time.
            from memory.usage import usage_quota_check

            usage_quota_check(tenant=self.tenant, metrics=self.quota_metrics)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


def meter(request: Request, *, tokens: int = 0, ingest_events: int = 0) -> None:
    """Add this request's billable quantities; `claiv.middleware.UsageMiddleware` records them."""
    raw = request._request
    raw.usage_tokens = getattr(raw, "usage_tokens", 0) + tokens
    raw.usage_ingest_events = getattr(raw, "usage_ingest_events", 0) + ingest_events


def validated(
    serializer_class: type[serializers.Serializer], data: Any, **context: Any
) -> dict[str, Any]:
    """Validate `data` or raise (rendered as 400 in the envelope)."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ItemValidator:
    """`validated` for many items of one serializer class (a batch's events).

    `validated` builds a serializer per call, and each one deep-copies its declared fields
    (~3 ms of a batch item's ~4 ms under a profiler: 1.5 s of a 500-event batch). One
    instance's fields are built once and reused; `run_validation` is what `is_valid` runs,
    and its errors are reported in the same shape (`serializers.ValidationError` with the
    per-field detail)."""

    def __init__(self, serializer_class: type[serializers.Serializer], **context: Any) -> None:
        self._serializer = serializer_class(context=context)
        self._serializer.fields  # noqa: B018 - built (deep-copied) once, here

    def __call__(self, data: Any) -> dict[str, Any]:
        try:
            return dict(self._serializer.run_validation(data))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_serializer_errors(exc.detail)) from None


def _serializer_errors(detail: Any) -> Any:
    """As `Serializer.errors` words them: a bare null item is "No data provided"."""
    if isinstance(detail, list) and len(detail) == 1 and getattr(detail[0], "code", None) == "null":
        return {api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail("No data provided", code="null")]}
    return detail


# --- OpenAPI ------------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=sorted(STATUS_CODES))
    message = serializers.CharField()
    request_id = serializers.CharField(allow_blank=True)
    details = serializers.DictField(
        help_text="Machine-readable specifics, e.g. field errors; `retry_after` (seconds) on 429."
    )


class ErrorSerializer(serializers.Serializer):
    """The envelope of every non-2xx response (API.md §1)."""

    error = ErrorDetailSerializer()


_ERROR_TEXT = {
    400: "Invalid request (envelope `invalid_request`; `details` names the fields).",
    401: "Missing, malformed, unknown or revoked API key (`unauthorized`).",
    403: "The API key lacks the scope this endpoint needs (`forbidden`).",
    404: "No such resource in this tenant (`not_found`).",
    409: "Idempotency key reused with a different body (`conflict`).",
    413: "Body over 1 MiB, metadata over 8 KiB, more than 500 events, a memory's content or a "
    "query over 32,000 characters, or event content over the operator's "
    "`CLAIV_EVENT_CONTENT_MAX_CHARS` when set (`payload_too_large`).",
    415: "The body is not `application/json` (`unsupported_media_type`).",
    429: "`rate_limited` (per-key limit per minute) or `quota_exceeded` (plan quota); "
    "`Retry-After` header and `details.retry_after`.",
    500: "Internal error (`internal_error`); never a stack trace.",
    503: "A dependency is unavailable (`unavailable`).",
}


def api_doc(
    *,
    request: Any = None,
    response: Any,
    errors: tuple[int, ...] = (),
    summary: str = "",
    description: str = "",
    parameters: list[Any] | None = None,
    auth: bool = True,
    operation_id: str | None = None,
    success: int | tuple[int, str] = 200,
) -> Any:
    """`extend_schema` with the error envelope for every status the endpoint can return;
    `success` is the status of the answer (201 for a creation), or (status, media type)
    for an answer that is not JSON."""
    codes = set(errors) | ({400, 401, 403, 429, 500} if auth else {500})
    if request is not None:
        codes |= {413, 415}
    responses: dict[int | tuple[int, str], Any] = {success: response}
    for status in sorted(codes):
        responses[status] = OpenApiResponse(
            response=ErrorSerializer, description=_ERROR_TEXT[status]
        )
    return extend_schema(
        request=request,
        responses=responses,
        summary=summary or None,
        description=description or None,
        parameters=parameters,
        operation_id=operation_id,
    )


class ContractAutoSchema(AutoSchema):
    """drf-spectacular's schema generator; request bodies are JSON only (our one parser)."""

    def map_parsers(self) -> list[str]:
        return ["application/json"]
