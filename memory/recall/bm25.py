"""Okapi BM25 over Postgres tsvectors.

Postgres full-text search stems and drops stop words, and its GIN index finds the rows
that contain any query term, but `ts_rank` has no inverse document frequency: a name
that appears in every turn counts as much as the rare word that identifies the answer.
So BM25 is computed over the tsvectors' position lists of the rows that contain any
query term, in SQL (`bm25_sql`, one statement per channel); `bm25_rank` is the same
formula in Python, kept as the readable reference the SQL is tested against.

Document length is the number of distinct lexemes (Postgres `length(tsvector)`), for the
document and the average alike. The corpus size and total length come from a row kept
by triggers (memory.models.KeywordCorpus), not from an aggregate over the user's rows.
Recall's channels (`postings`) take each query term's document frequency from a row kept
by triggers too (KeywordTerm) and its candidates from its top POSTINGS_PER_TERM postings
by impact (KeywordPosting, a btree range per term), so their cost does not grow with the
user's history nor with the other users of the table. The GIN plan (document spans, the
reference twin) counts frequencies from the GIN index up to DF_CAP and takes the rows of
the rarest terms (CANDIDATE_POSTINGS). Both are exact below those bounds.
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


def bm25_rank(
    *, terms: list[str], documents: list[tuple[object, str]], total_docs: int, avg_length: float
) -> list[tuple[object, float]]:
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


# Per-term document frequencies are counted up to DF_CAP rows: a term in more rows than
# that is common (its idf is small and barely separates documents) and is treated as
# occurring in exactly DF_CAP. Candidates are the rows holding the rarest query terms, in
# order of rarity, while their frequencies add up to at most CANDIDATE_POSTINGS (the
# rarest term always counts), at most CANDIDATE_POSTINGS + DF_CAP rows, the rows holding
# both of the two rarest terms first (a GIN intersection: when every query term is common
# those are the likely answers, the rest an arbitrary subset of the rarest term's rows).
# Each term's rows come from the GIN index, so a recall reads a bounded number of rows
# whatever the user's history. Below these bounds (every LoCoMo
# user: at most ~700 turns) candidates and frequencies are exact, as they were when both
# were computed over every visible row. Measured at 100k facts: BENCHMARKS.md "Recall at
# 100k facts".
DF_CAP = 500
CANDIDATE_POSTINGS = 1000
# Users with at most this many rows of a kind are read whole (`bm25_sql`'s `few`): ~2,000
# rows x (terms + 2) text-search checks is a few ms, and needs no GIN index.
FEW_ROWS = 2000
# Per kind, lower: episodes are few but long (a summary of ~200 turns, ~20x a turn's
# lexemes), and reading a user's 500 episodes whole took ~10 ms at 100k facts, their
# postings plan ~1 ms (BENCHMARKS.md "Bounded channels"). Never above FEW_ROWS.
FEW_ROWS_BY_KIND: dict[str, int] = {"episode": 100}


def few_rows(kind: str) -> int:
    """The most rows of `kind` a user may have for `bm25_sql`'s `few` plan."""
    return min(FEW_ROWS, FEW_ROWS_BY_KIND.get(kind, FEW_ROWS))


