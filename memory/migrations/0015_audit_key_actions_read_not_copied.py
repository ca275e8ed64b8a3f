"""Key actions are read into the audit trail from the keys app's own log (memory.audit.
audit_list) instead of being copied by a post_save receiver: the copies go, or they
would show twice."""

from django.db import migrations

KEY_ACTIONS = ("key_created", "key_revoked", "key_rotated")


def drop_copies(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("memory", "AuditEntry").objects.filter(action__in=KEY_ACTIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0014_portability_jobs"),
    ]

    operations = [
        migrations.RunPython(drop_copies, migrations.RunPython.noop),
    ]
