"""Export and import of a tenant's memory (or one end user's) as JSONL.

The file: a header line, then one JSON object per line, each with a `record` kind (not `type`, which
is a column of events):

    {"record": "header", "format": "claiv-memory-export", "version": 1,
     "embedding": {"model": "...", "dimension": 384}, "exported_at": "...",
     "tenant": "<slug, for information only>", "user_id": null | "..."}
    {"record": "event", ...}      every stored column but the tenant and generated ones
    {"record": "fact", ..., "sources": [{"event": id, "source_text": ...}]}
                                with its history links (superseded_by, contradicts)
    {"record": "episode", ..., "events": [id, ...]}
    {"record": "document" | "section" | "span" | "distillation" | "collection" |
     "membership" | "document_tag", ...}   documents and collections, see
                                memory.portability_documents (span vectors like the others)
    {"record": "receipt", ...}    deletion receipts, for the record

Vectors travel as base64 of little-endian float32 (exact, a quarter of the JSON text).
Candidates (an event's intermediate extraction state) are not exported.

Import (`memory_import`) is one transaction: bad input changes nothing.
- Tenant: the target is always the caller's; the file's tenant slug is never read.
- Ids: an id of the file is kept when no row has it or the target tenant already has it;
  an id that another tenant's row holds is replaced by uuid5(tenant, id). So a file can
  never touch another tenant's rows, and the mapping is the same on every run.
- Idempotent: rows whose (mapped) id the tenant already has are left as they are; an
  episode is also matched by its natural key; sources and receipts by their unique keys.
  Importing the same file twice changes nothing the second time.
- References (a fact's source event, its history, an episode's events) must point at
  rows of the same file: a file cannot attach data to rows it does not carry.
- Vectors are reused when the header's model and dimension are this server's, else
  recomputed with this server's embedder (the same texts enrichment embeds).
- Receipts are signed by the exporting deployment's key and chained in its tenant's
  chain; they are kept as `ForeignReceipt` rows, verbatim, outside this tenant's chain.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from claiv.errors import InvalidRequest
from memory.embedding import embedder
from memory.models import (
    DeletionReceipt,
    Episode,
    Event,
    Fact,
    FactSource,
    ForeignReceipt,
    Passage,
)
from memory.passages import WHOLE_TEXT_CHARS
from memory.portability_documents import (
    COUNT_KEYS,
    DOCUMENT_KINDS,
    documents_export,
    documents_import,
    documents_plan_ids,
    documents_save,
)
from memory.versioning import users_memory_changed
from tenants.models import Tenant

FORMAT = "claiv-memory-export"
FORMAT_VERSION = 1
# Namespace of the ids remapped on import (uuid5 of tenant and original id).
ID_NAMESPACE = uuid.UUID("5d2a8a57-6c1e-4b43-9a55-0f3c3f1f6a01")
EMBED_BATCH = 64
# Row kinds in the order they must appear (a row may refer only to kinds before it).
KINDS = ("event", "fact", "episode", *DOCUMENT_KINDS, "receipt")
# Columns never carried by a file: the owner, derived search vectors, vectors (apart).
_SKIP = {"tenant", "search", "embedding"}
_AUTO_TIMES = {
    Event: ["created_at", "state_changed_at"],
    Fact: ["created_at", "updated_at"],
    Episode: ["updated_at"],
}


def embedding_model_name() -> str:
    """The model whose vectors are stored: the local MiniLM, or the configured provider's."""
    if settings.EMBEDDING_PROVIDER == "local":
        return "sentence-transformers/all-MiniLM-L6-v2"
    return f"{settings.EMBEDDING_PROVIDER}:{settings.EMBEDDING_MODEL}"


def _vector_out(vector: Any) -> str | None:
    if vector is None:
        return None
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _vector_in(text: Any, *, line: int) -> list[float] | None:
    if text is None:
        return None
    try:
        raw = base64.b64decode(str(text), validate=True)
        values = np.frombuffer(raw, dtype="<f4")
    except ValueError as exc:
        raise _bad(line, "embedding is not base64 float32") from exc
    if len(values) != settings.EMBEDDING_DIM or not np.all(np.isfinite(values)):
        raise _bad(line, "embedding has the wrong dimension")
    return [float(v) for v in values]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _fields(model: Any) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in _SKIP and not getattr(f, "generated", False)
    ]


