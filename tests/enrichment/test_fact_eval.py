"""The independent fact set (tests/enrichment/eval/) scored by bench.fact_eval: the matching
rules, the split, and a regression floor on the dev part (offline extractor).

The floors are the figures last measured (BENCHMARKS.md, "Fact extraction on an
independent set") minus a small margin; the issue's targets are higher and for later. The
sealed part is floored on its aggregate figures only: its items and misses are never
printed here, so a failure says that generalisation regressed, not which item to tune to."""

from __future__ import annotations

import pytest

from bench.fact_eval import (
    Predicted,
    StatementReport,
    normalise,
    pairs_load,
    pairs_run,
    part_of,
    statement_score,
    statements_load,
    statements_run,
)
from tenants.models import Tenant

# Measured on the dev part: precision 230/237 = 0.970, recall 230/250 = 0.920 (eighth round
# of issue #15); 229/236 = 0.970, 229/250 = 0.916, 30/30 pairs (sixth round; fourth and
# fifth: 0.966, 0.912, 30/30; third: 0.941, 0.896,
# 30/30; second: 0.804, 0.720, 28/30; first: 0.633, 0.456, 9/30; before it: 0.574, 0.388,
# 8/30).
PRECISION_FLOOR = 0.96
RECALL_FLOOR = 0.92
PAIRS_PASSED_FLOOR = 29
# Measured on the sealed part (aggregate only): precision 195/238 = 0.819, recall
# 195/316 = 0.617 (statements: eighth round of issue #15, branch facts), 24/34 pairs (pairs:
# eighth round, branch pairs); seventh: 0.814, 0.611, 23/34; sixth: 0.796, 0.592, 21/34;
# fifth: 0.784, 0.585, 21/34;
# fourth: 0.763, 0.560, 21/34; third: 0.729, 0.519, 19/34; second: 0.684, 0.459, 13/34;
# first: 0.668, 0.402, 7/34; before it: 0.638, 0.373, 6/34).
SEALED_PRECISION_FLOOR = 0.815
SEALED_RECALL_FLOOR = 0.615
SEALED_PAIRS_PASSED_FLOOR = 24
# Batch 2 (written after the third round, by a helper who never saw the rules), measured
# at the eighth round: dev 161/167 = 0.964, 161/195 = 0.826; sealed 158/192 = 0.823,
# 158/294 = 0.537 (statements unchanged). At the seventh round: dev 159/166 = 0.958,
# 159/195 = 0.815, 22/23 pairs; sealed
# 158/192 = 0.823, 158/294 = 0.537, 21/47 pairs. Sixth round: dev 142/151 = 0.940,
# 142/195 = 0.728, 22/23 pairs (fifth: 0.888,
# 0.692, 20/23; fourth: 0.870, 0.651, 17/23; at b24fc61, before any work on it: 0.736,
# 0.544, 8/23); sealed 151/188 = 0.803, 151/294 = 0.514, 20/47 pairs (fifth: 0.789, 0.510,
# 19/47; fourth: 0.777, 0.497, 18/47; before: 0.732, 0.483, 17/47). Eighth round
# (supersede): dev 22/23 pairs, sealed 24/47 pairs; statements unchanged.
BATCH2_FLOORS = {
    "dev": (178, 0.96, 0.82, 23, 22),
    "sealed": (263, 0.82, 0.53, 47, 24),
}


def test_objects_compare_without_case_articles_possessives_or_punctuation() -> None:
    assert normalise("The Toronto.") == "toronto"
    assert normalise("my grandmother’s pierogi") == "grandmother s pierogi"
    assert normalise("Ursula K. Le Guin") == "ursula k le guin"
    assert normalise("Ursula K") != normalise("Ursula K. Le Guin")
    assert normalise("Toronto with my two cats") == "toronto with my two cats"


def test_the_split_is_by_id_and_keeps_about_forty_percent_for_development() -> None:
    assert (part_of("s001"), part_of("s002"), part_of("p01")) == (
        part_of("s001"),
        part_of("s002"),
        part_of("p01"),
    )
    assert (len(statements_load(part="dev")), len(statements_load(part="sealed"))) == (219, 295)
    assert (len(pairs_load(part="dev")), len(pairs_load(part="sealed"))) == (30, 34)


def test_a_statement_is_scored_on_subject_predicate_negation_and_object() -> None:
    item = {
        "id": "x",
        "text": "",
        "tags": ["t"],
        "expected": [
            {"subject": "user", "predicate": "lives_in", "object": "Toronto"},
            {"subject": "user", "predicate": ["exercise", "routine"], "object": ["run", "running"]},
            {"subject": "user", "predicate": "diet", "object": "meat", "negated": True},
        ],
    }
    report = StatementReport()
    statement_score(
        item,
        [
            Predicted("user", "lives_in", "Toronto with my two cats", False),
            Predicted("user", "routine", "Running", False),
            Predicted("user", "diet", "meat", False),
            Predicted("mom", "lives_in", "Nairobi", False),
        ],
        report,
    )
    total = report.total
    assert (total.pred_ok, total.pred, total.exp_ok, total.exp) == (1, 4, 1, 3)
    assert (report.by_tag["t"].precision, round(report.by_tag["t"].recall, 3)) == (0.25, 0.333)
    assert [m[0] for m in report.misses] == ["x"]


def test_the_offline_extractor_stays_at_or_above_its_dev_figures() -> None:
    report = statements_run(statements_load(part="dev"))
    assert (report.items, report.total.exp) == (219, 250)
    assert report.total.precision >= PRECISION_FLOOR
    assert report.total.recall >= RECALL_FLOOR


@pytest.mark.django_db
def test_supersede_pairs_of_the_dev_part_through_the_pipeline(tenant: Tenant) -> None:
    outcomes = pairs_run(pairs_load(part="dev"), tenant=tenant)
    assert len(outcomes) == 30
    assert sum(o.passed for o in outcomes) >= PAIRS_PASSED_FLOOR


def test_the_offline_extractor_stays_at_or_above_its_sealed_figures() -> None:
    report = statements_run(statements_load(part="sealed"))
    assert report.items == 295
    assert report.total.precision >= SEALED_PRECISION_FLOOR
    assert report.total.recall >= SEALED_RECALL_FLOOR


@pytest.mark.django_db
def test_supersede_pairs_of_the_sealed_part_through_the_pipeline(tenant: Tenant) -> None:
    outcomes = pairs_run(pairs_load(part="sealed"), tenant=tenant)
    assert len(outcomes) == 34
    assert sum(o.passed for o in outcomes) >= SEALED_PAIRS_PASSED_FLOOR


@pytest.mark.parametrize("part", ["dev", "sealed"])
def test_the_offline_extractor_stays_at_or_above_its_batch_2_figures(part: str) -> None:
    items, precision, recall, _, _ = BATCH2_FLOORS[part]
    report = statements_run(statements_load(part=part, batch="2"))
    assert report.items == items
    assert report.total.precision >= precision
    assert report.total.recall >= recall


@pytest.mark.django_db
@pytest.mark.parametrize("part", ["dev", "sealed"])
def test_supersede_pairs_of_batch_2_through_the_pipeline(tenant: Tenant, part: str) -> None:
    _, _, _, pairs, passed = BATCH2_FLOORS[part]
    outcomes = pairs_run(pairs_load(part=part, batch="2"), tenant=tenant)
    assert len(outcomes) == pairs
    assert sum(o.passed for o in outcomes) >= passed
