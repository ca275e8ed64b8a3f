"""Work units weigh an event by its length: one per started 32,000 characters.

Content is limited by the 1 MiB body now (memory.passages); a 1 MiB event is ~1,300
passages to embed and index, the work of ~33 events of the old 32,000-character limit,
which is what a client had to send for the same text before. Every event that could be
stored before counts 1, as it did. Counted once, on the transition to `enriched`."""

from django.db import migrations

WORK_UNIT_FUNCTION = """
CREATE OR REPLACE FUNCTION memory_count_work_unit() RETURNS trigger AS $$
DECLARE
    units bigint;
BEGIN
    IF NEW.status = 'enriched' AND OLD.status IS DISTINCT FROM 'enriched' THEN
        units := greatest(1, ceil(char_length(NEW.content) / {chars}.0))::bigint;
        INSERT INTO memory_workunitcounter (tenant_id, day, work_units)
        VALUES (NEW.tenant_id, (now() AT TIME ZONE 'UTC')::date, units)
        ON CONFLICT (tenant_id, day)
        DO UPDATE SET work_units = memory_workunitcounter.work_units + units;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""
ONE_PER_EVENT = """
CREATE OR REPLACE FUNCTION memory_count_work_unit() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'enriched' AND OLD.status IS DISTINCT FROM 'enriched' THEN
        INSERT INTO memory_workunitcounter (tenant_id, day, work_units)
        VALUES (NEW.tenant_id, (now() AT TIME ZONE 'UTC')::date, 1)
        ON CONFLICT (tenant_id, day)
        DO UPDATE SET work_units = memory_workunitcounter.work_units + 1;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('memory', '0017_event_search_bounded'),
    ]

    operations = [
        migrations.RunSQL(WORK_UNIT_FUNCTION.format(chars=32000), ONE_PER_EVENT),
    ]