# Scoring reads each candidate's query terms only: the tsvector without its other lexemes
# (ts_delete of what ts_delete of the query terms leaves), so unnest yields ~2 lexemes a
# row, not ~20 joined against the terms (at 100k facts unnest + join were ~60 % of the
# statement). Terms are summed per id (hashed; the row's tie joined back for the final
# order), not grouped by (id, tie) through a sort of every hit by a record: that sort
# also summed a row's terms in an arbitrary order, so two rows with the same terms could
# differ in the last bit and skip the tie-break by time. Both: keyword statement median
# 112 -> 62 ms over 12 questions at 100k facts, load ~11 (BENCHMARKS.md).
# One statement per channel (nothing to wait for first). `rows` is the caller's
# visible-rows query selecting (id, search, tie); it is used as a subquery that Postgres
# flattens, so the text-search condition reaches the GIN index. A lexeme becomes a
# one-term tsquery by quoting it (no re-stemming). `stats` is the user's corpus row
# (memory.models.KeywordCorpus) or, for the reference twin, an aggregate over `rows`.
# Equal scores are common (short facts with the same terms and length) and are broken by
# `tie` (channels.TIE: the row's times, a record), latest first, and only then by id:
# ids are random, and an import into another tenant gives the same rows other ids
# (memory.portability), so an id tie-break made the same memory recall in another order.
_BM25_SQL = r"""
WITH terms AS MATERIALIZED (
    SELECT DISTINCT t.lexeme,
           ('''' || replace(replace(t.lexeme, '\', '\\'), '''', '''''') || '''')::tsquery AS q
    FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS t(lexeme)
),
df AS MATERIALIZED (
    SELECT t.lexeme, t.q,
           (SELECT count(*) FROM (SELECT 1 FROM ({rows}) v WHERE v.search @@ t.q LIMIT %s) x
           )::float8 AS df
    FROM terms t
),
chosen AS (
    SELECT q FROM (SELECT q, row_number() OVER (ORDER BY df, lexeme) AS k,
                          sum(df) OVER (ORDER BY df, lexeme) AS running
                   FROM df WHERE df > 0) c
    WHERE k = 1 OR running <= %s
),
tight AS MATERIALIZED (
    SELECT string_agg(q::text, ' & ')::tsquery AS q
    FROM (SELECT q FROM df WHERE df > 0 ORDER BY df, lexeme LIMIT 2) two
),
matched AS MATERIALIZED (
    SELECT * FROM (
        SELECT v.id, v.search, v.tie FROM ({rows}) v WHERE v.search @@ (SELECT q FROM tight)
        UNION ALL
        SELECT v.id, v.search, v.tie FROM ({rows}) v
        WHERE v.search @@ (SELECT string_agg(q::text, ' | ')::tsquery FROM chosen)
          AND NOT v.search @@ (SELECT q FROM tight)
    ) both_ LIMIT %s
),
stats AS MATERIALIZED ({stats}),
hits AS (
    SELECT m.id, m.tie, length(m.search)::float8 AS dl, t.lexeme,
           coalesce(array_length(t.positions, 1), 1)::float8 AS tf
    FROM matched m CROSS JOIN LATERAL unnest(ts_delete(m.search, tsvector_to_array(
        ts_delete(m.search, (SELECT array_agg(lexeme) FROM df))))) AS t
),
corpus AS (
    SELECT greatest(s.n, (SELECT count(*) FROM matched), (SELECT max(df) FROM df))::float8 AS n,
           s.avgdl
    FROM stats s
)
SELECT s.id, s.score FROM (
    SELECT h.id,
           sum(ln(1 + (c.n - df.df + 0.5) / (df.df + 0.5))
               * h.tf * (%s + 1) / (h.tf + %s * (1 - %s + %s * h.dl / c.avgdl))) AS score
    FROM hits h JOIN df USING (lexeme) CROSS JOIN corpus c
    GROUP BY h.id) s
JOIN matched m USING (id)
ORDER BY s.score DESC, m.tie DESC, s.id
"""

