"""The document spans' vector index leaves the models' state (not the database), as the
other vector columns' did in 0013: which method indexes it, HNSW or IVFFlat, is
`settings.VECTOR_INDEX`, applied by memory.vector_index (`manage.py vector_index`). Here,
only a deployment that asks for IVFFlat gets it built, blocking, at migrate; the HNSW index
0016 built stays otherwise."""

from django.conf import settings
from django.db import migrations


def apply_setting(apps: object, schema_editor: object) -> None:
    if settings.VECTOR_INDEX != "hnsw":
        from memory.vector_index import build

        build(settings.VECTOR_INDEX, concurrently=False)


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0019_fact_user_instructions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="documentspan", name="docspan_embedding_hnsw")
            ],
            database_operations=[
                migrations.RunPython(apply_setting, migrations.RunPython.noop, elidable=True)
            ],
        )
    ]
