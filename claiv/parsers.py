"""The only request parser: JSON, bounded in size and nesting depth.

Kept apart from `claiv.api` because DRF imports parser classes while it builds APIView.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from claiv.errors import PayloadTooLarge

MAX_JSON_DEPTH = 32


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping early past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


class StrictJSONParser(JSONParser):
    """JSON only, bounded in size and nesting depth; a top-level object."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        raw = stream.read(settings.MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > settings.MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request bodies are limited to {settings.MAX_BODY_BYTES} bytes.")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("The body is not valid JSON.") from exc
        if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nesting deeper than {MAX_JSON_DEPTH} levels.")
        return data
