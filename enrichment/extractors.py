"""The configured extractor: offline rules by default, an LLM endpoint when configured
(falling back to the offline rules when the provider fails)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from enrichment.propositions import Extractor


@lru_cache(maxsize=1)
def extractor() -> Extractor:
    from enrichment.extraction.offline import OfflineExtractor

    offline = OfflineExtractor()
    if settings.EXTRACTOR == "llm":
        from enrichment.extraction.llm import LLMExtractor

        return LLMExtractor(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY,
                            model=settings.LLM_MODEL, fallback=offline)
    return offline