def _row_out(kind: str, obj: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"record": kind}
    for f in _fields(type(obj)):
        row[f.name] = _plain(getattr(obj, f.attname))
    if hasattr(obj, "embedding"):
        row["embedding"] = _vector_out(obj.embedding)
    return row


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def record_kind(line: str) -> str:
    """The `record` of an exported line, without parsing it: every line `memory_export`
    writes starts with {"record":"<kind>", (`_row_out`, the header)."""
    return line[11 : line.index('"', 11)]


# --- Export --------------------------------------------------------------------------------


def memory_export(*, tenant: Tenant, user_id: str | None = None) -> Iterator[str]:
    """The tenant's memory (or one end user's) as JSONL lines, header first, no newlines."""
    mine: dict[str, Any] = {"tenant": tenant} | ({"user_id": user_id} if user_id else {})
    yield _line(
        {
            "record": "header",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "embedding": {"model": embedding_model_name(), "dimension": settings.EMBEDDING_DIM},
            "exported_at": timezone.now().isoformat(),
            "tenant": tenant.slug,
            "user_id": user_id,
        }
    )
    for event in Event.objects.filter(**mine).order_by("created_at", "id").iterator(500):
        yield _line(_row_out("event", event))
    sources: dict[uuid.UUID, list[dict[str, str]]] = {}
    for fact_id, event_id, text in (
        FactSource.objects.filter(**{f"fact__{k}": v for k, v in mine.items()})
        .order_by("id")
        .values_list("fact_id", "event_id", "source_text")
    ):
        sources.setdefault(fact_id, []).append({"event": str(event_id), "source_text": text})
    for fact in Fact.objects.filter(**mine).order_by("created_at", "id").iterator(500):
        yield _line(_row_out("fact", fact) | {"sources": sources.get(fact.pk, [])})
    members: dict[uuid.UUID, list[str]] = {}
    through = Episode.events.through
    for episode_id, event_id in (
        through.objects.filter(**{f"episode__{k}": v for k, v in mine.items()})
        .order_by("id")
        .values_list("episode_id", "event_id")
    ):
        members.setdefault(episode_id, []).append(str(event_id))
    for episode in Episode.objects.filter(**mine).order_by("id").iterator(500):
        yield _line(_row_out("episode", episode) | {"events": members.get(episode.pk, [])})
    for row in documents_export(tenant=tenant, user_id=user_id):
        yield _line(row)
    for receipt in DeletionReceipt.objects.filter(**mine).order_by("sequence"):
        yield _line(_row_out("receipt", receipt))
    for foreign in ForeignReceipt.objects.filter(tenant=tenant).order_by("id"):
        if not user_id or foreign.record.get("user_id") == user_id:
            yield _line(foreign.record)


# --- Import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import added (rows already present are not counted)."""

    counts: dict[str, int] = field(default_factory=dict)
    reembedded: bool = False
    users: set[str] = field(default_factory=set)


def _bad(line: int, message: str) -> InvalidRequest:
    return InvalidRequest(f"Line {line}: {message}.", details={"line": line})


def _parse(lines: Iterable[str]) -> tuple[dict[str, Any], dict[str, list[tuple[int, dict]]]]:
    header: dict[str, Any] | None = None
    rows: dict[str, list[tuple[int, dict]]] = {kind: [] for kind in KINDS}
    last_kind = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError as exc:
            raise _bad(number, "not JSON") from exc
        if not isinstance(row, dict):
            raise _bad(number, "not a JSON object")
        kind = row.get("record")
        if header is None:
            if (
                kind != "header"
                or row.get("format") != FORMAT
                or row.get("version") != FORMAT_VERSION
                or not isinstance(row.get("embedding"), dict)
            ):
                raise _bad(
                    number, f"the first line must be a {FORMAT} version {FORMAT_VERSION} header"
                )
            header = row
            continue
        if kind not in KINDS:
            raise _bad(number, f"unknown type {kind!r}")
        if KINDS.index(kind) < last_kind:
            raise _bad(number, f"{kind} rows must come before {KINDS[last_kind]} rows")
        last_kind = KINDS.index(kind)
        rows[kind].append((number, row))
    if header is None:
        raise InvalidRequest("The file is empty: no header line.", details={"line": 0})
    return header, rows


