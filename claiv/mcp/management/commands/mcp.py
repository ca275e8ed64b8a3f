"""`manage.py mcp`: the memory tools as a stdio MCP server for a local agent, forwarding to a
Claiv server's REST API. CLAIV_BASE_URL and CLAIV_API_KEY come from the environment (the
key never from an argument, where it would show in process listings)."""

from __future__ import annotations

import os
from typing import Any

import anyio
from django.core.management.base import BaseCommand, CommandError

from claiv.mcp.rest_backend import RestBackend
from claiv.mcp.tools import server_build


class Command(BaseCommand):
    help = (
        "Serve the Claiv memory tools over MCP stdio, forwarding to CLAIV_BASE_URL with "
        "CLAIV_API_KEY (both from the environment)."
    )
    # stdout carries the protocol: nothing else may be written to it.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = os.environ.get("CLAIV_BASE_URL", "").strip()
        api_key = os.environ.get("CLAIV_API_KEY", "").strip()
        if not base_url.startswith(("http://", "https://")):
            raise CommandError(
                "Set CLAIV_BASE_URL to the server's base URL (e.g. http://127.0.0.1:8000)."
            )
        if not api_key:
            raise CommandError("Set CLAIV_API_KEY to an API key of the tenant.")
        anyio.run(self._serve, base_url, api_key)

    @staticmethod
    async def _serve(base_url: str, api_key: str) -> None:
        backend = RestBackend(base_url=base_url, api_key=api_key)
        try:
            await server_build(backend).run_stdio_async()
        finally:
            await backend.aclose()
