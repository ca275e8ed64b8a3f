"""gunicorn settings shared by `make dev` and the Docker image."""

from typing import Any

timeout = 120
accesslog = "-"


def post_worker_init(worker: Any) -> None:
    """Load the embedding model and the tokenizer before the worker takes requests, so the
    first recall does not pay seconds of model loading."""
    from memory.embedding import embedder
    from memory.tokens import encoding

    embedder()
    encoding()
