from django.apps import AppConfig


class McpConfig(AppConfig):
    """Registered for its management command (`manage.py mcp`); it has no models."""

    name = "claiv.mcp"
    label = "claiv_mcp"
    verbose_name = "MCP server"
