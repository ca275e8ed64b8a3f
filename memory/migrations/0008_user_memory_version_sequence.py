"""Memory versions come from one sequence, so a version number is never used twice, even
after forget deletes a user's version row and a later ingest creates it again."""

from django.db import migrations

# Far above any version the per-row counter (+1) handed out before, so no cached recall
# stored at an old version can match a new one.
START = 2**40

class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0007_audit_trail"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE SEQUENCE IF NOT EXISTS memory_user_version_seq START WITH {START}",
            "DROP SEQUENCE IF EXISTS memory_user_version_seq",
        ),
    ]
