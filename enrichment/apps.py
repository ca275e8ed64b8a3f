from django.apps import AppConfig


class EnrichmentConfig(AppConfig):
    name = "enrichment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from enrichment.workflows import enrich_on_stored
        from memory.models import Event
        from memory.signals import event_stored

        event_stored.connect(enrich_on_stored, sender=Event,
                             dispatch_uid="enrichment.enrich_on_stored")
