"""Fact extraction on an independent set (issue #15): precision/recall and supersede.

Usage::

    python -m bench.fact_eval [--batch 1|2|all] [--part dev|sealed|all]
                              [--extractor offline|llm] [--no-supersede] [--misses]

The set is `tests/enrichment/eval/` (its README gives the labelling conventions and the
dev/sealed split; the sealed part is only scored, so `--misses` refuses it). It comes in
batches written at different times by hands that never saw the rules: batch 1
(`statements.jsonl`, `supersede.jsonl`) and batch 2 (`statements_2.jsonl`,
`supersede_2.jsonl`, ids `b2-...`). Without `--batch` each batch is reported on its own
(batch 1's figures stay comparable with earlier runs); `--batch all` pools them. The
loaders (`statements_load`, `pairs_load`) default to batch 1, so callers written before
batch 2 existed keep measuring exactly what they measured.

Single statements: each statement is one event given to the configured extractor
(`enrichment.extractors.extractor()`, offline by default, `--extractor llm` through the
configured provider); each proposition is named as the Map stage names it (its own
catalog predicate, else `predicate_map`) and kept only if the Gate would admit it
(`utility_score >= DEFAULT_GATE_THRESHOLD`): the predictions are the facts the pipeline
would write. A prediction matches an expected fact when

- the subjects are equal after normalisation (`user` for the speaker),
- the predicate is the expected one (or one of the listed alternatives), exactly,
- `negated` is equal,
- the objects are equal after normalisation (or equal to one listed alternative).

Normalisation (`normalise`): lower case, curly quotes folded, punctuation replaced by
spaces, the words a/an/the dropped, a leading my/our/his/her/their dropped, spaces
collapsed. So "the Toronto." matches "Toronto" but "Toronto with my two cats" does not,
and "Ursula K" does not match "Ursula K. Le Guin". Each expected fact is matched by at most
one prediction; identical predictions of one statement count once (Map dedups them).
Precision = matched predictions / predictions; recall = matched expected / expected. Per
kind: recall by the expected fact's kind, precision by the predicted one's; per tag: over
the statements carrying the tag.

Supersede pairs go through the real pipeline: for a fresh user each, the first statement
is ingested (`event_ingest_and_enqueue`) and enriched in-process (`stage_run(..., "tier")`,
every stage), then the second. A pair passes when every `expected_current` fact is current
and is the only current positive value of its subject and predicate, and every
`expected_history` fact is stored as superseded.

Run from the command line, it starts an embedded Postgres and Valkey in a temporary
directory (nothing is downloaded). The functions are also called by
`tests/enrichment/test_fact_eval.py` on the test database.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "tests" / "enrichment" / "eval"

# Predicates the set proposes that the catalog lacks yet (see the set's README).
PROPOSED_KINDS: dict[str, str] = {"assistant_instruction": "instruction"}

_PUNCT_RE = re.compile(r"[^\w\s]+")
_ARTICLES = frozenset({"a", "an", "the"})
_POSSESSIVES = frozenset({"my", "our", "his", "her", "their"})


def part_of(item_id: str) -> str:
    """`dev` for about 40 % of ids, `sealed` for the rest; by a hash of the id only."""
    return "dev" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 10 < 4 else "sealed"


def normalise(text: str) -> str:
    """The comparison form of a subject or object (see the module docstring)."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    words = [w for w in _PUNCT_RE.sub(" ", text).split() if w not in _ARTICLES]
    if words and words[0] in _POSSESSIVES:
        words = words[1:]
    return " ".join(words)


# Batch -> (statements file, pairs file) in EVAL_DIR. A new batch is a new pair of files
# (ids prefixed so they never collide), never an edit of an older batch's items.
BATCHES: dict[str, tuple[str, str]] = {
    "1": ("statements.jsonl", "supersede.jsonl"),
    "2": ("statements_2.jsonl", "supersede_2.jsonl"),
}


def _batches(batch: str) -> list[str]:
    if batch == "all":
        return list(BATCHES)
    if batch not in BATCHES:
        raise ValueError(f"unknown batch {batch!r}: one of {', '.join(BATCHES)} or 'all'")
    return [batch]


def _load(name: str, part: str) -> list[dict[str, Any]]:
    lines = (EVAL_DIR / name).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [i for i in items if part == "all" or part_of(i["id"]) == part]


def statements_load(*, part: str = "all", batch: str = "1") -> list[dict[str, Any]]:
    """Single statements of `part` (dev/sealed/all) in `batch` ("1", "2" or "all")."""
    return [i for b in _batches(batch) for i in _load(BATCHES[b][0], part)]


