"""The configured providers of the pipeline: the extractor (offline rules by default, an LLM
endpoint when CLAIV_EXTRACTOR=llm, falling back to the offline rules when the provider
fails) and the episode summarizer (extractive, or abstractive with the same endpoint).

Both are built once per process. `providers_reset()` forgets them; it runs by itself when
a test changes one of the settings they are built from (Django's `setting_changed`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from enrichment.propositions import Extractor
from enrichment.summaries import ExtractiveSummarizer, LLMSummarizer, Summarizer

_PROVIDER_SETTINGS = frozenset(
    {"EXTRACTOR", "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "LLM_TIMEOUT", "LLM_MAX_RETRIES"}
)


@lru_cache(maxsize=1)
def extractor() -> Extractor:
    from enrichment.extraction.offline import OfflineExtractor

    offline = OfflineExtractor()
    if settings.EXTRACTOR == "llm":
        from enrichment.extraction.llm import LLMExtractor

        return LLMExtractor(
            base_url=settings.LLM_BASE_URL,
            api_key=settings.LLM_API_KEY,
            model=settings.LLM_MODEL,
            fallback=offline,
            timeout=settings.LLM_TIMEOUT,
            max_retries=settings.LLM_MAX_RETRIES,
        )
    return offline


@lru_cache(maxsize=1)
def summarizer() -> Summarizer:
    extractive = ExtractiveSummarizer()
    if settings.EXTRACTOR == "llm":
        return LLMSummarizer(
            base_url=settings.LLM_BASE_URL,
            api_key=settings.LLM_API_KEY,
            model=settings.LLM_MODEL,
            fallback=extractive,
            timeout=settings.LLM_TIMEOUT,
            max_retries=settings.LLM_MAX_RETRIES,
        )
    return extractive


def providers_reset() -> None:
    """Build the extractor and summarizer again from the current settings on next use."""
    extractor.cache_clear()
    summarizer.cache_clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _PROVIDER_SETTINGS:
        providers_reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="enrichment.providers_reset")
