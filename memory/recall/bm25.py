"""Okapi BM25 over Postgres tsvectors.

Postgres full-text search stems and drops stop words, and its GIN index finds the rows
that contain any query term, but `ts_rank` has no inverse document frequency: a name
that appears in every turn counts as much as the rare word that identifies the answer.
So BM25 is computed over the tsvectors' position lists of the rows that contain any
query term, in SQL (`bm25_sql`, one statement per channel); `bm25_rank` is the same
formula in Python, kept as the readable reference the SQL is tested against.

Document length is the number of distinct lexemes (Postgres `length(tsvector)`), for the
document and the average alike. Document frequencies are exact: any row containing a
query term is a candidate (up to `limit`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# Okapi defaults (Robertson & Zaragoza); on LoCoMo k1 in 1.2–1.5 and b 0.75 were within
# one point of each other.
K1 = 1.2
B = 0.75
_LEXEME = re.compile(r"'((?:[^']|'')*)':([0-9A-D,]+)")


def parse_tsvector(text: str) -> tuple[dict[str, int], int]:
    """'word':1,4 'other':2 → ({"word": 2, "other": 1}, 2): term frequencies and length."""
    counts: dict[str, int] = {}
    for lexeme, positions in _LEXEME.findall(text):
        counts[lexeme.replace("''", "'")] = positions.count(",") + 1
    return counts, len(counts)


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


# `rows` is the caller's visible-rows query selecting (id, search). The query's lexemes are
# found here too (one statement per channel, nothing to wait for first): `any` matches any
# of them — plainto_tsquery joins them with & (and <-> or <N> inside compound words such
# as "part-time"), rewritten to |; a lexeme never contains a space. Candidates are the
# rows matching any term, capped at %s; statistics cover all rows.
_BM25_SQL = """
WITH terms AS (
    SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s)) AS lexemes,
           regexp_replace(plainto_tsquery(%s::regconfig, %s)::text,
                          ' (&|<->|<[0-9]+>) ', ' | ', 'g')::tsquery AS any
),
rows AS ({rows}),
stats AS MATERIALIZED (
    SELECT greatest(count(*), 1)::float8 AS n,
           greatest(coalesce(avg(length(search)), 1), 1)::float8 AS avgdl
    FROM rows
),
matched AS (
    SELECT id, search FROM rows, terms
    WHERE cardinality(terms.lexemes) > 0 AND search @@ terms.any LIMIT %s
),
hits AS (
    SELECT m.id, length(m.search)::float8 AS dl, t.lexeme,
           coalesce(array_length(t.positions, 1), 1)::float8 AS tf
    FROM matched m CROSS JOIN terms CROSS JOIN LATERAL unnest(m.search) AS t
    WHERE t.lexeme = ANY(terms.lexemes)
),
df AS MATERIALIZED (SELECT lexeme, count(*)::float8 AS df FROM hits GROUP BY lexeme)
SELECT h.id,
       sum(ln(1 + (greatest(s.n, (SELECT count(*) FROM matched)) - df.df + 0.5)
                  / (df.df + 0.5))
           * h.tf * (%s + 1) / (h.tf + %s * (1 - %s + %s * h.dl / s.avgdl))) AS score
FROM hits h JOIN df USING (lexeme) CROSS JOIN stats s
GROUP BY h.id
ORDER BY score DESC, h.id
"""


def bm25_sql(rows_sql: str, rows_params: Sequence[object], query: str, config: str,
             limit: int) -> tuple[str, list[object]]:
    """SQL + params ranking `rows_sql`'s rows by BM25 for the lexemes of `query` (text
    search configuration `config`) -> rows (id, score)."""
    sql = _BM25_SQL.format(rows=rows_sql)
    return sql, [config, query, config, query, *rows_params, limit, K1, K1, B, B]
