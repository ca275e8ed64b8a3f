"""The embedding space table, recorded with the model the settings configure at migrate time
(the vectors already stored were made with it: before this table nothing else could be)."""

from django.db import migrations, models


def _record(apps, schema_editor):  # type: ignore[no-untyped-def]
    from memory.embedding_space import embedding_configured

    model, dimension = embedding_configured()
    apps.get_model("memory", "EmbeddingSpace").objects.get_or_create(
        id=1, defaults={"model": model, "dimension": dimension})


class Migration(migrations.Migration):

    dependencies = [
        ('memory', '0009_foreign_receipts'),
    ]

    operations = [
        migrations.CreateModel(
            name='EmbeddingSpace',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True,
                                                        serialize=False)),
                ('model', models.CharField(max_length=255)),
                ('dimension', models.PositiveIntegerField()),
                ('target_model', models.CharField(blank=True, default='', max_length=255)),
                ('target_dimension', models.PositiveIntegerField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(_record, migrations.RunPython.noop),
    ]
