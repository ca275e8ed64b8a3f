"""The local embedder: ONNX Runtime for small calls and torch for batches give vectors in the
same space; the exported graph is cached on disk and reused; without onnxruntime, or when the
export fails, everything runs on torch."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from memory import embedding
from memory.embedding import LocalEmbedder

TEXTS = [
    "Where do I live?",
    "I live in Berlin",
    "When did Caroline go to the LGBTQ support group?",
    "Melanie: I ran a charity race for mental health last Saturday, it was so rewarding!",
    "Mi hermana vive en Madrid desde 2019.",
    "ok",
    "  leading and trailing spaces  ",
    "Caroline talked about her adoption plans, her counselling course and the support group "
    "she has been going to every week since March, and Melanie about her kids' camping trip.",
]


def _cosines(left: list[list[float]], right: list[list[float]]) -> np.ndarray:
    a, b = np.asarray(left), np.asarray(right)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def local(cache_dir: Path) -> LocalEmbedder:
    return LocalEmbedder(onnx=True, cache_dir=cache_dir)


def test_small_calls_run_on_onnx_and_agree_with_torch(local: LocalEmbedder) -> None:
    assert local.uses_onnx
    one_by_one = [local.embed([text])[0] for text in TEXTS]  # each <= 96 tokens: ORT
    batched = local.embed_torch(TEXTS)

    assert all(len(vector) == 384 for vector in one_by_one)
    assert _cosines(one_by_one, batched).min() >= 0.9999
    assert np.allclose(np.linalg.norm(one_by_one, axis=1), 1.0, atol=1e-5)


def test_both_paths_agree_with_sentence_transformers_float32(local: LocalEmbedder) -> None:
    """The vectors stored before these paths existed came from `encode` in float32."""
    reference = local._model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)

    assert _cosines(local.embed_torch(TEXTS), reference).min() >= 0.9999
    assert _cosines([local.embed([text])[0] for text in TEXTS], reference).min() >= 0.99999


def test_batches_keep_the_callers_order(local: LocalEmbedder) -> None:
    texts = [TEXTS[7], TEXTS[5], TEXTS[3], TEXTS[5], TEXTS[0]] * 8  # several length batches
    vectors = local.embed_torch(texts)

    one_by_one = {text: local.embed_torch([text])[0] for text in set(texts)}
    assert _cosines(vectors, [one_by_one[text] for text in texts]).min() >= 0.9999


def test_a_large_call_takes_the_torch_path(
    local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []
    monkeypatch.setattr(
        embedding._OnnxMiniLM,
        "embed",
        lambda self, *arrays: ran.append(1) or pytest.fail("ORT ran"),
    )

    vectors = local.embed(TEXTS * 2)

    assert len(vectors) == 16 and ran == []
    assert _cosines(vectors[:8], vectors[8:]).min() >= 0.99999


def test_the_exported_graph_is_reused(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The float32 graph and, beside it, the spans' int8 graph (EMBEDDING_SPAN_PRECISION).
    files = sorted(cache_dir.glob("*.onnx"))
    assert local._passages is not None
    assert files == sorted([local._onnx.path, local._passages.path])  # type: ignore[union-attr]
    written = [file.stat().st_mtime_ns for file in files]

    def no_export(**kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(embedding, "_onnx_export", no_export)
    monkeypatch.setattr(embedding, "_onnx_quantize", no_export)
    again = LocalEmbedder(onnx=True, cache_dir=cache_dir)

    assert again.uses_onnx and again._passages is not None
    assert [file.stat().st_mtime_ns for file in files] == written
    assert sorted(cache_dir.glob("*")) == files  # no temporary file left behind
    assert _cosines(again.embed(TEXTS[:1]), local.embed(TEXTS[:1]))[0] >= 0.999999


def test_without_onnxruntime_everything_runs_on_torch(
    local: LocalEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError

    with caplog.at_level(logging.WARNING, logger="claiv.embedding"):
        fallback = LocalEmbedder(onnx=True, cache_dir=tmp_path)

    assert not fallback.uses_onnx
    assert "onnxruntime is not installed" in caplog.text
    assert list(tmp_path.iterdir()) == []  # nothing exported
    assert _cosines(fallback.embed(TEXTS[:2]), local.embed(TEXTS[:2])).min() >= 0.9999


def test_a_failed_export_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_export(**kwargs: object) -> None:
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(embedding, "_onnx_export", broken_export)
    with caplog.at_level(logging.WARNING, logger="claiv.embedding"):
        fallback = LocalEmbedder(onnx=True, cache_dir=tmp_path)

    assert not fallback.uses_onnx
    assert "ONNX embedding unavailable" in caplog.text
    assert len(fallback.embed(["I live in Berlin"])[0]) == 384


def test_the_cache_lives_under_the_data_dir_when_it_exists(tmp_path: Path, settings) -> None:
    settings.DATA_DIR = tmp_path
    assert embedding.onnx_cache_dir() == tmp_path / "models"

    settings.DATA_DIR = tmp_path / "missing"
    assert embedding.onnx_cache_dir().parts[-2:] == ("claiv", "models")


LONG_TEXT = "Caroline told Melanie about the adoption agency and the counselling course. " * 40


def test_the_onnx_only_embedder_tokenizes_and_embeds_as_the_local_one(
    local: LocalEmbedder, cache_dir: Path
) -> None:
    """Web processes run `OnnxEmbedder` (no torch): same token ids as sentence-transformers'
    tokenizer (truncated at 256, not the file's 128) and the same vectors."""
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None
    texts = [*TEXTS, LONG_TEXT]

    assert onnx_only._token_ids(texts) == local._token_ids(texts)
    assert len(onnx_only._token_ids([LONG_TEXT])[0]) == 256
    vectors = onnx_only.embed(texts)
    assert _cosines(vectors, local.embed_torch(texts)).min() >= 0.9999
    assert _cosines([onnx_only.embed([t])[0] for t in TEXTS], vectors[:-1]).min() >= 0.99999


def test_the_onnx_only_embedder_needs_the_exported_graph(tmp_path: Path) -> None:
    assert embedding.OnnxEmbedder.load(cache_dir=tmp_path) is None


def _embed_in_forked_child(embed: object, texts: list[str]) -> list[list[float]]:
    """Run `embed(texts)` in a child forked from this process (as the gunicorn master and
    the Celery main process fork theirs) and return its vectors."""
    import json
    import os
    import select

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: embed, write, leave without running pytest's clean-up
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w") as out:
                json.dump(embed(texts), out)  # type: ignore[operator]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end) as source:
        # A torch thread pool broken by the fork shows as a child that never answers.
        while select.select([source], [], [], 300)[0]:
            chunk = source.read()
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert chunks, "the forked child did not embed"
    return json.loads("".join(chunks))


def test_a_forked_child_embeds_with_the_parents_models(
    local: LocalEmbedder, cache_dir: Path
) -> None:
    """Models loaded before fork (lean processes) still work in the children: torch on one
    intra-op thread, ONNX Runtime without pool threads."""
    local.warm()
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None
    onnx_only.warm()
    texts = TEXTS * 3  # a torch-sized call

    in_child_torch = _embed_in_forked_child(local.embed, texts)
    in_child_small = _embed_in_forked_child(local.embed, TEXTS[:1])
    in_child_onnx = _embed_in_forked_child(onnx_only.embed, texts)

    assert _cosines(in_child_torch, local.embed(texts)).min() >= 0.99999
    assert _cosines(in_child_small, local.embed(TEXTS[:1])).min() >= 0.99999
    assert _cosines(in_child_onnx, onnx_only.embed(texts)).min() >= 0.99999


def test_web_processes_embed_without_importing_torch(local: LocalEmbedder, cache_dir: Path) -> None:
    """EMBEDDING_RUNTIME=onnx (claiv.gunicorn_conf) keeps torch out of the process."""
    import os
    import subprocess

    code = (
        "import sys, django; django.setup()\n"
        "from django.conf import settings\n"
        "from memory import embedding\n"
        "embedding.onnx_cache_dir = lambda: __import__('pathlib').Path(sys.argv[1])\n"
        "vector = embedding.embed_one('Where do I live?')\n"
        "print(type(embedding.embedder()).__name__, len(vector), 'torch' in sys.modules)\n"
    )
    env = {
        **os.environ,
        "EMBEDDING_RUNTIME": "onnx",
        "DJANGO_SETTINGS_MODULE": "claiv.settings",
        "EMBEDDING_PROVIDER": "local",
    }
    result = subprocess.run(
        [sys.executable, "-c", code, str(cache_dir)],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["OnnxEmbedder", "384", "False"]


def test_document_spans_in_larger_batches_keep_their_vectors_and_order(
    local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "float32")  # the torch passage path
    from memory.documents import parse
    from memory.documents.store import span_embedding_text
    from tests.support.manual import long_manual

    content = long_manual(12_000)
    tree = parse.sections_of(content)
    texts = [
        span_embedding_text(tree[c.section].path, content[c.start : c.end])
        for c in parse.spans_of(content, tree)
    ]
    texts += [TEXTS[0], TEXTS[7]]  # short ones among them
    passages = local.embed_passages(texts)
    assert _cosines(passages, local.embed_torch(texts)).min() >= 0.9999
    reference = local._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert _cosines(passages, reference).min() >= 0.9999


def _manual_spans(chars: int) -> list[str]:
    from memory.documents import parse
    from memory.documents.store import span_embedding_text
    from tests.support.manual import long_manual

    content = long_manual(chars)
    tree = parse.sections_of(content)
    return [
        span_embedding_text(tree[c.section].path, content[c.start : c.end])
        for c in parse.spans_of(content, tree)
    ]


def test_passages_in_threads_run_each_batch_once_in_order_over_two_threads() -> None:
    """Both threads really work at once (the barrier lets neither pass alone), every batch
    is embedded once, longest first, and each row lands at its text's index."""
    import threading

    ids = [[101] + [7] * (n % 9) + [102] for n in range(40)]
    both_started = threading.Barrier(2, timeout=120)
    seen: list[tuple[str, list[int]]] = []

    def embed_batch(batch: list[int]) -> np.ndarray:
        name = threading.current_thread().name
        if all(thread != name for thread, _ in seen):
            seen.append((name, batch))
            both_started.wait()
        else:
            seen.append((name, batch))
        return np.array([[float(i)] * 384 for i in batch], dtype=np.float32)

    before = threading.active_count()
    vectors = embedding._passages_in_threads(ids, embed_batch, budget=24, threads=2)

    assert vectors[:, 0].tolist() == [float(i) for i in range(40)]
    assert sorted(i for _, batch in seen for i in batch) == list(range(40))
    assert len({thread for thread, _ in seen}) == 2
    assert max(len(ids[i]) for i in seen[0][1]) == max(len(row) for row in ids)  # longest first
    assert threading.active_count() == before  # no thread outlives the call


def test_an_error_in_a_passage_thread_is_raised_in_the_caller() -> None:
    import threading

    ids = [[101, 7, 102]] * 12
    before = threading.active_count()

    def embed_batch(batch: list[int]) -> np.ndarray:
        if 5 in batch:
            raise RuntimeError("model failed")
        return np.zeros((len(batch), 384), dtype=np.float32)

    with pytest.raises(RuntimeError, match="model failed"):
        embedding._passages_in_threads(ids, embed_batch, budget=6, threads=2)
    assert threading.active_count() == before


def test_document_spans_in_two_threads_on_either_runtime_keep_the_float32_vectors(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With EMBEDDING_SPAN_PRECISION=float32, span vectors stay the query space's whichever
    process embeds them: torch bf16 (a worker) or ONNX Runtime alone (a web process), one
    thread or two, agree with the float32 model (cosine >= 0.999) and keep the callers'
    order."""
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "float32")
    texts = [*_manual_spans(20_000), TEXTS[0], TEXTS[7]]
    reference = local._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None

    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 2)
    torch_two, onnx_two = local.embed_passages(texts), onnx_only.embed_passages(texts)
    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 1)
    torch_one, onnx_one = local.embed_passages(texts), onnx_only.embed_passages(texts)

    for vectors in (torch_two, onnx_two, torch_one, onnx_one):
        assert len(vectors) == len(texts)
        assert _cosines(vectors, reference).min() >= 0.999
    assert _cosines(onnx_two, reference).min() >= 0.99999  # ORT float32 is the model itself
    assert _cosines(torch_two, torch_one).min() >= 0.99999
    assert _cosines(onnx_two, onnx_one).min() >= 0.99999


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_a_forked_child_embeds_passages_in_threads_with_the_parents_models(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    """The passage threads end with each call, so a process that embedded spans before
    forking hands its children models that still embed spans (in threads of their own):
    torch or the float32 graph, and the int8 graph (a session of its own, also on one
    intra-op thread)."""
    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 2)
    monkeypatch.setattr(embedding, "SPAN_PRECISION", precision)
    texts = _manual_spans(6_000)
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None
    parent_torch, parent_onnx = local.embed_passages(texts), onnx_only.embed_passages(texts)

    in_child_torch = _embed_in_forked_child(local.embed_passages, texts)
    in_child_onnx = _embed_in_forked_child(onnx_only.embed_passages, texts)

    assert _cosines(in_child_torch, parent_torch).min() >= 0.99999
    assert _cosines(in_child_onnx, parent_onnx).min() >= 0.99999
    if precision == "int8":  # really the int8 graph, in parent and child alike
        assert local._passages is not None and onnx_only._passages is not None
        assert _cosines(parent_onnx, parent_torch).min() >= 0.99999
        assert _cosines(in_child_onnx, _float32_spans(local, texts)).min() < 0.9999


# --- Document spans through the int8 graph (EMBEDDING_SPAN_PRECISION=int8, the default) ---

# Questions about tests.support.manual.MANUAL and the heading of the span that answers.
MANUAL_QUESTIONS = [
    ("how do I restore factory settings?", "Troubleshooting"),
    ("what do I need before installing the router?", "Requirements"),
    ("what do I connect the grey cable to?", "Steps"),
    ("how long should the wifi passphrase be?", "Wireless network"),
    ("what if the light is orange?", "Troubleshooting"),
    ("can I block websites for my kids?", "Parental controls"),
    ("does the warranty cover lightning damage?", "Warranty"),
]


def _float32_spans(local: LocalEmbedder, texts: list[str]) -> np.ndarray:
    """The float32 model's vectors (ONNX float32 = sentence-transformers' `encode`)."""
    ids = local._token_ids(texts)
    assert local._onnx is not None
    return np.concatenate([local._onnx.embed(*embedding._padded([row])) for row in ids])


def test_int8_span_vectors_stay_close_to_float32_and_do_not_depend_on_their_neighbours(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spans of a manual and LoCoMo-like turns through the int8 graph: each span within
    cosine 0.99 of the float32 model, each short text within 0.97 ("ok": 0.976), 0.995 on
    average (measured: spans min ~0.995, mean ~0.997; int8 in every layer per tensor gives
    ~0.94, per channel ~0.98, and fails this); the same vectors from a
    web process (ONNX only) and a worker (torch model loaded), one thread or two, and a
    text's vector is the same alone or among others (one text a run)."""
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    spans = _manual_spans(20_000)
    texts = [*spans, *TEXTS]
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None and onnx_only._passages is not None
    assert local._passages is not None
    assert local._passages.path.parent == cache_dir  # cached beside the float32 graph
    assert local._passages.path.name.startswith(local._onnx.path.stem + "-int8-")  # type: ignore[union-attr]

    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 2)
    web = np.asarray(onnx_only.embed_passages(texts))
    worker = np.asarray(local.embed_passages(texts))
    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 1)
    alone = np.asarray([local.embed_passages([text])[0] for text in texts[:3]])

    cosine = _cosines(web, _float32_spans(local, texts))
    assert cosine[: len(spans)].min() >= 0.99
    assert cosine.min() >= 0.97 and cosine.mean() >= 0.995
    assert cosine.max() < 0.99999  # really the int8 graph, not float32
    assert np.allclose(np.linalg.norm(web, axis=1), 1.0, atol=1e-5)
    assert _cosines(web, worker).min() >= 0.99999
    assert _cosines(alone, web[:3]).min() >= 0.99999


