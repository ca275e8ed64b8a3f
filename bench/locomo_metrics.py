"""Retrieval metrics and a markdown scoreboard for the LoCoMo benchmark.

The benchmark scores *context*, not generated answers, so no LLM judge is involved:

* **evidence recall** — share of a question's gold evidence turns (``D<n>:<n>``) among the
  turns the system returned (its citations); questions without evidence are left out;
* **all evidence** — whether every gold evidence turn was returned;
* **answer containment** — whether the gold answer appears verbatim in the context, after
  SQuAD-style normalisation of both sides (lowercase, punctuation and articles removed,
  whitespace collapsed), matched on whole-word boundaries so that "no" does not match
  "know". Dates are the one accepted reformulation: dates in either text are rewritten to
  one form (``8 may 2023``) first, so a context line stamped ``[2023-05-08 13:56]`` contains
  the gold "8 May 2023", "May 8, 2023", "May 2023" and "2023". Nothing else is inferred:
  relative gold answers ("The week before 9 June 2023", or "7 May 2023" for a turn saying
  "yesterday" on 8 May) are *not* contained unless that exact text is in the context, so
  even the whole conversation does not contain every answer. Containment is an upper-bound
  proxy (an answer word can appear by chance) rather than a correctness score.
* **any part contained** (secondary, lenient) — list-like gold answers ("Toronto, Canada",
  "pottery and painting") are split on commas, semicolons and " and "; true if any one part
  is contained as above. Many LoCoMo answers are paraphrases or lists that never occur
  verbatim, so this shows how much of the strict number's gap is wording, not retrieval.

Adversarial questions (category 5) have no answer; their table reports evidence recall and
how often the *adversarial* (wrong) answer appears in the context, for information only.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CATEGORY_LABELS: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
ANSWERABLE_CATEGORIES: tuple[int, ...] = (1, 2, 3, 4)

_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH_ALT = "|".join(_MONTHS + [m[:3] for m in _MONTHS if m != "may"] + ["sept"])
_MONTH_INDEX = {name: i + 1 for i, name in enumerate(_MONTHS)} | {
    m[:3]: i + 1 for i, m in enumerate(_MONTHS)
}
_MONTH_INDEX["sept"] = 9

# 2023-05-08 (the baselines' line stamps, and ISO timestamps in our context).
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
# "May 8, 2023", "May 8th 2023", "May 8" is left alone (no year, too ambiguous).
# The patterns are lowercase: they run after lowercasing, which is faster than IGNORECASE.
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
# "8 May, 2023", "8th May 2023", "24June, 2022" (the dataset drops spaces sometimes).
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s*({_MONTH_ALT})\b\.?,?")

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({char: " " for char in string.punctuation + "‘’“”–—"})


def _canonical_dates(text: str) -> str:
    """Rewrite dates in lowercase ``text`` to ``<day> <month> <year>`` (formats compare equal)."""

    def iso(match: re.Match[str]) -> str:
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            return match.group(0)
        # Trailing space: "2023-05-08T13:56" must not glue the year to the time.
        return f"{day} {_MONTHS[month - 1]} {year} "

    def month_day_year(match: re.Match[str]) -> str:
        month = _MONTH_INDEX[match.group(1)]
        return f"{int(match.group(2))} {_MONTHS[month - 1]} {match.group(3)}"

    def day_month(match: re.Match[str]) -> str:
        month = _MONTH_INDEX[match.group(2)]
        return f"{int(match.group(1))} {_MONTHS[month - 1]}"

    text = _ISO_DATE.sub(iso, text)
    text = _MONTH_DAY_YEAR.sub(month_day_year, text)
    return _DAY_MONTH.sub(day_month, text)


def normalise_answer(text: str) -> str:
    """SQuAD-style normalisation: lowercase, no punctuation, no articles, single spaces.

    Unlike SQuAD, punctuation becomes a space rather than vanishing, so "2023-05-08" or
    "pottery/painting" keep their word boundaries. Dates are canonicalised first.
    """
    text = _canonical_dates(str(text).lower()).translate(_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=32)
def _haystack(context: str) -> str:
    # Cached: the same context is checked against several answers (and the whole
    # conversation against every question of it); normalising 100 kB costs ~20 ms.
    return f" {normalise_answer(context)} "


def answer_contained(answer: str, context: str) -> bool:
    """True if the normalised ``answer`` occurs, on word boundaries, in the normalised context."""
    needle = normalise_answer(answer)
    if not needle:
        return False
    return f" {needle} " in _haystack(context)


_PARTS = re.compile(r"[,;]|\band\b", re.IGNORECASE)


def answer_part_contained(answer: str, context: str) -> bool:
    """Lenient variant: any comma/semicolon/"and"-separated part of ``answer`` is contained."""
    haystack = _haystack(context)
    parts = {normalise_answer(part) for part in _PARTS.split(str(answer))}
    return any(f" {part} " in haystack for part in parts if part)


def evidence_recall(evidence_dia_ids: Iterable[str], cited_dia_ids: Iterable[str]) -> float:
    """Fraction of gold evidence ids present among the cited ids.

    Raises ``ValueError`` for empty evidence: there is nothing to recall, and counting such
    questions as 0 or 1 would bias the average; callers skip them.
    """
    evidence = set(evidence_dia_ids)
    if not evidence:
        raise ValueError("evidence_recall needs at least one evidence id")
    return len(evidence & set(cited_dia_ids)) / len(evidence)


def all_evidence(evidence_dia_ids: Iterable[str], cited_dia_ids: Iterable[str]) -> bool:
    """True if every gold evidence id is cited (raises ``ValueError`` on empty evidence)."""
    return evidence_recall(evidence_dia_ids, cited_dia_ids) == 1.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class Cell:
    """Accumulated results of one (system, budget, category)."""

    recalls: list[float] = field(default_factory=list)
    all_evidence: list[bool] = field(default_factory=list)
    contained: list[bool] = field(default_factory=list)
    part_contained: list[bool] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def extend(self, other: Cell) -> None:
        self.recalls += other.recalls
        self.all_evidence += other.all_evidence
        self.contained += other.contained
        self.part_contained += other.part_contained
        self.tokens += other.tokens
        self.latencies_ms += other.latencies_ms

    @property
    def questions(self) -> int:
        return len(self.tokens)

    def summary(self) -> dict[str, float]:
        """Percentages (0–100), mean tokens and latency percentiles; NaN when undefined."""
        return {
            "questions": float(self.questions),
            "evidence_recall": _pct(self.recalls),
            "all_evidence": _pct(self.all_evidence),
            "contained": _pct(self.contained),
            "part_contained": _pct(self.part_contained),
            "mean_tokens": _mean(self.tokens),
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
        }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _pct(values: Sequence[float]) -> float:
    return 100.0 * _mean([float(v) for v in values])


def _fmt(value: float, digits: int = 1) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def budget_label(budget: int | None) -> str:
    return "whole" if budget is None else str(budget)


class Scoreboard:
    """Accumulates per-question results by (system, budget, category) and renders tables."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, int | None, int], Cell] = {}
        self._systems: list[str] = []

    def add(
        self,
        *,
        system: str,
        budget: int | None,
        category: int,
        answer: str,
        evidence: Sequence[str],
        cited: Iterable[str],
        context: str,
        tokens: int,
        latency_ms: float | None = None,
        adversarial_answer: str | None = None,
    ) -> None:
        """Score one question's retrieved context. ``budget=None`` means no budget.

        For category 5 the containment column tracks ``adversarial_answer`` instead.
        """
        if system not in self._systems:
            self._systems.append(system)
        cell = self._cells.setdefault((system, budget, category), Cell())
        cited_ids = set(cited)
        if evidence:
            recall = evidence_recall(evidence, cited_ids)
            cell.recalls.append(recall)
            cell.all_evidence.append(recall == 1.0)
        target = adversarial_answer if category == 5 else answer
        if target:
            cell.contained.append(answer_contained(target, context))
            cell.part_contained.append(answer_part_contained(target, context))
        cell.tokens.append(tokens)
        if latency_ms is not None:
            cell.latencies_ms.append(latency_ms)

    def merge(self, other: Scoreboard) -> None:
        """Add another board's results (e.g. baselines scored in the same run)."""
        for key, cell in other._cells.items():
            self._cells.setdefault(key, Cell()).extend(cell)
        for system in other._systems:
            if system not in self._systems:
                self._systems.append(system)

    def cell(self, system: str, budget: int | None, categories: Iterable[int]) -> Cell:
        """Merge the cells of ``categories`` for one system and budget."""
        merged = Cell()
        for category in categories:
            found = self._cells.get((system, budget, category))
            if found is not None:
                merged.extend(found)
        return merged

    def summary(
        self, system: str, budget: int | None, categories: Iterable[int] = ANSWERABLE_CATEGORIES
    ) -> dict[str, float]:
        return self.cell(system, budget, categories).summary()

    def rows(self) -> list[tuple[str, int | None]]:
        """(system, budget) pairs in insertion order of systems, budgets ascending."""
        pairs = {(system, budget) for system, budget, _ in self._cells}
        return [
            (system, budget)
            for system in self._systems
            for budget in sorted(
                (b for s, b in pairs if s == system), key=lambda b: math.inf if b is None else b
            )
        ]

    def _count(self, category: int) -> int:
        counts = [c.questions for (_, _, cat), c in self._cells.items() if cat == category]
        return max(counts, default=0)

    def render(self) -> str:
        """Markdown: the answerable table (categories 1–4), then the adversarial table."""
        return self.render_answerable() + "\n\n" + self.render_adversarial()

    def render_answerable(self) -> str:
        category_headers = [
            f"{CATEGORY_LABELS[c]} ({c}, n={self._count(c)}) R / All / Ans %"
            for c in ANSWERABLE_CATEGORIES
        ]
        header = (
            ["System", "Budget", *category_headers]
            + ["1–4 evidence recall %", "1–4 all-evidence %", "1–4 answer contained %"]
            + ["1–4 any part contained %"]
            + ["Mean tokens", "p50 ms", "p95 ms"]
        )
        lines = [_md_row(header), _md_row(["---"] * len(header))]
        for system, budget in self.rows():
            if not any((system, budget, c) in self._cells for c in ANSWERABLE_CATEGORIES):
                continue
            cells = []
            for category in ANSWERABLE_CATEGORIES:
                s = self.summary(system, budget, [category])
                cells.append(
                    f"{_fmt(s['evidence_recall'])} / {_fmt(s['all_evidence'])} / "
                    f"{_fmt(s['contained'])}"
                )
            s = self.summary(system, budget)
            lines.append(
                _md_row(
                    [system, budget_label(budget), *cells]
                    + [_fmt(s["evidence_recall"]), _fmt(s["all_evidence"]), _fmt(s["contained"])]
                    + [_fmt(s["part_contained"])]
                    + [_fmt(s["mean_tokens"], 0), _fmt(s["p50_ms"]), _fmt(s["p95_ms"])]
                )
            )
        legend = (
            "R = evidence recall, All = all evidence turns returned, Ans = whole normalised "
            "gold answer contained in the context on word boundaries (dates compared in one "
            "canonical form); any part = lenient variant accepting one comma/and-separated "
            "part of the answer."
        )
        return "\n".join(lines) + "\n\n" + legend

    def render_adversarial(self) -> str:
        header = [
            "System",
            "Budget",
            f"n={self._count(5)}",
            "Evidence recall %",
            "All-evidence %",
            "Adversarial answer in context %",
            "Mean tokens",
            "p50 ms",
            "p95 ms",
        ]
        lines = [_md_row(header), _md_row(["---"] * len(header))]
        for system, budget in self.rows():
            if (system, budget, 5) not in self._cells:
                continue
            s = self.summary(system, budget, [5])
            lines.append(
                _md_row(
                    [system, budget_label(budget), str(int(s["questions"]))]
                    + [_fmt(s["evidence_recall"]), _fmt(s["all_evidence"]), _fmt(s["contained"])]
                    + [_fmt(s["mean_tokens"], 0), _fmt(s["p50_ms"]), _fmt(s["p95_ms"])]
                )
            )
        return "\n".join(lines)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
