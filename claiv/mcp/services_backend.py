"""The tools' backend behind `/mcp`: the same services, checks and input rules as the REST
endpoints each tool mirrors, for the tenant of the request's API key.

Each call runs its Django code through `sync_to_async` (thread-sensitive, like Django's own
views under ASGI) and gives its database connections back before returning. Checks, in the
REST order: the key's scope (as `HasScope`), the per-key rate limit, the plan quota, then
the strict input schema of the REST endpoint (its serializer), then the service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from claiv.errors import exception_envelope
from claiv.mcp.accounting import mcp_meter, mcp_request_id
from claiv.mcp.auth import DATABASE_DOWN, connections_release, current_key
from claiv.mcp.tools import STATUS_FIELDS, ToolFailure, recall_packed
from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE, ApiKey
from tenants.models import Tenant

T = TypeVar("T")

# The quotas the mirrored REST views consume (their `quota_metrics`).
INGEST_QUOTAS = ("requests", "ingest_events", "work_units")
RECALL_QUOTAS = ("requests", "tokens")


def _admit(key: ApiKey, quotas: tuple[str, ...]) -> None:
    from claiv.ratelimit import rate_limit_hit
    from memory.usage import usage_quota_check

    state = rate_limit_hit(tenant=key.tenant, api_key_id=str(key.pk))
    if state is not None and state.limited:
        raise ToolFailure(
            "rate_limited",
            f"Rate limit of {state.limit} requests per minute exceeded for this API key.",
            {"limit": state.limit, "retry_after": state.reset_seconds},
        )
    if quotas:
        usage_quota_check(tenant=key.tenant, metrics=quotas)


async def _call(scope: str, work: Callable[[Tenant], T], *, quotas: tuple[str, ...] = ()) -> T:
    key = current_key()
    if scope not in key.scopes:
        raise ToolFailure(
            "forbidden",
            f"This API key lacks the {scope} scope this tool needs.",
            {"required_scope": scope},
        )

    def run() -> T:
        try:
            _admit(key, quotas)
            return work(key.tenant)
        finally:
            connections_release()

    try:
        return await sync_to_async(run, thread_sensitive=True)()
    except ToolFailure:
        raise
    except DATABASE_DOWN as exc:
        raise ToolFailure("unavailable", "The database is unavailable; try again shortly.") from exc
    except Exception as exc:  # the API's own mapping: ApplicationError, DRF validation, 500
        _status, body, _headers = exception_envelope(exc, "")
        error = body["error"]
        raise ToolFailure(error["code"], error["message"], error.get("details")) from exc


def _audit(
    action: str, *, via: str, user_id: str = "", counts: dict[str, int] | None = None
) -> None:
    """`memory.api.audit.audit_request` for a tool call: the key, `MCP <backend call>` as
    the endpoint, the MCP request's id (claiv.mcp.accounting)."""
    from memory.audit import audit_record

    audit_record(
        key=current_key(),
        action=action,
        endpoint=f"MCP {via}",
        request_id=mcp_request_id(),
        user_id=user_id,
        counts=counts,
    )


def _validated(serializer: str, data: dict[str, Any], **context: Any) -> dict[str, Any]:
    from claiv.api import validated
    from memory.api import serializers

    return validated(getattr(serializers, serializer), data, **context)


def _memories() -> Any:
    """memory.memories, imported when a tool needs it: it lands from a parallel branch, and
    the other tools must work without it. (After the merge a plain import can replace this.)"""
    return importlib.import_module("memory.memories")