def test_float32_queries_find_the_same_spans_among_int8_ones(
    local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What recall does with them: a float32 query (the query path) ranks the int8 spans
    of the test manual; the answering span comes first, as with float32 spans."""
    from memory.documents import parse
    from memory.documents.store import span_embedding_text
    from tests.support.manual import MANUAL

    tree = parse.sections_of(MANUAL)
    cuts = parse.spans_of(MANUAL, tree)
    texts = [span_embedding_text(tree[c.section].path, MANUAL[c.start : c.end]) for c in cuts]
    headings = [tree[c.section].title for c in cuts]
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    int8 = np.asarray(local.embed_passages(texts))
    float32 = _float32_spans(local, texts)
    queries = np.asarray(local.embed([q for q, _ in MANUAL_QUESTIONS]))

    for (question, heading), query in zip(MANUAL_QUESTIONS, queries, strict=True):
        best_int8, best_float32 = int(np.argmax(int8 @ query)), int(np.argmax(float32 @ query))
        assert headings[best_int8] == heading, question
        assert best_int8 == best_float32, question


def test_the_int8_graph_is_reused_and_a_bad_one_falls_back_to_float32(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The int8 file is made once (later loads read it); one that disagrees with float32
    beyond _INT8_MIN_COSINE is refused with a warning and spans take the float32 path;
    with EMBEDDING_SPAN_PRECISION=float32 no int8 graph is loaded at all."""
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    monkeypatch.setattr(
        embedding, "_onnx_quantize", lambda **_: pytest.fail("quantized although cached")
    )
    again = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert again is not None and again._passages is not None

    monkeypatch.setattr(embedding, "_INT8_MIN_COSINE", 0.99999999)
    with caplog.at_level(logging.WARNING, logger="claiv.embedding"):
        refused = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert refused is not None and refused._passages is None
    assert "int8 span embedding unavailable" in caplog.text
    texts = _manual_spans(3_000)
    assert _cosines(refused.embed_passages(texts), refused.embed(texts)).min() >= 0.99999

    monkeypatch.setattr(embedding, "SPAN_PRECISION", "float32")
    plain = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert plain is not None and plain._passages is None


def test_a_web_master_quantizes_a_missing_int8_graph_without_torch(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`onnx_graph_ensure` (the gunicorn master, before fork): float32 graph cached, int8
    missing → a child process loads the ONNX-only embedder (which quantizes), not torch;
    both cached → nothing runs."""
    import subprocess

    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    monkeypatch.setattr(embedding, "onnx_cache_dir", lambda: cache_dir)
    commands: list[str] = []
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda argv, **_: commands.append(argv[-1]) or subprocess.CompletedProcess(argv, 0),
    )
    embedding.onnx_graph_ensure()
    assert commands == []

    assert local._passages is not None
    int8 = local._passages.path
    moved = int8.with_suffix(".moved")
    int8.rename(moved)
    try:
        embedding.onnx_graph_ensure()
    finally:
        moved.rename(int8)
    assert len(commands) == 1
    assert commands[0].endswith("OnnxEmbedder.load()")


# --- Recall queries (`embed_query`, EMBEDDING_QUERY_PRECISION) ---


def test_a_float32_query_is_the_embed_vector(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "QUERY_PRECISION", "float32")
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None
    for model in (local, onnx_only):
        assert [model.embed_query(t) for t in TEXTS] == [model.embed([t])[0] for t in TEXTS]


def test_an_int8_query_is_the_span_graphs_vector_in_web_and_worker_alike(
    local: LocalEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With EMBEDDING_QUERY_PRECISION=int8 a query runs alone through the spans' int8 graph:
    close to float32 (short texts >= 0.97), not float32, the same from a web process and a
    worker and whatever was embedded before."""
    monkeypatch.setattr(embedding, "QUERY_PRECISION", "int8")
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=cache_dir)
    assert onnx_only is not None and onnx_only._passages is not None
    web = [onnx_only.embed_query(t) for t in TEXTS]
    worker = [local.embed_query(t) for t in reversed(TEXTS)][::-1]
    float32 = [local.embed([t])[0] for t in TEXTS]
    cosine = _cosines(web, float32)
    assert cosine.min() >= 0.97 and cosine.max() < 0.99999
    assert _cosines(web, worker).min() >= 0.99999
    assert _cosines(web, local.embed_passages(TEXTS)).min() >= 0.99999  # the spans' graph