# The postings plan (`bm25_sql`'s `postings`): each query term's document frequency is
# its KeywordTerm row and its candidates its POSTINGS_PER_TERM top KeywordPosting rows by
# impact (the term's BM25 weight without the idf, with the average length fixed at
# IMPACT_AVGDL: the postings are written once, when the average is not known; it only
# orders a term's rows), one btree range scan with a LIMIT per term. The candidates that
# are visible are then scored exactly, as in the GIN plan, from their tsvectors. So a
# recall reads at most terms x POSTINGS_PER_TERM rows, whatever the user's history and
# the other users of the table; frequencies are exact (not capped at DF_CAP). A row's
# terms are summed in the tsvector's lexeme order
# (bytewise), as the GIN plan does, so equal rows get bit-equal scores and the time
# tie-break applies. (Scoring from tf and length kept in the postings, one index probe per
# candidate, was tried and measured slower: p50 / p95 293 / 513 against 191 / 271 ms at
# 100k, same load; BENCHMARKS.md.) A term in more rows than that contributes its
# best-weighted rows (short rows holding it often), so the candidates are the rows where
# each term weighs most, rather than an arbitrary
# subset of the rarest term's rows. Measured at 100k facts: BENCHMARKS.md "Keyword
# postings". 200 until "Bounded channels" (BENCHMARKS.md): 100 read ~40 % fewer buffers at
# 100k facts with the same LoCoMo guard figures (FEW_ROWS 0: 79.2 / 91.7 -> 79.2 / 91.8 %
# with RESCORE_PER_DEPTH 2; two conversations stacked under one user 78.3 / 91.4 -> 78.4 /
# 91.3 %).
POSTINGS_PER_TERM = 100
IMPACT_AVGDL = 10.0
# Of the candidates (up to terms x POSTINGS_PER_TERM rows), only the RESCORE_PER_DEPTH x
# depth best by their postings' rough score (sum over the query terms of idf x impact, the
# BM25 weight with the average length fixed at IMPACT_AVGDL and without the terms a row
# holds outside that term's top postings) are read and scored exactly: each candidate
# read is a primary-key probe with the visibility filter plus its tsvector, ~1,000 of
# them at 100k facts were most of the keyword statement. Measured: BENCHMARKS.md
# "Bounded channels". None: every candidate is read (the plan before).
RESCORE_PER_DEPTH: float | None = 2
_POSTINGS_SQL = r"""
WITH terms AS MATERIALIZED (
    SELECT DISTINCT t.lexeme
    FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS t(lexeme)
),
df AS MATERIALIZED (
    SELECT t.lexeme,
           coalesce((SELECT k.documents FROM memory_keywordterm k
                     WHERE k.tenant_id = %s AND k.user_id = %s AND k.kind = %s
                       AND k.lexeme = t.lexeme), 0)::float8 AS df
    FROM terms t
),
stats AS MATERIALIZED ({stats}),
corpus AS MATERIALIZED (
    SELECT greatest(s.n, (SELECT max(df) FROM df))::float8 AS n, s.avgdl
    FROM stats s
),
candidates AS MATERIALIZED (
    SELECT p.row_id
    FROM df t CROSS JOIN corpus c CROSS JOIN LATERAL (
        SELECT p.row_id, p.impact FROM memory_keywordposting p
        WHERE p.tenant_id = %s AND p.user_id = %s AND p.kind = %s AND p.lexeme = t.lexeme
        ORDER BY p.impact DESC LIMIT %s) p
    WHERE t.df > 0
    GROUP BY p.row_id
    ORDER BY sum(ln(1 + (c.n - t.df + 0.5) / (t.df + 0.5)) * p.impact
                 ORDER BY t.lexeme COLLATE "C") DESC, p.row_id
    LIMIT %s
),
matched AS MATERIALIZED (
    SELECT v.id, v.search, v.tie FROM ({rows}) v
    WHERE v.id IN (SELECT row_id FROM candidates)
),
hits AS (
    SELECT m.id, m.tie, length(m.search)::float8 AS dl, t.lexeme,
           coalesce(array_length(t.positions, 1), 1)::float8 AS tf
    FROM matched m CROSS JOIN LATERAL unnest(ts_delete(m.search, tsvector_to_array(
        ts_delete(m.search, (SELECT array_agg(lexeme) FROM df))))) AS t
)
SELECT s.id, s.score FROM (
    SELECT h.id,
           sum(ln(1 + (c.n - df.df + 0.5) / (df.df + 0.5))
               * h.tf * (%s + 1) / (h.tf + %s * (1 - %s + %s * h.dl / c.avgdl))
               ORDER BY h.lexeme COLLATE "C") AS score
    FROM hits h JOIN df USING (lexeme) CROSS JOIN corpus c
    GROUP BY h.id) s
JOIN matched m USING (id)
ORDER BY s.score DESC, m.tie DESC, s.id
"""

