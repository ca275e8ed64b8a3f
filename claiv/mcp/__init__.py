"""The MCP interface: the memory tools for agents, over Streamable HTTP at `/mcp` (served by
the API itself, authenticated by API key) and over stdio (`manage.py mcp`, forwarding to a
server's REST API).

An interface layer above every app: it calls memory and enrichment services, and no app
imports it (checked by `lint-imports`).
"""