class ServicesBackend:
    """`claiv.mcp.tools.Backend` over the services, for the key of the current request."""

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
        def work(tenant: Tenant) -> dict[str, Any]:
            from enrichment.services import event_ingest_and_enqueue

            data = _validated(
                "IngestSerializer",
                {
                    "user_id": user_id,
                    "conversation_id": conversation_id,
                    "content": content,
                    "role": role,
                    "type": type,
                    "document_id": document_id,
                    "document_name": document_name,
                },
                require_conversation=True,
            )
            result = event_ingest_and_enqueue(tenant=tenant, **data)
            mcp_meter(ingest_events=0 if result.deduped else 1)
            _audit(
                "ingest",
                via="memory_ingest",
                user_id=data["user_id"],
                counts={"events": 0 if result.deduped else 1},
            )
            return {"event_id": str(result.event.id), "deduped": result.deduped}

        return await _call(SCOPE_WRITE, work, quotas=INGEST_QUOTAS)

    async def memory_status(self, *, event_id: str) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            from memory.selectors import event_fact_ids, event_get

            event = event_get(tenant=tenant, event_id=event_id)
            detail = {
                "event_id": str(event.id),
                "user_id": event.user_id,
                "conversation_id": event.conversation_id or None,
                "status": event.status,
                "stage": event.stage or None,
                "fact_ids": [str(i) for i in event_fact_ids(tenant=tenant, event=event)],
                "error": event.error,
            }
            return {name: detail[name] for name in STATUS_FIELDS}

        return await _call(SCOPE_READ, work)

    async def memory_recall(
        self, *, user_id: str, query: str, conversation_id: str | None, token_budget: int
    ) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            from memory.recall.engine import memory_recall

            data = _validated(
                "RecallV1Serializer",
                {
                    "user_id": user_id,
                    "task": query,
                    "conversation_id": conversation_id,
                    "token_budget": token_budget,
                },
            )
            result = memory_recall(
                tenant=tenant,
                user_id=data["user_id"],
                query=data["task"],
                token_budget=data["token_budget"],
                conversation_id=data.get("conversation_id"),
            )
            mcp_meter(tokens=result.token_estimate)
            _audit(
                "recall",
                via="memory_recall",
                user_id=data["user_id"],
                counts={"tokens": result.token_estimate, "cache_hit": 0},
            )
            return recall_packed(
                {
                    "system_context": result.system_context,
                    "citations": result.citations,
                    "token_estimate": result.token_estimate,
                }
            )

        return await _call(SCOPE_READ, work, quotas=RECALL_QUOTAS)

    async def memory_forget(self, *, user_id: str, conversation_id: str | None) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            from memory.forget import ForgetScope, memory_forget

            data = _validated(
                "ForgetSerializer", {"user_id": user_id, "conversation_id": conversation_id}
            )
            receipt = memory_forget(tenant=tenant, scope=ForgetScope(**data))
            _audit(
                "forget",
                via="memory_forget",
                user_id=data["user_id"],
                counts=receipt.deleted_counts,
            )
            if not any(data.get(k) for k in set(data) - {"user_id", "erase_events"}):
                # The whole user: no id stays in the trail (as REST's forget).
                from memory.audit import audit_user_forget

                audit_user_forget(tenant=tenant, user_id=data["user_id"])
            return {"receipt_id": str(receipt.id), "deleted_counts": receipt.deleted_counts}

        return await _call(SCOPE_FORGET, work)

    # The explicit-memory tools use memory.memories (imported when called, so this server
    # works before that module exists; a call then fails as an internal error).

    async def memory_search(
        self, *, user_id: str, query: str, limit: int, conversation_id: str | None
    ) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            memories = _memories()

            results = memories.memory_search(
                tenant=tenant,
                user_id=user_id,
                query=query,
                limit=limit,
                conversation_id=conversation_id,
            )
            return {"results": results}

        return await _call(SCOPE_READ, work)

    async def memory_list_recent(self, *, user_id: str, limit: int) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            memories = _memories()

            facts, _cursor = memories.memory_list(
                tenant=tenant, user_id=user_id, status="current", limit=limit
            )
            return {"memories": [memories.memory_as_dict(fact) for fact in facts]}

        return await _call(SCOPE_READ, work)

    async def memory_add(
        self,
        *,
        user_id: str,
        content: str,
        kind: str,
        conversation_id: str | None,
        rationale: str | None = None,
    ) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            memories = _memories()

            fact = memories.memory_add(
                tenant=tenant,
                user_id=user_id,
                content=content,
                kind=kind,
                conversation_id=conversation_id,
                rationale=rationale,
            )
            _audit("memory_add", via="memory_add", user_id=user_id, counts={"memories": 1})
            return memories.memory_as_dict(fact)

        return await _call(SCOPE_WRITE, work)

    async def memory_correct(self, *, memory_id: str, content: str) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            memories = _memories()

            fact = memories.memory_correct(tenant=tenant, memory_id=memory_id, content=content)
            _audit(
                "memory_correct", via="memory_correct", user_id=fact.user_id, counts={"memories": 1}
            )
            return memories.memory_as_dict(fact)

        return await _call(SCOPE_WRITE, work)

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
        def work(tenant: Tenant) -> dict[str, Any]:
            from claiv.api import validated
            from enrichment.documents import distil_enqueue
            from memory.api.documents import DocumentUploadSerializer
            from memory.documents import selectors, store

            data = validated(
                DocumentUploadSerializer,
                {
                    "user_id": user_id,
                    "project_id": project_id,
                    "document_name": document_name,
                    "content": content,
                    "document_id": document_id,
                    "collection_id": collection_id,
                },
            )
            result = store.document_upload(
                tenant=tenant,
                user_id=data["user_id"],
                project_id=data["project_id"],
                name=data["document_name"],
                content=data["content"],
                document_id=data.get("document_id"),
                collection_id=data.get("collection_id"),
            )
            distil_enqueue(result.document)
            return {
                "document_id": result.document.external_id,
                "document_name": result.document.name,
                "sections": selectors.section_items(result.sections),
                "spans_created": result.document.spans_created,
                "status": "processing",
            }

        return await _call(SCOPE_WRITE, work, quotas=("requests",))

    async def document_list(
        self, *, user_id: str, project_id: str | None, limit: int
    ) -> dict[str, Any]:
        def work(tenant: Tenant) -> dict[str, Any]:
            from claiv.api import validated
            from memory.api.documents import DocumentListQuerySerializer
            from memory.documents import selectors

            query = validated(
                DocumentListQuerySerializer,
                {
                    k: v
                    for k, v in {
                        "user_id": user_id,
                        "project_id": project_id,
                        "limit": limit,
                    }.items()
                    if v is not None
                },
            )
            items, total = selectors.document_page(tenant=tenant, **query)
            return {"documents": items, "total": total}

        return await _call(SCOPE_READ, work)