# The maintained statistics: one indexed row, whatever the history's length.
_CORPUS_STATS = """
    SELECT greatest(coalesce(max(c.documents), 0), 1)::float8 AS n,
           greatest(coalesce(max(c.total_length)::float8 / nullif(max(c.documents), 0), 1),
                    1)::float8 AS avgdl
    FROM memory_keywordcorpus c WHERE c.tenant_id = %s AND c.user_id = %s AND c.kind = %s"""
# The reference: the same figures aggregated over the visible rows on every call (what
# recall did before the corpus table; linear in the user's history).
_AGGREGATE_STATS = """
    SELECT greatest(count(*), 1)::float8 AS n,
           greatest(coalesce(avg(length(v.search)), 1), 1)::float8 AS avgdl
    FROM ({rows}) v"""


def bm25_sql(
    rows_sql: str,
    rows_params: Sequence[object],
    query: str,
    config: str,
    *,
    corpus: tuple[object, str, str] | None = None,
    few: bool = False,
    postings: bool = False,
    depth: int | None = None,
) -> tuple[str, list[object]]:
    """SQL + params ranking `rows_sql`'s rows by BM25 for the lexemes of `query` (text
    search configuration `config`) -> rows (id, score), best first.

    `corpus` (tenant id, user id, kind) takes the document count and average length from
    the maintained KeywordCorpus row; without it they are aggregated over `rows_sql` (the
    plain twin, tested to agree). The corpus row counts every scope of the user, so with
    project- or conversation-scoped rows, or `min_confidence`, n and avgdl are those of
    the user's whole memory of that kind rather than of its visible part.

    `few` (the user has at most FEW_ROWS rows of the kind): the rows are read once, by
    the user's own index, into a CTE that every step scans, instead of the GIN index. The
    GIN index is on the text alone, so its bitmap for a common term holds that term's
    rows of every user of the table: at 1M rows a user with 100 rows paid ~9 ms per term
    for it (under load), growing with the table. Same rows, same scores.

    `postings` (with `corpus`, for a user with more rows than FEW_ROWS): frequencies and
    candidates from the maintained KeywordTerm / KeywordPosting rows (_POSTINGS_SQL says
    how), so the cost no longer grows with the user's history. Scores are exact BM25 for
    the candidates; which rows are candidates differs from the GIN plan only for terms in
    more than POSTINGS_PER_TERM rows, and, with `depth` (the rows the caller ranks), in
    that only the RESCORE_PER_DEPTH x `depth` candidates with the best rough score from
    their postings are scored exactly (all of them without `depth`)."""
    if postings and corpus is not None and not few:
        rescore = None
        if depth is not None and RESCORE_PER_DEPTH is not None:
            rescore = max(int(RESCORE_PER_DEPTH * depth), 1)
        sql = _POSTINGS_SQL.format(rows=rows_sql, stats=_CORPUS_STATS)
        return sql, [
            config,
            query,
            *corpus,
            *corpus,
            *corpus,
            POSTINGS_PER_TERM,
            rescore,
            *rows_params,
            K1,
            K1,
            B,
            B,
        ]
    if corpus is None:
        stats, stats_params = _AGGREGATE_STATS.format(rows=rows_sql), list(rows_params)
    else:
        stats, stats_params = _CORPUS_STATS, list(corpus)
    if few:
        sql = f"WITH few AS MATERIALIZED ({rows_sql}),\n" + _BM25_SQL.format(
            rows="SELECT * FROM few", stats=stats
        ).lstrip().removeprefix("WITH ")
        return sql, [
            *rows_params,
            config,
            query,
            DF_CAP,
            CANDIDATE_POSTINGS,
            CANDIDATE_POSTINGS + DF_CAP,
            *stats_params,
            K1,
            K1,
            B,
            B,
        ]
    sql = _BM25_SQL.format(rows=rows_sql, stats=stats)
    return sql, [
        config,
        query,
        *rows_params,
        DF_CAP,
        CANDIDATE_POSTINGS,
        *rows_params,
        *rows_params,
        CANDIDATE_POSTINGS + DF_CAP,
        *stats_params,
        K1,
        K1,
        B,
        B,
    ]
