from django.apps import AppConfig


class EnrichmentConfig(AppConfig):
    name = "enrichment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process (web included): `workflows` sends the chain by
        # task name, and a name resolves to its task's options (priority) only if registered.
        from enrichment import tasks  # noqa: F401
