"""Episode summary writers: extractive (default, offline) and abstractive (any
OpenAI-compatible chat endpoint, used when CLAIV_EXTRACTOR=llm).

In this module: turning an episode's highlight sentences into a bounded summary body.
Not in this module: choosing and scoring the highlights, sessions, the database
(`enrichment.episodes`). Nothing from the content is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import openai

from claiv.metrics.registry import llm_call_record

logger = logging.getLogger("claiv.enrichment")


@dataclass(frozen=True)
class Highlight:
    """One sentence worth keeping from an episode, in the order it was said."""

    text: str
    score: float


@dataclass(frozen=True)
class SummaryResult:
    text: str
    summarizer: str  # "extractive" | "llm"
    tokens_used: int = 0


class Summarizer(Protocol):
    name: str

    def summarize(self, *, highlights: list[Highlight], limit: int) -> SummaryResult: ...


def _clip(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis when longer than `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


class ExtractiveSummarizer:
    """The best-scoring highlights that fit in `limit` characters, in the order said."""

    name = "extractive"

    def summarize(self, *, highlights: list[Highlight], limit: int) -> SummaryResult:
        ranked = sorted(range(len(highlights)), key=lambda i: (-highlights[i].score, i))
        chosen: list[int] = []
        used = 0
        for index in ranked:
            length = len(" ".join(highlights[index].text.split())) + (1 if chosen else 0)
            if used + length <= limit:
                chosen.append(index)
                used += length
        if not chosen and highlights:
            # Even the best sentence is too long: quote its beginning.
            return SummaryResult(_clip(highlights[ranked[0]].text, limit), self.name)
        text = " ".join(" ".join(highlights[i].text.split()) for i in sorted(chosen))
        return SummaryResult(text, self.name)


_SYSTEM_PROMPT = """\
You keep a running summary of one conversation between a user and an AI assistant.
You get the most informative sentences said so far, in order. Write a summary of at most
{limit} characters: third person, plain prose, keep names, places, dates and numbers
exactly as given, no speculation, no preamble. Reply with the summary text only."""


class LLMSummarizer:
    """Abstractive summaries from a chat endpoint; falls back on any provider failure."""

    name = "llm"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        fallback: Summarizer,
        timeout: float,
        max_retries: int,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self._client = openai.OpenAI(
            base_url=base_url or None,
            api_key=api_key or "unused",
            timeout=timeout,
            max_retries=max_retries,
        )

    def summarize(self, *, highlights: list[Highlight], limit: int) -> SummaryResult:
        if not highlights:
            return SummaryResult("", self.name)
        lines = "\n".join(f"- {' '.join(h.text.split())}" for h in highlights)
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": _SYSTEM_PROMPT.format(limit=limit)},
                    {"role": "user", "content": lines},
                ],
            )
        except (openai.OpenAIError, ValueError) as exc:
            llm_call_record(ok=False)
            logger.warning("llm summarizer: falling back to extractive (%s)", type(exc).__name__)
            return self.fallback.summarize(highlights=highlights, limit=limit)
        usage = getattr(response, "usage", None)
        tokens = ((usage.prompt_tokens or 0) + (usage.completion_tokens or 0)) if usage else 0
        llm_call_record(
            ok=True,
            prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage else 0,
        )
        choices = response.choices or []
        text = (choices[0].message.content or "").strip() if choices else ""
        if not text:
            logger.warning("llm summarizer: empty answer, falling back to extractive")
            result = self.fallback.summarize(highlights=highlights, limit=limit)
            return SummaryResult(result.text, result.summarizer, tokens)
        return SummaryResult(_clip(text, limit), self.name, tokens)
