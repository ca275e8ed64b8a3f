"""Okapi BM25 over Postgres tsvectors.

Postgres full-text search stems and drops stop words, and its GIN index finds the rows
that contain any query term, but `ts_rank` has no inverse document frequency: a name
that appears in every turn counts as much as the rare word that identifies the answer.
So the index selects candidates and BM25 is computed here from the tsvectors' position
lists. Document frequencies are exact: any row containing a query term is a candidate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

# Okapi defaults (Robertson & Zaragoza); on LoCoMo k1 in 1.2–1.5 and b 0.75 were within
# one point of each other.
K1 = 1.2
B = 0.75
_LEXEME = re.compile(r"'((?:[^']|'')*)':([0-9A-D,]+)")


def parse_tsvector(text: str) -> tuple[dict[str, int], int]:
    """'word':1,4 'other':2 → ({"word": 2, "other": 1}, 3)."""
    counts: dict[str, int] = {}
    length = 0
    for lexeme, positions in _LEXEME.findall(text):
        tf = positions.count(",") + 1
        counts[lexeme.replace("''", "'")] = tf
        length += tf
    return counts, length


def tsquery_any(lexemes: Iterable[str]) -> str:
    """A raw tsquery matching any of the (already stemmed) lexemes."""
    return " | ".join("'" + lexeme.replace("'", "''") + "'" for lexeme in lexemes)


def bm25_rank(*, terms: list[str], documents: list[tuple[object, str]], total_docs: int,
              avg_length: float) -> list[tuple[object, float]]:
    """Rank (id, tsvector text) documents for the query terms, best first."""
    parsed = [(doc_id, *parse_tsvector(vector)) for doc_id, vector in documents]
    df = {term: sum(1 for _, counts, _ in parsed if term in counts) for term in terms}
    n = max(total_docs, len(parsed), 1)
    idf = {term: math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) for term in terms}
    avg = avg_length or 1.0
    scored = []
    for doc_id, counts, length in parsed:
        score = 0.0
        norm = K1 * (1 - B + B * length / avg)
        for term in terms:
            tf = counts.get(term)
            if tf:
                score += idf[term] * tf * (K1 + 1) / (tf + norm)
        if score > 0:
            scored.append((doc_id, score))
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored
