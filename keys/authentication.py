"""DRF authentication by `Authorization: Bearer ck_…`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from keys.models import ApiKey
from keys.selectors import api_key_authenticate
from keys.services import api_key_touch


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None  # -> 401 "credentials were not provided"
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = api_key_authenticate(raw=raw.strip())
        if key is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(key=key)
        request._request.tenant_id = str(key.tenant_id)  # for the request log line
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the key in the OpenAPI schema (registered by being defined)."""

    target_class = ApiKeyAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ck_<prefix>_<secret>"}