def pairs_load(*, part: str = "all", batch: str = "1") -> list[dict[str, Any]]:
    """Supersede pairs of `part` (dev/sealed/all) in `batch` ("1", "2" or "all")."""
    return [i for b in _batches(batch) for i in _load(BATCHES[b][1], part)]


def kind_of(predicate: str) -> str:
    from memory.vocabulary.predicates import predicate_get

    if predicate in PROPOSED_KINDS:
        return PROPOSED_KINDS[predicate]
    try:
        return predicate_get(predicate).kind
    except KeyError:
        return "other"


@dataclass(frozen=True)
class Expected:
    """One labelled fact, alternatives expanded and normalised."""

    subject: str
    predicates: tuple[str, ...]
    objects: tuple[str, ...]
    negated: bool

    @classmethod
    def of(cls, fact: dict[str, Any]) -> Expected:
        preds, objs = fact["predicate"], fact["object"]
        return cls(
            subject=normalise(fact["subject"]),
            predicates=tuple(preds if isinstance(preds, list) else [preds]),
            objects=tuple(normalise(o) for o in (objs if isinstance(objs, list) else [objs])),
            negated=bool(fact.get("negated", False)),
        )

    @property
    def kind(self) -> str:
        return kind_of(self.predicates[0])

    def matches(self, subject: str, predicate: str, obj: str, negated: bool) -> bool:
        return (
            normalise(subject) == self.subject
            and predicate in self.predicates
            and negated == self.negated
            and normalise(obj) in self.objects
        )


@dataclass(frozen=True)
class Predicted:
    subject: str
    predicate: str
    object: str
    negated: bool


def predictions(item: dict[str, Any]) -> list[Predicted]:
    """The facts the pipeline would write for one statement (Map naming, Gate admission)."""
    from enrichment.extractors import extractor
    from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
    from enrichment.propositions import CHANGE_FROM, ExtractionInput
    from memory.vocabulary.predicates import FALLBACK_PREDICATE, predicate_get, predicate_map

    event_time = datetime.fromisoformat(item["event_time"].replace("Z", "+00:00"))
    result = extractor().extract(
        ExtractionInput(
            content=item["text"], event_type="message", role=item["role"], event_time=event_time
        )
    )
    found: dict[tuple[str, str, str, bool], Predicted] = {}
    for p in result.propositions:
        try:
            predicate = predicate_get(p.predicate) if p.predicate else None
        except KeyError:  # as the Map stage: an unknown name is mapped again
            predicate = None
        if predicate is None and p.relation_phrase == CHANGE_FROM:
            # As the Map stage: an ended value is named only by a held fact, and a single
            # statement's fresh user holds none.
            predicate = FALLBACK_PREDICATE
        if predicate is None:
            predicate = predicate_map(relation_phrase=p.relation_phrase, object_text=p.object_text)
        if utility_score(proposition=p, predicate=predicate) < DEFAULT_GATE_THRESHOLD:
            continue
        key = (normalise(p.subject), predicate.name, normalise(p.object_text), p.negated)
        found.setdefault(key, Predicted(p.subject, predicate.name, p.object_text, p.negated))
    return list(found.values())


@dataclass
class Counts:
    """Matched/total on both sides: predictions (precision) and expected facts (recall)."""

    pred_ok: int = 0
    pred: int = 0
    exp_ok: int = 0
    exp: int = 0

    def add(self, other: Counts) -> None:
        self.pred_ok += other.pred_ok
        self.pred += other.pred
        self.exp_ok += other.exp_ok
        self.exp += other.exp

    @property
    def precision(self) -> float:
        return self.pred_ok / self.pred if self.pred else 1.0

    @property
    def recall(self) -> float:
        return self.exp_ok / self.exp if self.exp else 1.0


@dataclass
class StatementReport:
    total: Counts = field(default_factory=Counts)
    by_kind: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_tag: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    items: int = 0
    # (id, text, missed expected, unmatched predictions) for --misses
    misses: list[tuple[str, str, list[Expected], list[Predicted]]] = field(default_factory=list)