def memory_import_check(lines: Iterable[str]) -> None:
    """The checks of an import that need no database: the header, JSON objects, known
    record kinds in order. Raises InvalidRequest (with the line number) as `memory_import`
    would; a file that passes may still be refused by `memory_import` (fields, references)."""
    _parse(lines)


def _values(model: Any, row: dict[str, Any], *, line: int, extra: set[str]) -> dict[str, Any]:
    """The row's column values, validated by the model's own fields; relations as raw ids."""
    known = {f.name: f for f in _fields(model)}
    unknown = set(row) - set(known) - extra - {"record", "embedding"}
    if unknown:
        raise _bad(line, f"unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in row:
            continue
        try:
            if f.is_relation:
                values[f.attname] = None if row[name] is None else uuid.UUID(str(row[name]))
                continue
            # to_python and the validators (lengths, ranges), not Field.clean: a column
            # may hold "" where its form field would call it required.
            value = f.to_python(row[name])
            if value is None and not f.null:
                raise ValidationError("null")
            if f.choices and value not in {c[0] for c in f.flatchoices}:
                raise ValidationError("not a choice")
            if isinstance(value, str) and "\x00" in value:
                raise ValidationError("NUL")  # Postgres cannot store it
            f.run_validators(value)
            values[f.attname] = value
        except (ValidationError, ValueError, TypeError, AttributeError) as exc:
            raise _bad(line, f"invalid {name}") from exc
    return values


class _Ids:
    """The file's ids mapped into the target tenant (see the module docstring)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.maps: dict[Any, dict[uuid.UUID, uuid.UUID]] = {}

    def plan(self, model: Any, ids: set[uuid.UUID]) -> None:
        taken = set(
            model.objects.filter(pk__in=ids)
            .exclude(tenant=self.tenant)
            .values_list("pk", flat=True)
        )
        mapping = {
            i: (uuid.uuid5(ID_NAMESPACE, f"{self.tenant.pk}:{i}") if i in taken else i) for i in ids
        }
        remapped = {mapping[i] for i in taken}
        if (
            remapped and model.objects.filter(pk__in=remapped).exclude(tenant=self.tenant).exists()
        ):  # a uuid5 collision: refuse rather than merge
            raise InvalidRequest("The file's ids collide with another tenant's rows.")
        self.maps[model] = mapping

    def get(self, model: Any, value: Any, *, line: int, what: str) -> Any:
        """The mapped id (None for None); a reference outside the file is refused."""
        if value is None:
            return None
        if value not in self.maps[model]:
            raise _bad(line, f"{what} {value} is not in the file")
        return self.maps[model][value]


def _row_id(row: dict[str, Any], *, line: int) -> uuid.UUID:
    try:
        return uuid.UUID(str(row["id"]))
    except (KeyError, ValueError) as exc:
        raise _bad(line, "missing or invalid id") from exc


def _reembed(events: list[Event], facts: list[Fact], episodes: list[Episode]) -> None:
    """This server's vectors for rows whose file vectors came from another model."""
    # The texts enrichment embeds (enrichment.pipeline.stages.embed, enrichment.episodes),
    # restated here: memory must not import enrichment.
    items: list[tuple[Any, str]] = [(e, e.content[:WHOLE_TEXT_CHARS]) for e in events]
    for fact in facts:
        subject = "I" if fact.subject == "user" else fact.subject
        negation = "not " if fact.negated else ""
        items.append((fact, f"{subject} {negation}{fact.relation_phrase} {fact.object_text}"))
    items += [(ep, ep.summary.partition(": ")[2] or ep.summary) for ep in episodes if ep.summary]
    for start in range(0, len(items), EMBED_BATCH):
        batch = items[start : start + EMBED_BATCH]
        for (obj, _), vector in zip(batch, embedder().embed([t for _, t in batch]), strict=True):
            obj.embedding = vector


def _passages_create(events: list[Event]) -> None:
    """The passages of the imported long events (memory.passages), embedded by this
    server: they are derived rows, not in the file, and without them a long event would
    be found only through its first part."""
    passages = Passage.of_events(e for e in events if e.forgotten_at is None)
    for at in range(0, len(passages), EMBED_BATCH):
        batch = passages[at : at + EMBED_BATCH]
        for passage, vector in zip(batch, embedder().embed([p.text for p in batch]), strict=True):
            passage.embedding = vector
    Passage.objects.bulk_create(passages, batch_size=500, ignore_conflicts=True)


def memory_import(*, tenant: Tenant, lines: Iterable[str]) -> ImportResult:
    """Import a `memory_export` file into `tenant` (contract in the module docstring).

    Raises InvalidRequest (with the line number) on a malformed file; nothing is written then.
    """
    header, rows = _parse(lines)
    embedding = header["embedding"]
    reuse = (
        embedding.get("model") == embedding_model_name()
        and embedding.get("dimension") == settings.EMBEDDING_DIM
    )
    result = ImportResult(reembedded=not reuse)
    ids = _Ids(tenant)
    for model, kind in ((Event, "event"), (Fact, "fact"), (Episode, "episode")):
        ids.plan(model, {_row_id(row, line=n) for n, row in rows[kind]})
    documents_plan_ids(ids, rows)

    with transaction.atomic():
        events = _import_events(tenant, rows["event"], ids, reuse)
        facts, links, sources = _import_facts(tenant, rows["fact"], ids, reuse)
        episodes, members = _import_episodes(tenant, rows["episode"], ids, reuse)
        if not reuse:
            _reembed(events, facts, episodes)
        saved: list[tuple[Any, list[Any]]] = [(Event, events), (Fact, facts), (Episode, episodes)]
        for model, objs in saved:
            # auto_now(_add) columns take the current time on insert: restore the file's.
            times = [[getattr(o, name) for name in _AUTO_TIMES[model]] for o in objs]
            model.objects.bulk_create(objs, batch_size=500)
            for obj, values in zip(objs, times, strict=True):
                for name, value in zip(_AUTO_TIMES[model], values, strict=True):
                    if value is not None:
                        setattr(obj, name, value)
            model.objects.bulk_update(objs, _AUTO_TIMES[model], batch_size=500)
        _passages_create(events)
        # History links after every fact exists (a fact may point at a later one).
        for fact in facts:
            fact.superseded_by_id, fact.contradicts_id = links[fact.pk]
        Fact.objects.bulk_update(facts, ["superseded_by", "contradicts"], batch_size=500)
        added_sources = FactSource.objects.bulk_create(sources, ignore_conflicts=True)
        through = Episode.events.through
        through.objects.bulk_create(
            [through(episode_id=e, event_id=v) for e, v in members], ignore_conflicts=True
        )
        documents = documents_import(tenant=tenant, rows=rows, ids=ids, reuse=reuse)
        document_counts = documents_save(documents)
        receipts = _import_receipts(tenant, rows["receipt"])
        result.users = (
            {e.user_id for e in events}
            | {f.user_id for f in facts}
            | {ep.user_id for ep in episodes}
            | documents.users
        )
        if result.users:
            users_memory_changed(users={(str(tenant.pk), u) for u in result.users})
    result.counts = {
        "events": len(events),
        "facts": len(facts),
        "episodes": len(episodes),
        "sources": len(added_sources),
        **{key: document_counts[key] for key in COUNT_KEYS},
        "receipts": receipts,
    }
    return result


def _new(
    model: Any,
    tenant: Tenant,
    kind: str,
    items: list[tuple[int, dict]],
    ids: _Ids,
    reuse: bool,
    extra: set[str],
) -> list[tuple[int, dict, Any]]:
    """Unsaved rows of the file whose mapped id the tenant does not have yet."""
    mapping = ids.maps[model]
    present = set(
        model.objects.filter(tenant=tenant, pk__in=set(mapping.values())).values_list(
            "pk", flat=True
        )
    )
    out = []
    for line, row in items:
        values = _values(model, row, line=line, extra=extra)
        new_id = mapping[values.pop("id")]
        if new_id in present:
            continue
        present.add(new_id)
        obj = model(id=new_id, tenant=tenant, **values)
        obj.embedding = _vector_in(row.get("embedding"), line=line) if reuse else None
        out.append((line, row, obj))
    return out


def _import_events(
    tenant: Tenant, items: list[tuple[int, dict]], ids: _Ids, reuse: bool
) -> list[Event]:
    return [obj for _, _, obj in _new(Event, tenant, "event", items, ids, reuse, set())]


def _import_facts(
    tenant: Tenant, items: list[tuple[int, dict]], ids: _Ids, reuse: bool
) -> tuple[list[Fact], dict[uuid.UUID, tuple[Any, Any]], list[FactSource]]:
    facts, links, sources = [], {}, []
    for line, row, fact in _new(Fact, tenant, "fact", items, ids, reuse, {"sources"}):
        fact.source_event_id = ids.get(Event, fact.source_event_id, line=line, what="source event")
        links[fact.pk] = (
            ids.get(Fact, fact.superseded_by_id, line=line, what="fact"),
            ids.get(Fact, fact.contradicts_id, line=line, what="fact"),
        )
        fact.superseded_by_id = fact.contradicts_id = None
        raw_sources = row.get("sources") or []
        if not isinstance(raw_sources, list):
            raise _bad(line, "sources must be a list")
        for source in raw_sources:
            try:
                event_id = uuid.UUID(str(source["event"]))
                text = str(source["source_text"])
            except (KeyError, TypeError, ValueError) as exc:
                raise _bad(line, "invalid source") from exc
            mapped = ids.get(Event, event_id, line=line, what="source event")
            sources.append(FactSource(fact_id=fact.pk, source_text=text, event_id=mapped))
        facts.append(fact)
    return facts, links, sources


def _import_episodes(
    tenant: Tenant, items: list[tuple[int, dict]], ids: _Ids, reuse: bool
) -> tuple[list[Episode], list[tuple[uuid.UUID, uuid.UUID]]]:
    existing = {
        (e.user_id, e.conversation_id, e.session_key): e.pk
        for e in Episode.objects.filter(tenant=tenant).only(
            "id", "user_id", "conversation_id", "session_key"
        )
    }
    episodes, members = [], []
    for line, row, episode in _new(Episode, tenant, "episode", items, ids, reuse, {"events"}):
        natural = (episode.user_id, episode.conversation_id, episode.session_key)
        if natural in existing:  # the same conversation's episode, under another id
            ids.maps[Episode][_row_id(row, line=line)] = existing[natural]
            continue
        existing[natural] = episode.pk
        episodes.append(episode)
    for line, row in items:
        episode_id = ids.get(Episode, _row_id(row, line=line), line=line, what="episode")
        raw = row.get("events") or []
        if not isinstance(raw, list):
            raise _bad(line, "events must be a list")
        for value in raw:
            try:
                event_id = uuid.UUID(str(value))
            except ValueError as exc:
                raise _bad(line, "invalid event id") from exc
            members.append((episode_id, ids.get(Event, event_id, line=line, what="event")))
    return episodes, members  # type: ignore[return-value]


def _import_receipts(tenant: Tenant, items: list[tuple[int, dict]]) -> int:
    """Receipts the tenant keeps neither in its own chain nor as foreign ones yet."""
    ids = {_row_id(row, line=line): (line, row) for line, row in items}
    known = set(
        DeletionReceipt.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", flat=True)
    )
    known |= set(
        ForeignReceipt.objects.filter(tenant=tenant, receipt_id__in=ids).values_list(
            "receipt_id", flat=True
        )
    )
    foreign = []
    for receipt_id, (line, row) in ids.items():
        if receipt_id in known:
            continue
        if len(json.dumps(row)) > 64 * 1024:
            raise _bad(line, "receipt too large")
        foreign.append(ForeignReceipt(tenant=tenant, receipt_id=receipt_id, record=row))
    ForeignReceipt.objects.bulk_create(foreign)
    return len(foreign)
