"""The distil stage of documents (API.md §8): a summary per section and one of the whole
document, written in the background after an upload, and the reconciliation that re-sends
a document whose message was lost.

Extractive by default (the section's most central sentences, in reading order, offline);
abstractive through the configured OpenAI-compatible endpoint when CLAIV_EXTRACTOR=llm,
falling back to extractive on any provider failure. The stage is idempotent: it writes the
distillations of the generation it was sent for, replacing any earlier ones, under the
document's row lock, and does nothing when the document was replaced or deleted since.
Nothing from the content is logged.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import timedelta
from functools import partial

import openai
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from enrichment.summaries import ExtractiveSummarizer, Highlight, _clip
from memory.documents.models import (
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentStatus,
)
from memory.versioning import user_memory_changed

logger = logging.getLogger("claiv.enrichment")

DISTIL_TASK = "enrichment.document_distil"
SECTION_SUMMARY_CHARS = 400
DOCUMENT_SUMMARY_CHARS = 1200
# Sections whose text is shorter than this are their own summary (nothing to distil).
SECTION_MIN_CHARS = 120
# Documents in `processing` for longer than this are re-sent by reconciliation.
DISTIL_GRACE_SECONDS = 120
DISTIL_MAX_ATTEMPTS = 5

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)")
_WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)|[`*_]{1,3}")
_STOP = frozenset(
    "the and for are but not you all any can had her was one our out his has have its "
    "this that with from they will would there their what about which when your into "
    "than then them these those been were also each more some such only other over".split()
)


def distil_enqueue(document: Document) -> None:
    """Send the distil stage for the document's current generation once the caller's
    transaction commits (a lost message is re-sent by `documents_reconcile`)."""
    from celery import current_app

    def send(document_pk: str, generation: int) -> None:
        try:
            current_app.send_task(DISTIL_TASK, args=[document_pk, generation])
        except Exception as exc:  # broker down: reconciliation re-sends it
            logger.warning("distil not sent document=%s error=%s", document_pk, type(exc).__name__)

    transaction.on_commit(partial(send, str(document.pk), document.generation))


def _sentences(text: str) -> list[str]:
    parts = [" ".join(_MARKUP.sub("", p).split()) for p in _SENTENCE.split(text)]
    return [p for p in parts if len(p.split()) >= 3]


def _highlights(sentences: list[str], weights: Counter[str]) -> list[Highlight]:
    """Sentences scored by the mean weight of their content words (their centrality in
    the text), the first sentence slightly favoured (it usually says what follows)."""
    highlights = []
    for i, sentence in enumerate(sentences):
        words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOP]
        score = sum(weights[w] for w in words) / (len(words) + 3) if words else 0.0
        highlights.append(Highlight(sentence, score * (1.3 if i == 0 else 1.0)))
    return highlights


def _weights(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if w not in _STOP)


_PROMPT = """\
You summarise one part of a document for a retrieval system. You get its title and text.
Write at most {limit} characters: plain prose, keep names, numbers, commands and settings
exactly as given, no preamble. Reply with the summary only."""


def _abstractive(title: str, text: str, limit: int) -> str | None:
    """The LLM's summary, or None without a provider or when it fails."""
    if settings.EXTRACTOR != "llm":
        return None
    client = openai.OpenAI(
        base_url=settings.LLM_BASE_URL or None,
        api_key=settings.LLM_API_KEY or "unused",
        timeout=settings.LLM_TIMEOUT,
        max_retries=settings.LLM_MAX_RETRIES,
    )
    try:
        response = client.chat.completions.create(
            model=settings.LLM_MODEL,
            messages=[
                {"role": "system", "content": _PROMPT.format(limit=limit)},
                {"role": "user", "content": f"{title}\n\n{text[:24000]}"},
            ],
        )
    except (openai.OpenAIError, ValueError) as exc:
        logger.warning("document distil: falling back to extractive (%s)", type(exc).__name__)
        return None
    choices = response.choices or []
    answer = (choices[0].message.content or "").strip() if choices else ""
    return _clip(answer, limit) if answer else None