def statement_score(
    item: dict[str, Any], predicted: Sequence[Predicted], report: StatementReport
) -> None:
    """Match one statement's predictions against its labels and add to `report`."""
    expected = [Expected.of(f) for f in item["expected"]]
    free = list(predicted)
    missed: list[Expected] = []
    counts = Counts(pred=len(predicted), exp=len(expected))
    for fact in expected:
        hit = next(
            (p for p in free if fact.matches(p.subject, p.predicate, p.object, p.negated)), None
        )
        report.by_kind[fact.kind].exp += 1
        if hit is None:
            missed.append(fact)
            continue
        free.remove(hit)
        counts.exp_ok += 1
        counts.pred_ok += 1
        report.by_kind[fact.kind].exp_ok += 1
    for p in predicted:
        kind = kind_of(p.predicate)
        report.by_kind[kind].pred += 1
        report.by_kind[kind].pred_ok += p not in free
    report.total.add(counts)
    for tag in item["tags"]:
        report.by_tag[tag].add(counts)
    report.items += 1
    if missed or free:
        report.misses.append((item["id"], item["text"], missed, free))


def statements_run(items: Iterable[dict[str, Any]]) -> StatementReport:
    report = StatementReport()
    for item in items:
        statement_score(item, predictions(item), report)
    return report


@dataclass(frozen=True)
class PairOutcome:
    id: str
    new_current: bool  # every expected current fact is current
    exclusive: bool  # ... and the only current positive value of its subject/predicate
    old_in_history: bool  # every expected history fact is stored as superseded

    @property
    def passed(self) -> bool:
        return self.new_current and self.exclusive and self.old_in_history


def pair_run(pair: dict[str, Any], *, tenant: Any, user_prefix: str = "fact-eval") -> PairOutcome:
    """Ingest and enrich the pair's two statements in order for a fresh user; judge."""
    from enrichment.pipeline import stage_run
    from enrichment.services import event_ingest_and_enqueue
    from memory.models import Fact

    user_id = f"{user_prefix}-{pair['id']}"
    for turn in (pair["first"], pair["second"]):
        event = event_ingest_and_enqueue(
            tenant=tenant,
            user_id=user_id,
            content=turn["text"],
            role=turn["role"],
            type="message",
            conversation_id=f"{user_id}-c",
            event_time=datetime.fromisoformat(turn["event_time"].replace("Z", "+00:00")),
        ).event
        # Not batched: the first statement must be enriched before the second arrives.
        stage_run(str(event.id), "tier", batch=False)
    facts = list(Fact.objects.filter(tenant=tenant, user_id=user_id))

    def found(fact: Expected, status: str) -> bool:
        return any(
            f.status == status and fact.matches(f.subject, f.predicate, f.object_text, f.negated)
            for f in facts
        )

    current = [Expected.of(f) for f in pair["expected_current"]]
    history = [Expected.of(f) for f in pair["expected_history"]]
    exclusive = all(
        not any(
            f.status == "current"
            and not f.negated
            and normalise(f.subject) == e.subject
            and f.predicate in e.predicates
            and normalise(f.object_text) not in e.objects
            for f in facts
        )
        for e in current
    )
    return PairOutcome(
        id=pair["id"],
        new_current=all(found(e, "current") for e in current),
        exclusive=exclusive,
        old_in_history=all(found(e, "superseded") for e in history),
    )


def pairs_run(pairs: Iterable[dict[str, Any]], *, tenant: Any) -> list[PairOutcome]:
    return [pair_run(pair, tenant=tenant) for pair in pairs]


# --- report ------------------------------------------------------------------------


def _row(name: str, c: Counts) -> str:
    return (
        f"| {name} | {c.precision:.3f} | {c.recall:.3f} | {c.pred_ok}/{c.pred} "
        f"| {c.exp_ok}/{c.exp} |"
    )


def report_markdown(
    part: str,
    report: StatementReport,
    outcomes: Sequence[PairOutcome] | None,
    *,
    batch: str | None = None,
) -> str:
    head = (
        "| {} | precision | recall | matched/predicted | matched/expected |\n|---|---|---|---|---|"
    )
    lines = [
        f"### {f'Batch {batch}, part' if batch else 'Part'}: {part} ({report.items} statements)",
        "",
        head.format("all"),
        _row("all", report.total),
        "",
        head.format("kind"),
    ]
    lines += [_row(k, c) for k, c in sorted(report.by_kind.items())]
    lines += ["", head.format("tag")]
    lines += [_row(t, c) for t, c in sorted(report.by_tag.items())]
    if outcomes is not None:
        passed = sum(o.passed for o in outcomes)
        only = sum(o.new_current and o.exclusive for o in outcomes)
        lines += [
            "",
            f"Supersede pairs: {len(outcomes)}; passed {passed} "
            f"({100 * passed / (len(outcomes) or 1):.1f} %); "
            f"new value current {sum(o.new_current for o in outcomes)}; "
            f"new value the only current one {only}; "
            f"old value in history {sum(o.old_in_history for o in outcomes)}.",
        ]
    return "\n".join(lines)


