"""Request shapes of the memory API (strict: unknown fields are rejected)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from claiv.api import FlexibleDateTimeField, StrictCharField, StrictSerializer
from claiv.errors import InvalidRequest, PayloadTooLarge
from memory.models import EventType, Role, Scope

MAX_CONTENT_CHARS = 32_000
MAX_METADATA_BYTES = 8 * 1024


def _opaque_id(**kwargs: Any) -> StrictCharField:
    return StrictCharField(min_length=1, max_length=255, trim_whitespace=False, **kwargs)


def _merge_alias(attrs: dict[str, Any], name: str, alias: str) -> None:
    """`thread_id` is the v1 name of `conversation_id`; both accepted, they must agree."""
    primary, other = attrs.get(name), attrs.pop(alias, None)
    if primary is not None and other is not None and primary != other:
        raise InvalidRequest(f"{name} and {alias} disagree.", details={"fields": [name, alias]})
    if primary is None and other is not None:
        attrs[name] = other


class IngestSerializer(StrictSerializer):
    user_id = _opaque_id()
    type = serializers.ChoiceField(choices=EventType.choices)
    # Length is checked in validate_content so an oversize body gets 413, not 400.
    content = StrictCharField(trim_whitespace=False, allow_blank=True)
    conversation_id = _opaque_id(required=False, allow_null=True)
    thread_id = _opaque_id(required=False, allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    event_time = FlexibleDateTimeField(required=False, allow_null=True)
    idempotency_key = _opaque_id(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    project_id = _opaque_id(required=False, allow_null=True)
    scope = serializers.ChoiceField(choices=Scope.choices, required=False, allow_null=True)

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("content must not be empty.")
        if len(value) > MAX_CONTENT_CHARS:
            raise PayloadTooLarge(f"content is limited to {MAX_CONTENT_CHARS} characters.",
                                  details={"field": "content", "limit": MAX_CONTENT_CHARS})
        return value

    def validate_metadata(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be an object.")
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise PayloadTooLarge(f"metadata is limited to {MAX_METADATA_BYTES} bytes.",
                                  details={"field": "metadata", "limit": MAX_METADATA_BYTES})
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        if self.context.get("require_conversation") and not attrs.get("conversation_id"):
            raise serializers.ValidationError({"conversation_id": ["This field is required."]})
        if attrs.get("scope") == Scope.PROJECT and not attrs.get("project_id"):
            raise serializers.ValidationError({"project_id": ["Required when scope is project."]})
        if attrs.get("scope") == Scope.CONVERSATION and not attrs.get("conversation_id"):
            raise serializers.ValidationError(
                {"conversation_id": ["Required when scope is conversation."]})
        return {key: value for key, value in attrs.items() if value is not None}


class RecallV1Serializer(StrictSerializer):
    user_id = _opaque_id()
    task = StrictCharField(min_length=1, max_length=MAX_CONTENT_CHARS)
    token_budget = serializers.IntegerField(min_value=200, max_value=8000)
    thread_id = _opaque_id(required=False, allow_null=True)
    conversation_id = _opaque_id(required=False, allow_null=True)
    min_confidence = serializers.FloatField(min_value=0, max_value=1, required=False,
                                            allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        return {key: value for key, value in attrs.items() if value is not None}


class ForgetSerializer(StrictSerializer):
    user_id = _opaque_id()
    conversation_id = _opaque_id(required=False, allow_null=True)
    thread_id = _opaque_id(required=False, allow_null=True)
    project_id = _opaque_id(required=False, allow_null=True)
    from_time = FlexibleDateTimeField(required=False, allow_null=True)
    to_time = FlexibleDateTimeField(required=False, allow_null=True)
    erase_events = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        start, end = attrs.get("from_time"), attrs.get("to_time")
        if start and end and start > end:
            raise serializers.ValidationError({"to_time": ["to_time is before from_time."]})
        return {key: value for key, value in attrs.items() if value is not None}
