"""The tools' backend for the stdio command: a Claiv server's REST API, with the API key
from the environment (stdio has no authentication of its own; the server applies the key's
tenant and scopes exactly as for any HTTP client)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx2

from claiv.mcp.tools import STATUS_FIELDS, ToolFailure, recall_packed

TIMEOUT_S = 60.0  # a recall on a cold server (model load) can take tens of seconds


class RestBackend:
    """`claiv.mcp.tools.Backend` over HTTP: v6 ingest and forget, v1 recall (the
    token-budgeted one, which returns citations) and events, v1 memories and search."""

    def __init__(
        self, *, base_url: str, api_key: str, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=TIMEOUT_S,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "claiv-mcp-stdio"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if json is not None:  # unset optional fields are left out, as a client would
            json = {k: v for k, v in json.items() if v is not None}
        if params is not None:
            params = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self._client.request(method, path, json=json, params=params)
        except httpx2.HTTPError as exc:
            raise ToolFailure(
                "unavailable",
                f"Cannot reach the Claiv server at {self.base_url}: {type(exc).__name__}.",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise ToolFailure(
                    "internal_error", f"The server answered HTTP {response.status_code}."
                )
            raise ToolFailure(
                str(error.get("code", "internal_error")),
                str(error.get("message", "")),
                error.get("details") or {},
            )
        if not isinstance(body, dict):
            raise ToolFailure("internal_error", "The server's answer is not a JSON object.")
        return body

    async def memory_ingest(
        self,
        *,
        user_id: str,
        conversation_id: str,
        content: str,
        role: str | None,
        type: str,
        document_id: str | None = None,
        document_name: str | None = None,
    ) -> dict[str, Any]:
        tag = {"document_id": document_id, "document_name": document_name}
        body = await self._request(
            "POST",
            "/v6/ingest",
            json={
                "user_id": user_id,
                "conversation_id": conversation_id,
                "content": content,
                "role": role,
                "type": type,
            }
            | {name: value for name, value in tag.items() if value is not None},
        )
        return {"event_id": body["event_id"], "deduped": body["deduped"]}

    async def memory_status(self, *, event_id: str) -> dict[str, Any]:
        body = await self._request("GET", f"/v1/events/{quote(event_id, safe='')}")
        return {name: body.get(name) for name in STATUS_FIELDS}

    async def memory_recall(
        self, *, user_id: str, query: str, conversation_id: str | None, token_budget: int
    ) -> dict[str, Any]:
        return recall_packed(
            await self._request(
                "POST",
                "/v1/recall",
                json={
                    "user_id": user_id,
                    "task": query,
                    "conversation_id": conversation_id,
                    "token_budget": token_budget,
                },
            )
        )

    async def memory_forget(self, *, user_id: str, conversation_id: str | None) -> dict[str, Any]:
        body = await self._request(
            "POST", "/v6/forget", json={"user_id": user_id, "conversation_id": conversation_id}
        )
        return {"receipt_id": body["receipt_id"], "deleted_counts": body["deleted_counts"]}

    async def memory_search(
        self, *, user_id: str, query: str, limit: int, conversation_id: str | None
    ) -> dict[str, Any]:
        body = await self._request(
            "POST",
            "/v1/search",
            json={
                "user_id": user_id,
                "query": query,
                "limit": limit,
                "conversation_id": conversation_id,
            },
        )
        return {"results": body["items"]}

    async def memory_list_recent(self, *, user_id: str, limit: int) -> dict[str, Any]:
        body = await self._request(
            "GET", "/v1/memories", params={"user_id": user_id, "status": "current", "limit": limit}
        )
        return {"memories": body["memories"]}

    async def memory_add(
        self,
        *,
        user_id: str,
        content: str,
        kind: str,
        conversation_id: str | None,
        rationale: str | None = None,
    ) -> dict[str, Any]:
        return await self._request(
            "POST",
            "/v1/memories",
            json={
                "user_id": user_id,
                "content": content,
                "kind": kind,
                "conversation_id": conversation_id,
                "rationale": rationale,
            },
        )

    async def memory_correct(self, *, memory_id: str, content: str) -> dict[str, Any]:
        return await self._request(
            "PATCH", f"/v1/memories/{quote(memory_id, safe='')}", json={"content": content}
        )

    async def document_upload(
        self,
        *,
        user_id: str,
        project_id: str,
        document_name: str,
        content: str,
        document_id: str | None,
        collection_id: str | None,
    ) -> dict[str, Any]:
        body = await self._request(
            "POST",
            "/v6/documents",
            json={
                "user_id": user_id,
                "project_id": project_id,
                "document_name": document_name,
                "content": content,
                "document_id": document_id,
                "collection_id": collection_id,
            },
        )
        return {
            name: body[name]
            for name in ("document_id", "document_name", "sections", "spans_created", "status")
        }

    async def document_list(
        self, *, user_id: str, project_id: str | None, limit: int
    ) -> dict[str, Any]:
        body = await self._request(
            "GET",
            "/v6/documents",
            params={"user_id": user_id, "project_id": project_id, "limit": limit},
        )
        return {"documents": body["documents"], "total": body["total"]}
