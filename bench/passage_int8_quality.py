"""Retrieval quality of int8 passage vectors (issue #18): do float32 queries find the same
passages when the passages were embedded by a dynamically quantized (int8) graph?

    .venv/bin/python -m bench.passage_int8_quality [--conversations 2] [--variants all]

Passages: the spans of real Markdown documents (the specs in ../shared/spec, README.md,
CONTRIBUTING.md), of the document tests' manual (`tests.support.manual.MANUAL`) and of the
200 KB generated manual of bench.document_upload, cut and labelled as an upload does
(`parse.spans_of`, `span_embedding_text`), plus the turns of the first `--conversations`
LoCoMo conversations (as events are embedded). Queries, always embedded by the float32
graph (the query path, as recall does): each document heading (its spans are the answer),
hand-written questions about the test manual, "<topic> procedure in chapter <n>" for the
generated manual, and the LoCoMo questions of categories 1-4 (their evidence turns are the
answer). Every query ranks the whole pool (spans and turns) by cosine.

For each int8 variant (`onnxruntime.quantization.quantize_dynamic` of the locally exported
graph, MatMul weights int8; see VARIANTS) two pools are compared with the float32 pool:
`spans` (document spans int8, turns float32: what uploads would store next to events) and
`all` (turns int8 too: whether events' passages could use it). Printed per query set:
mean overlap of the top 10 with the float32 top 10, MRR of the answers (float32 → int8),
recall@10 of the answers, and per variant the cosine of each passage vector to float32
(min / 1st percentile / mean). Not a timing benchmark (run it niced).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / ".." / "shared" / "spec"

# Hand-written questions about tests.support.manual.MANUAL and the section that answers.
MANUAL_QUESTIONS = [
    ("how do I restore factory settings?", "Troubleshooting"),
    ("what does a blinking red light mean?", "Troubleshooting"),
    ("what do I need before installing the router?", "Requirements"),
    ("how much power does the router use?", "Requirements"),
    ("which cable goes to the fibre terminal?", "Steps"),
    ("what is the address of the admin page?", "Steps"),
    ("how long should the wifi passphrase be?", "Wireless network"),
    ("which band reaches further through walls?", "Wireless network"),
    ("can I block websites for my kids?", "Parental controls"),
    ("does the warranty cover lightning damage?", "Warranty"),
    ("how long is the warranty?", "Warranty"),
]


def _mrr(order: Any, rows: list[tuple[str, set[int]]]) -> float:
    """Mean reciprocal rank of each query's first answer in `order` (row per query)."""
    ranks = [next(r for r, i in enumerate(order[q]) if i in rows[q][1]) for q in range(len(rows))]
    return sum(1 / (1 + r) for r in ranks) / len(ranks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2)
    parser.add_argument("--variants", default="all", help="comma-separated names or 'all'")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    import django

    django.setup()
    import numpy as np

    from memory import embedding
    from memory.documents import parse
    from memory.documents.store import span_embedding_text
    from tests.support.manual import MANUAL, long_manual

    float32 = embedding.OnnxEmbedder.load()
    if float32 is None:
        raise SystemExit("no exported ONNX graph: run LocalEmbedder() once")

    # Passages and their labels.
    passages: list[str] = []
    label: list[str] = []  # "doc:<name>:<section path>" or "turn:<conv>:<dia_id>"
    documents = {p.name: p.read_text() for p in sorted(SPEC.glob("*.md"))}
    root = Path(__file__).resolve().parents[1]
    for name in ("README.md", "CONTRIBUTING.md"):
        documents[name] = (root / name).read_text()
    documents["manual"] = MANUAL
    documents["long"] = long_manual(200_000)
    for name, content in documents.items():
        tree = parse.sections_of(content)
        for cut in parse.spans_of(content, tree):
            path = tree[cut.section].path
            passages.append(span_embedding_text(path, content[cut.start : cut.end]))
            label.append(f"doc:{name}:{path}")
    spans = len(passages)
    locomo = json.loads((root / ".." / "shared" / "data" / "locomo10.json").read_text())
    queries: dict[str, list[tuple[str, set[int]]]] = {"headings": [], "manual": [], "long": []}
    queries["locomo"] = []
    for number, sample in enumerate(locomo[: args.conversations]):
        conversation = sample["conversation"]
        where: dict[str, int] = {}
        for key in sorted(
            (k for k in conversation if re.fullmatch(r"session_\d+", k)),
            key=lambda k: int(k.split("_")[1]),
        ):
            for turn in conversation[key]:
                where[turn["dia_id"]] = len(passages)
                passages.append(f"{turn['speaker']}: {turn['text']}")
                label.append(f"turn:{number}:{turn['dia_id']}")
        for qa in sample["qa"]:
            answers = {where[e] for e in qa.get("evidence", []) if e in where}
            if qa.get("category") in (1, 2, 3, 4) and answers:
                queries["locomo"].append((qa["question"], answers))
    for name in documents:
        paths = sorted({lab.split(":", 2)[2] for lab in label[:spans] if lab.split(":")[1] == name})
        for path in paths:
            title = path.split(" > ")[-1]
            answers = {i for i in range(spans) if label[i] == f"doc:{name}:{path}"}
            if name not in ("manual", "long") and len(title) > 3:
                queries["headings"].append((title, answers))
    for question, section in MANUAL_QUESTIONS:
        answers = {
            i
            for i in range(spans)
            if label[i].startswith("doc:manual:") and label[i].endswith(section)
        }
        queries["manual"].append((question, answers))
    for chapter in range(3, 60, 4):
        for topic in ("firmware updates", "guest network", "backups"):
            answers = {
                i
                for i in range(spans)
                if label[i].startswith("doc:long:")
                and f"> {chapter}." in label[i]
                and label[i].endswith(f"About {topic}")
            }
            if answers:
                queries["long"].append((f"{topic} procedure in chapter {chapter}", answers))

    print(
        f"{spans} spans, {len(passages) - spans} LoCoMo turns; queries: "
        + ", ".join(f"{k} {len(v)}" for k, v in queries.items()),
        flush=True,
    )

    def passage_vectors(session: Any) -> Any:
        ids = float32._token_ids(passages)
        return embedding._passages_in_threads(
            ids,
            lambda batch: session.embed(*embedding._padded([ids[i] for i in batch])),
            budget=1,  # one text a batch: nothing of another text enters its scales
            threads=2,
        )

    reference = passage_vectors(float32._onnx)
    query_vectors = {
        name: np.asarray(float32.embed([q for q, _ in rows])) for name, rows in queries.items()
    }

    def ranked(pool: Any, name: str) -> Any:
        return np.argsort(-(query_vectors[name] @ pool.T), axis=1)

    def scores(pool: Any) -> dict[str, tuple[float, float, float]]:
        out = {}
        for name, rows in queries.items():
            order, base = ranked(pool, name), ranked(reference, name)
            overlap = np.mean(
                [len(set(order[q, :10]) & set(base[q, :10])) / 10 for q in range(len(rows))]
            )

            recall = np.mean(
                [
                    len(set(order[q, :10]) & rows[q][1]) / min(10, len(rows[q][1]))
                    for q in range(len(rows))
                ]
            )
            out[name] = (float(overlap), _mrr(order, rows), float(recall))
        return out

    base = scores(reference)
    print("float32: " + "; ".join(f"{k} MRR {v[1]:.3f} R@10 {v[2]:.3f}" for k, v in base.items()))
    from onnxruntime.quantization import quantize_dynamic

    logging.disable(logging.INFO)  # the quantizer logs every node at INFO
    import onnx

    source = str(float32._onnx.path)
    matmuls = [n.name for n in onnx.load(source).graph.node if n.op_type == "MatMul"]
    ffn_out = [n for n in matmuls if "/output/dense" in n and "attention" not in n]
    variants = {
        "int8-all-per-tensor": dict(),
        "int8-all-per-channel": dict(per_channel=True),
        "int8-per-channel-ffn-out-float": dict(per_channel=True, nodes_to_exclude=ffn_out),
        "int8-per-channel-ffn-out-float-layers-0-2": dict(
            per_channel=True,
            nodes_to_exclude=[n for n in ffn_out if any(f"layer.{k}/" in n for k in (0, 2))],
        ),
        "int8-per-channel-ffn-out-float-0-2": dict(
            per_channel=True,
            nodes_to_exclude=[n for n in ffn_out if any(f"layer.{k}/" in n for k in (0, 1, 2))],
        ),
    }
    if args.variants != "all":
        variants = {k: v for k, v in variants.items() if k in args.variants.split(",")}
    scratch = Path(tempfile.mkdtemp(prefix="claiv-int8-"))
    for name, options in variants.items():
        target = scratch / f"{name}.onnx"
        quantize_dynamic(source, str(target), op_types_to_quantize=["MatMul"], **options)  # type: ignore[arg-type]
        vectors = passage_vectors(embedding._OnnxMiniLM(embedding._onnx_session(target), target))
        target.unlink()  # 60-80 MB each
        cosine = (vectors * reference).sum(axis=1)
        print(
            f"\n{name}: cosine to float32, spans min {cosine[:spans].min():.4f} p1 "
            f"{np.percentile(cosine[:spans], 1):.4f} mean {cosine[:spans].mean():.4f}; turns min "
            f"{cosine[spans:].min():.4f} p1 {np.percentile(cosine[spans:], 1):.4f} mean "
            f"{cosine[spans:].mean():.4f}"
        )
        for pool_name, pool in (
            ("spans", np.concatenate([vectors[:spans], reference[spans:]])),
            ("all", vectors),
        ):
            result = scores(pool)
            print(
                f"  int8 {pool_name:5s}: "
                + "; ".join(
                    f"{k} overlap@10 {v[0]:.3f} MRR {base[k][1]:.3f}->{v[1]:.3f} "
                    f"R@10 {base[k][2]:.3f}->{v[2]:.3f}"
                    for k, v in result.items()
                ),
                flush=True,
            )
    scratch.rmdir()
    print(f"load average {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
