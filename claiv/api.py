"""The tenant-scoped API base: strict input schemas, scope checks, the tenant from the key.

Every API view derives from `TenantScopedAPIView`. The tenant comes only from the
authenticated API key (`request.auth`), never from the request body, and subclasses
cannot swap it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from claiv.errors import ApplicationError
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


class FlexibleDateTimeField(serializers.Field):
    """ISO-8601 (with offset, or naive meaning UTC) or Unix seconds; returns aware UTC."""

    default_error_messages = {"invalid": "Expected ISO-8601 or Unix seconds."}

    def to_internal_value(self, data: Any) -> datetime:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int | float):
            try:
                return datetime.fromtimestamp(float(data), tz=UTC)
            except (OverflowError, OSError, ValueError):
                self.fail("invalid")
        if isinstance(data, str):
            try:
                parsed = datetime.fromisoformat(data.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail("invalid")
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
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
    """Base for every tenant API view: authenticated key, scope check, `self.tenant`."""

    permission_classes: ClassVar[list[type[BasePermission]]] = [HasScope]
    required_scope: ClassVar[str | None] = None

    @property
    def tenant(self) -> Tenant:
        # The key's tenant, fixed by authentication; a subclass has nothing to override.
        return self.request.auth.tenant


def validated(serializer_class: type[serializers.Serializer], data: Any,
              **context: Any) -> dict[str, Any]:
    """Validate `data` or raise (rendered as 400 in the envelope)."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
