"""Every stored vector is kept in its row, and so is the rest of a row up to half a page.

A 384-dimension vector is 1,544 bytes and pgvector's type asks for EXTERNAL storage, so in
every row over TOAST's ~2 kB threshold (a turn with its text and tsvector) the vector was
moved out of line into the table's TOAST relation: each read of it cost a TOAST index probe
and a TOAST page besides the row's own. The exact search over a user's rows (every user up
to `memory.recall.channels.EXACT_ROWS` rows) read ~2.2 pages per row, and the vector index
path read each returned row's vector from TOAST again to compute its distance.

Two settings per vector table: the vector column's storage MAIN (when a row must shrink, its
text is compressed or moved out first, the vector last), and `toast_tuple_target` 4080 (a
row is left whole up to half a page; at the default 2,032 bytes, with the vector in line,
the tsvector went out of line instead and the keyword channels' rescoring paid the TOAST
reads). Measured in recall at 5,000 and 100,000 rows per user: BENCHMARKS.md, "Vectors in
the row".

Catalog only: rows written from now on are stored so; rows already stored keep their values
out of line until the table is rewritten (`VACUUM FULL memory_event`, ...: exclusive lock,
~40-60 s per 100k rows on a small machine, vector index rebuilt; README "Vectors in the
row"). Answers are the same either way."""

from django.db import migrations

TABLES = (
    "memory_event",
    "memory_fact",
    "memory_episode",
    "memory_passage",
    "memory_documentspan",
)
TOAST_TUPLE_TARGET = 4080


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0022_fact_user_predicate_rank"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE MAIN, "
                f"SET (toast_tuple_target = {TOAST_TUPLE_TARGET})"
                for table in TABLES
            ],
            reverse_sql=[
                f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE EXTERNAL, "
                "RESET (toast_tuple_target)"
                for table in TABLES
            ],
        ),
    ]
