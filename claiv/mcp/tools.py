"""The MCP tools, defined once for both transports.

A tool parses nothing and decides nothing: it hands its arguments to a `Backend` — the
services themselves behind `/mcp` (claiv.mcp.services_backend), or the REST API of a server
for the stdio command (claiv.mcp.rest_backend) — and returns the answer as JSON text. A
failure is an error result whose text is the API's error object, `{"error": {"code",
"message", "details"}}`, so an agent reads the same codes as an HTTP client.

Argument names are those of the v6 REST fields. The tenant and the scopes come from the API
key (the Bearer header, or CLAIV_API_KEY for stdio), never from an argument.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations

SERVER_NAME = "claiv-memory"
INSTRUCTIONS = (
    "Long-term memory for this user. Call memory_recall before answering to get what is "
    "known (a packed context with citations); memory_ingest to store a conversation turn "
    "(enriched in the background: memory_status tells when); memory_add / "
    "memory_record_decision to write a memory that is recallable at once; memory_correct to "
    "replace one; memory_forget to erase everything derived from a user's events; "
    "document_upload to store a document (recall then answers from it), document_list to "
    "see the user's documents."
)


class ToolFailure(Exception):
    """A failure the agent should see, with the API's error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Backend(Protocol):
    """What the tools call; each method returns the JSON object of the answer or raises
    `ToolFailure`."""

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
    ) -> dict[str, Any]: ...

    async def memory_status(self, *, event_id: str) -> dict[str, Any]: ...

    async def memory_recall(
        self, *, user_id: str, query: str, conversation_id: str | None, token_budget: int
    ) -> dict[str, Any]: ...

    async def memory_forget(
        self, *, user_id: str, conversation_id: str | None
    ) -> dict[str, Any]: ...

    async def memory_search(
        self, *, user_id: str, query: str, limit: int, conversation_id: str | None
    ) -> dict[str, Any]: ...

    async def memory_list_recent(self, *, user_id: str, limit: int) -> dict[str, Any]: ...

    async def memory_add(
        self,
        *,
        user_id: str,
        content: str,
        kind: str,
        conversation_id: str | None,
        rationale: str | None = None,
    ) -> dict[str, Any]: ...

    async def memory_correct(self, *, memory_id: str, content: str) -> dict[str, Any]: ...

    async def document_upload(
        self,
        *,
        user_id: str,
        project_id: str,
        document_name: str,
        content: str,
        document_id: str | None,
        collection_id: str | None,
    ) -> dict[str, Any]: ...

    async def document_list(
        self, *, user_id: str, project_id: str | None, limit: int
    ) -> dict[str, Any]: ...


# Fields of GET /v1/events/{id} that memory_status returns (the content is the agent's own).
STATUS_FIELDS = ("event_id", "user_id", "conversation_id", "status", "stage", "fact_ids", "error")


def recall_packed(body: dict[str, Any]) -> dict[str, Any]:
    """memory_recall's answer from a token-budgeted recall body (POST /v1/recall): the
    packed context, the events cited by any of its blocks, and its size in tokens."""
    return {
        "context": body["system_context"],
        "citations": list(body["citations"]),
        "token_estimate": body["token_estimate"],
    }


def _text(body: dict[str, Any], *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))], is_error=error)


async def _answer(call: Any) -> CallToolResult:
    try:
        return _text(await call)
    except ToolFailure as failure:
        return _text(failure.as_json(), error=True)


READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
# Forget deletes derived data for good (the receipt is what remains).
DESTROY = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def server_build(
    backend: Backend,
    *,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> MCPServer:
    """An MCP server with the memory tools, answering through `backend`."""
    server: MCPServer = MCPServer(
        SERVER_NAME, instructions=INSTRUCTIONS, token_verifier=token_verifier, auth=auth
    )
    tool = server.tool

    @tool(annotations=WRITE, structured_output=False)
    async def memory_ingest(
        user_id: str,
        conversation_id: str,
        content: str,
        role: str | None = None,
        type: str = "message",
        document_id: str | None = None,
        document_name: str | None = None,
    ) -> CallToolResult:
        """Store one conversation event (like POST /v6/ingest). Returns {"event_id",
        "deduped"}; facts are extracted in the background (see memory_status). `role`: user,
        assistant, system or tool; `type`: message, tool_call or app_event. `document_id`
        (and `document_name`) tag the event with a document: forgetting or deleting that
        document forgets the facts drawn from it."""
        return await _answer(
            backend.memory_ingest(
                user_id=user_id,
                conversation_id=conversation_id,
                content=content,
                role=role,
                type=type,
                document_id=document_id,
                document_name=document_name,
            )
        )

    @tool(annotations=READ, structured_output=False)
    async def memory_status(event_id: str) -> CallToolResult:
        """An ingested event's enrichment state: status (pending, processing, enriched,
        skipped, failed), the last stage done, the ids of the facts made from it."""
        return await _answer(backend.memory_status(event_id=event_id))

    @tool(annotations=READ, structured_output=False)
    async def memory_recall(
        user_id: str, query: str, conversation_id: str | None = None, token_budget: int = 2000
    ) -> CallToolResult:
        """What is known about the user that bears on `query`, packed into at most
        `token_budget` tokens (200-8000): {"context", "citations" (the ids of the events it
        draws on), "token_estimate"}. Put `context` in the prompt."""
        return await _answer(
            backend.memory_recall(
                user_id=user_id,
                query=query,
                conversation_id=conversation_id,
                token_budget=token_budget,
            )
        )

    @tool(annotations=READ, structured_output=False)
    async def memory_search(
        user_id: str, query: str, limit: int = 10, conversation_id: str | None = None
    ) -> CallToolResult:
        """Ranked memories matching `query`, without packing: {"results": [{"id", "text",
        "kind", "score", "channels", "status"}]}."""
        return await _answer(
            backend.memory_search(
                user_id=user_id, query=query, limit=limit, conversation_id=conversation_id
            )
        )

    @tool(annotations=READ, structured_output=False)
    async def memory_list_recent(user_id: str, limit: int = 20) -> CallToolResult:
        """The user's current memories, newest first: {"memories": [...]}."""
        return await _answer(backend.memory_list_recent(user_id=user_id, limit=limit))

    @tool(annotations=WRITE, structured_output=False)
    async def memory_add(
        user_id: str, content: str, kind: str = "note", conversation_id: str | None = None
    ) -> CallToolResult:
        """Write one memory directly (no extraction); recallable at once. Returns it."""
        return await _answer(
            backend.memory_add(
                user_id=user_id, content=content, kind=kind, conversation_id=conversation_id
            )
        )

    @tool(annotations=WRITE, structured_output=False)
    async def memory_correct(memory_id: str, content: str) -> CallToolResult:
        """Replace a memory's content: the new version becomes current, the old one is kept
        in its history as superseded. Returns the new memory."""
        return await _answer(backend.memory_correct(memory_id=memory_id, content=content))

    @tool(annotations=DESTROY, structured_output=False)
    async def memory_forget(user_id: str, conversation_id: str | None = None) -> CallToolResult:
        """Forget everything derived from the user's events (narrowed to one conversation
        when given): facts, episodes, embeddings, caches. Returns {"receipt_id",
        "deleted_counts"}; the receipt is signed and verifiable."""
        return await _answer(
            backend.memory_forget(user_id=user_id, conversation_id=conversation_id)
        )

    @tool(annotations=WRITE, structured_output=False)
    async def memory_record_decision(
        user_id: str, content: str, rationale: str, conversation_id: str | None = None
    ) -> CallToolResult:
        """Record a decision (`content`) with its rationale, recallable as a decision."""
        return await _answer(
            backend.memory_add(
                user_id=user_id,
                content=content,
                kind="decision",
                conversation_id=conversation_id,
                rationale=rationale,
            )
        )

    @tool(annotations=WRITE, structured_output=False)
    async def document_upload(
        user_id: str,
        project_id: str,
        document_name: str,
        content: str,
        document_id: str | None = None,
        collection_id: str | None = None,
    ) -> CallToolResult:
        """Upload a document (plain text or Markdown, up to 1 MiB) for the user: it is cut
        into sections and searchable spans at once (memory_recall finds them), summaries
        follow in the background. The same document_id again replaces it. Returns
        {"document_id", "sections", "spans_created", "status"}."""
        return await _answer(
            backend.document_upload(
                user_id=user_id,
                project_id=project_id,
                document_name=document_name,
                content=content,
                document_id=document_id,
                collection_id=collection_id,
            )
        )

    @tool(annotations=READ, structured_output=False)
    async def document_list(
        user_id: str, project_id: str | None = None, limit: int = 20
    ) -> CallToolResult:
        """The user's documents, newest first, with their status (processing / ready /
        error) and span counts."""
        return await _answer(
            backend.document_list(user_id=user_id, project_id=project_id, limit=limit)
        )

    return server