def _django_start(root: Path, extractor_name: str) -> Any:
    """An embedded Postgres and Valkey under `root`, Django set up and migrated; a tenant."""
    from claiv.embedded import postgres_start, valkey_start

    postgres = postgres_start(data_dir=root / "postgres")
    valkey: Any = valkey_start(data_dir=root / "valkey", persist=False)
    os.environ.update(
        DATABASE_URL=postgres.url,
        REDIS_URL=f"{valkey.connection_url}/0",
        CLAIV_ENV="development",
        CLAIV_DATA_DIR=str(root),
        SECRET_KEY="bench-" + "x" * 40,
        CLAIV_KEY_PEPPER="bench-" + "p" * 40,
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="claiv.settings",
        CLAIV_EXTRACTOR=extractor_name,
    )
    import django

    django.setup()
    from django.core.management import call_command

    from tenants.services import tenant_ensure

    call_command("migrate", verbosity=0)
    return tenant_ensure(slug="fact-eval")[0], [valkey.stop, postgres.stop]


def oracle_responder(items: Sequence[dict[str, Any]]) -> Any:
    """A chat responder for the local OpenAI-protocol stub that answers each statement of
    the set with its own labels in the LLM extractor's output schema (first alternative of
    each), as an ideal model would: it measures what the LLM path loses *after* the model
    (parsing, anchoring `source_text`, Map naming, the Gate), not a model's skill."""
    by_text = sorted(items, key=lambda i: len(i["text"]), reverse=True)

    def respond(body: dict[str, Any]) -> str:
        prompt = str(body["messages"][-1]["content"])
        item = next((i for i in by_text if f"<<<\n{i['text']}\n>>>" in prompt), None)
        facts = item["expected"] if item else []

        def first(value: Any) -> Any:
            return value[0] if isinstance(value, list) else value

        return json.dumps(
            {
                "propositions": [
                    {
                        "subject": f["subject"],
                        "relation_phrase": first(f["predicate"]).replace("_", " "),
                        "object_text": first(f["object"]),
                        "source_text": item["text"] if item else "",
                        "predicate": first(f["predicate"]),
                        "negated": bool(f.get("negated", False)),
                    }
                    for f in facts
                ]
            }
        )

    return respond


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        choices=("dev", "sealed", "all"),
        default=None,
        help="default: dev and sealed, each reported",
    )
    parser.add_argument(
        "--batch",
        choices=(*BATCHES, "all"),
        default=None,
        help="default: each batch reported on its own; 'all' pools them",
    )
    parser.add_argument("--extractor", choices=("offline", "llm"), default="offline")
    parser.add_argument(
        "--llm-answers",
        choices=("oracle", "empty"),
        default=None,
        help="with --extractor llm: serve the model's answers from the local OpenAI-protocol "
        "stub (tests/support/openai_stub.py): each statement's labels (oracle) or no facts",
    )
    parser.add_argument("--no-supersede", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list dev misses (dev only)")
    args = parser.parse_args(argv)
    parts = [args.part] if args.part else ["dev", "sealed"]
    batches = [args.batch] if args.batch else list(BATCHES)
    if args.misses and parts != ["dev"]:
        parser.error("--misses is for --part dev only: the sealed part is never read")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    stub = None
    if args.llm_answers:
        from tests.support.openai_stub import OpenAIStub

        answers = statements_load(part="all", batch="all") if args.llm_answers == "oracle" else []
        stub = OpenAIStub(chat_responder=oracle_responder(answers)).start()
        os.environ.update(LLM_BASE_URL=stub.base_url, LLM_API_KEY="sk-stub", LLM_MODEL="stub-model")
    with tempfile.TemporaryDirectory(prefix="fact-eval-") as tmp:
        tenant, stoppers = _django_start(Path(tmp), args.extractor)
        if stub is not None:
            stoppers.append(stub.stop)
        try:
            for batch, part in [(b, p) for b in batches for p in parts]:
                report = statements_run(statements_load(part=part, batch=batch))
                outcomes = (
                    None
                    if args.no_supersede
                    else pairs_run(pairs_load(part=part, batch=batch), tenant=tenant)
                )
                print(report_markdown(part, report, outcomes, batch=batch), end="\n\n")
                if args.misses:
                    for item_id, text, missed, extra in report.misses:
                        print(f"{item_id} {text!r}\n  missed: {missed}\n  extra: {extra}")
                    for o in outcomes or []:
                        if not o.passed:
                            print(f"pair {o.id} failed: {o}")
        finally:
            from django.db import connections

            connections.close_all()
            for stop in stoppers:
                stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
