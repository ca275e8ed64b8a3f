"""Embedding options for a document upload's spans (issue #18), compared in one run.

    .venv/bin/python -m bench.document_embed_options [--kb 200] [--spans 40]

Cuts the 200 KB manual of bench.document_upload into its spans (first `--spans` of them)
and embeds them with each option, once to warm up and once measured: CPU seconds of the
process, wall seconds, the ratio of CPU seconds to the current path (torch bfloat16, one
thread, batches of <= 256 padded tokens) and the cosine of each vector to the float32
model's (the embedding space recall queries live in). Options: float32; bigger batches
(2048 padded tokens); torch dynamic int8 quantization of the Linear layers; two threads;
ONNX Runtime float32 (the graph web processes run) in batches of 256 or 2048 padded
tokens, with two intra-op threads that do not spin, and in two passage threads
(`memory.embedding._passages_in_threads`, as uploads now run); torch bf16 in two passage
threads. `--only WORD` keeps the options whose name contains WORD (the current path is
always run first: it is the ratio's base). No database needed.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=200)
    parser.add_argument("--spans", type=int, default=40)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    import django

    django.setup()
    import numpy as np
    import torch

    from memory import embedding
    from memory.documents import parse
    from memory.documents.store import span_embedding_text
    from tests.support.manual import long_manual

    content = long_manual(args.kb * 1000)
    tree = parse.sections_of(content)
    cuts = parse.spans_of(content, tree)
    texts = [span_embedding_text(tree[c.section].path, content[c.start : c.end]) for c in cuts]
    model: Any = embedding.embedder()
    ids = model._token_ids(texts)[: args.spans]
    bert = model._bert
    int8 = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(bert), {torch.nn.Linear}, dtype=torch.qint8
    )

    def run(encoder: Any, bf16: bool, budget: int, threads: int) -> Any:
        torch.set_num_threads(threads)
        out = np.empty((len(ids), 384), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for batch in embedding._batches(ids, budget=budget):
                a, mask, types = (
                    torch.from_numpy(x) for x in embedding._padded([ids[i] for i in batch])
                )
                hidden = encoder(
                    input_ids=a, attention_mask=mask, token_type_ids=types
                ).last_hidden_state.float()
                out[batch] = embedding._mean_pooled(hidden, mask).numpy()
        torch.set_num_threads(1)
        return out

    import onnxruntime

    def session(threads: int) -> Any:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        return onnxruntime.InferenceSession(
            str(model._onnx.path), options, providers=["CPUExecutionProvider"]
        )

    ort_one, ort_two = session(1), session(2)

    def ort(sess: Any, budget: int, passage_threads: int = 1) -> Any:
        def embed_batch(batch: list[int]) -> Any:
            a, mask, types = embedding._padded([ids[i] for i in batch])
            return sess.run(
                None, {"input_ids": a, "attention_mask": mask, "token_type_ids": types}
            )[0]

        return embedding._passages_in_threads(
            ids, embed_batch, budget=budget, threads=passage_threads
        )

    def torch_threads(passage_threads: int) -> Any:
        embedding.PASSAGE_THREADS = passage_threads
        return np.asarray(model.embed_passages([texts[i] for i in range(len(ids))]))

    options: dict[str, Callable[[], Any]] = {
        "bf16, batches 256, 1 thread (current)": lambda: run(bert, True, 256, 1),
        "float32, batches 256, 1 thread": lambda: run(bert, False, 256, 1),
        "bf16, batches 2048, 1 thread": lambda: run(bert, True, 2048, 1),
        "int8 dynamic, batches 256, 1 thread": lambda: run(int8, False, 256, 1),
        "int8 dynamic, batches 2048, 1 thread": lambda: run(int8, False, 2048, 1),
        "bf16, batches 256, 2 threads": lambda: run(bert, True, 256, 2),
        "bf16, batches 2048, 2 passage threads": lambda: torch_threads(2),
        "ORT float32, batches 256, 1 thread": lambda: ort(ort_one, 256),
        "ORT float32, batches 2048, 1 thread": lambda: ort(ort_one, 2048),
        "ORT float32, batches 256, 2 intra-op threads, no spinning": lambda: ort(ort_two, 256),
        "ORT float32, batches 256, 2 passage threads": lambda: ort(ort_one, 256, 2),
    }
    first = next(iter(options))
    options = {
        name: option
        for name, option in options.items()
        if name == first or args.only.lower() in name.lower()
    }
    reference = run(bert, False, 256, 1)
    lengths = [len(row) for row in ids]
    print(f"{len(ids)} spans, {sum(lengths)} word pieces (truncated at 256)")
    base = None
    for name, option in options.items():
        option()
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = option()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        base = base or cpu
        cosine = (vectors * reference).sum(1)
        load = Path("/proc/loadavg").read_text().split()[0]
        print(
            f"{name:40s} CPU {cpu:6.2f} s  wall {wall:6.2f} s  CPU ratio {cpu / base:5.2f}  "
            f"cosine to float32 min {cosine.min():.5f} mean {cosine.mean():.5f}  load {load}",
            flush=True,
        )


if __name__ == "__main__":
    main()
