"""Which embedding model the stored vectors were made with, and the start-up check.

Vectors of two models are not comparable: a recall that embeds its query with one model and
ranks vectors of another returns noise without any error. So the model and dimension live
with the data (`EmbeddingSpace`, one row) and a web or worker process whose configuration
names another model refuses to start (`embedding_space_verify`), pointing at
`manage.py reembed` (memory.reembed), which moves the data to the configured model.

The identity of a model is `<provider>:<name>`: the local MiniLM and the same model behind an
OpenAI-compatible server do not give bit-identical vectors, so a provider change counts as a
model change too.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

if TYPE_CHECKING:
    from memory.models import EmbeddingSpace

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
VECTOR_TABLES = ("memory_event", "memory_fact", "memory_episode")
REEMBED_COMMAND = "python manage.py reembed"


def embedding_configured() -> tuple[str, int]:
    """(model identity, dimension) of the embedder the settings configure."""
    if settings.EMBEDDING_PROVIDER == "openai":
        return f"openai:{settings.EMBEDDING_MODEL}", int(settings.EMBEDDING_DIM)
    return f"local:{LOCAL_MODEL_NAME}", int(settings.EMBEDDING_DIM)


def embedding_space_get() -> EmbeddingSpace:
    """The stored space; recorded from the settings when missing (a database migrated before
    the table existed keeps the row migrate wrote; a flushed one gets it back here)."""
    # Imported here: the servers' master processes import this module before Django is set
    # up (embedding_space_verify_or_exit).
    from memory.models import EmbeddingSpace

    space = EmbeddingSpace.objects.filter(id=1).first()
    if space is None:
        model, dimension = embedding_configured()
        space, _ = EmbeddingSpace.objects.get_or_create(
            id=1, defaults={"model": model, "dimension": column_dimension() or dimension}
        )
    return space


def column_dimension(table: str = "memory_event", column: str = "embedding") -> int | None:
    """The dimension of a vector column as the database declares it (None: no such column)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s AND NOT attisdropped",
            [table, column],
        )
        row = cursor.fetchone()
    # pgvector stores the dimension itself as the type modifier (-1: undeclared).
    return int(row[0]) if row and row[0] > 0 else None


def embedding_space_mismatch() -> str | None:
    """Why the configured embedder cannot serve the stored vectors, or None when it can.

    Two cheap reads: the space row and the declared column dimension."""
    model, dimension = embedding_configured()
    space = embedding_space_get()
    stored_dimension = column_dimension()
    if space.model == model and space.dimension == dimension == stored_dimension:
        return None
    made = stored_dimension or space.dimension
    return (
        f"The stored vectors were made with {space.model} ({made} dimensions)"
        f" but the settings configure {model} ({dimension} dimensions; "
        f"EMBEDDING_PROVIDER, EMBEDDING_MODEL, EMBEDDING_DIM). Run `{REEMBED_COMMAND}` with "
        f"these settings to re-embed the stored data, or restore the previous settings."
    )


def embedding_space_verify() -> None:
    """Raise ImproperlyConfigured when the configured model does not match the stored vectors.

    Called where a web or worker process starts (claiv.gunicorn_conf.on_starting, the Celery
    `worker_init` signal), not as a Django system check: `migrate` and `reembed` run checks
    too, and they must work precisely when the two disagree."""
    problem = embedding_space_mismatch()
    if problem is not None:
        raise ImproperlyConfigured(problem)


def embedding_space_verify_or_exit(*, exit_code: int = 1) -> None:
    """`embedding_space_verify` where a server process starts: sets Django up if needed and
    exits with `exit_code` and the message on a mismatch."""
    import os

    import django
    from django.apps import apps

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    if not apps.ready:
        django.setup()
    from django.db import DatabaseError, connections

    try:
        embedding_space_verify()
    except ImproperlyConfigured as exc:
        print(f"claiv: refusing to start. {exc}", file=sys.stderr, flush=True)
        raise SystemExit(exit_code) from None
    except DatabaseError as exc:
        # Postgres down at start-up: the process must still start, answer 503 for what
        # needs the database and heal when it returns (a deployment restarts the database
        # and the servers in any order). The check is made at the next start instead.
        print(
            f"claiv: embedding model not checked, database unavailable ({type(exc).__name__})",
            file=sys.stderr,
            flush=True,
        )
    finally:
        connections.close_all()  # nothing opened here is carried into the serving process