def section_summary(title: str | None, text: str, weights: Counter[str]) -> tuple[str, str]:
    """(summary, summarizer name) of one section's text."""
    if len(text.strip()) < SECTION_MIN_CHARS:
        return " ".join(_MARKUP.sub("", text).split()), "extractive"
    abstract = _abstractive(title or "", text, SECTION_SUMMARY_CHARS)
    if abstract:
        return abstract, "llm"
    result = ExtractiveSummarizer().summarize(
        highlights=_highlights(_sentences(text), weights), limit=SECTION_SUMMARY_CHARS
    )
    return result.text, result.summarizer


def document_distil(document_pk: str, generation: int) -> str:
    """Write the distillations of one generation of a document and mark it ready.
    -> "done", or "stale" when the document was replaced, deleted or is already ready."""
    document = Document.objects.filter(pk=document_pk).first()
    if document is None or document.generation != generation:
        return "stale"
    if document.status != DocumentStatus.PROCESSING:
        return "stale"
    sections = list(DocumentSection.objects.filter(document=document).order_by("ordinal"))
    content = document.content
    weights = _weights(content)
    rows: list[DocumentDistillation] = []
    for section in sections:
        # Its own text (heading line excluded), not its subsections: they have their own.
        own = content[section.start : section.body_end]
        if section.title is not None:
            own = own.split("\n", 1)[1] if "\n" in own else ""
        if not own.strip():
            continue
        text, writer = section_summary(section.title, own, weights)
        if text:
            rows.append(
                DocumentDistillation(
                    tenant_id=document.tenant_id,
                    document=document,
                    section=section,
                    text=text,
                    summarizer=writer,
                )
            )
    whole = _abstractive(document.name, content, DOCUMENT_SUMMARY_CHARS)
    writer = "llm"
    if whole is None:
        # The document's summary: the most central sentences of the whole text, in order.
        result = ExtractiveSummarizer().summarize(
            highlights=_highlights(_sentences(content), weights), limit=DOCUMENT_SUMMARY_CHARS
        )
        whole, writer = result.text, result.summarizer
    if whole:
        rows.append(
            DocumentDistillation(
                tenant_id=document.tenant_id,
                document=document,
                section=None,
                text=whole,
                summarizer=writer,
            )
        )
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document_pk).first()
        if locked is None or locked.generation != generation:
            return "stale"  # replaced or deleted while this ran
        DocumentDistillation.objects.filter(document=locked).delete()
        DocumentDistillation.objects.bulk_create(rows)
        Document.objects.filter(pk=locked.pk).update(
            status=DocumentStatus.READY, error=None, state_changed_at=timezone.now()
        )
        # Cached recalls of the user ("summarise this document") predate the summaries.
        user_memory_changed(tenant_id=locked.tenant_id, user_id=locked.user_id)
    return "done"


def document_mark_error(document_pk: str, generation: int, error: str) -> None:
    """A permanent failure: the document keeps its spans (searchable) and says why."""
    Document.objects.filter(pk=document_pk, generation=generation).update(
        status=DocumentStatus.ERROR, error=error[:500], state_changed_at=timezone.now()
    )


def documents_reconcile(*, grace_seconds: int = DISTIL_GRACE_SECONDS) -> int:
    """Re-send the distil stage of documents in `processing` for longer than the grace
    period (a lost message, a crashed worker); after DISTIL_MAX_ATTEMPTS re-sends a
    document is marked `error`. -> how many were re-sent."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    stuck = list(
        Document.objects.filter(
            status=DocumentStatus.PROCESSING, state_changed_at__lt=cutoff
        ).values_list("pk", "generation", "distill_attempts")[:500]
    )
    sent = 0
    for pk, generation, attempts in stuck:
        if attempts >= DISTIL_MAX_ATTEMPTS:
            document_mark_error(str(pk), generation, "distillation did not complete")
            continue
        with transaction.atomic():
            claimed = Document.objects.filter(
                pk=pk,
                generation=generation,
                status=DocumentStatus.PROCESSING,
                state_changed_at__lt=cutoff,
            ).update(distill_attempts=attempts + 1, state_changed_at=timezone.now())
            if claimed:
                document = Document(pk=pk, generation=generation)
                distil_enqueue(document)
                sent += 1
    if sent:
        logger.info("documents reconcile re-sent=%d", sent)
    return sent
