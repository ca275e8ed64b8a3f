"""gunicorn settings shared by `make dev` and the Docker image."""

import gc
from typing import Any

wsgi_app = "claiv.wsgi:application"
timeout = 120
accesslog = "-"


def post_worker_init(worker: Any) -> None:
    """Load the embedding model, the tokenizer and the date parser before the worker takes
    requests, so the first recall does not pay seconds of model loading (or the ONNX
    export)."""
    from memory.embedding import embedder_warm
    from memory.recall.routing import routing_warm
    from memory.tokens import encoding

    embedder_warm()
    encoding()
    routing_warm()
    # Everything loaded so far (torch, transformers, Django: ~600k objects) lives as long
    # as the worker. Left to the collector, each full collection walked all of it: one
    # took 328 ms in the middle of a recall; frozen, 7 ms.
    gc.collect()
    gc.freeze()
