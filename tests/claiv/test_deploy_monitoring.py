"""deploy/prometheus and deploy/grafana speak about metrics this code really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Gauge, Histogram

from claiv.metrics import registry

ROOT = Path(__file__).resolve().parents[2]
_METRIC = re.compile(r"\bclaiv_[a-z0-9_]+")


def _exported_series() -> set[str]:
    """Every series name a scrape can show, from the metric objects in claiv.metrics."""
    names = {registry.QUEUE_DEPTH_NAME, registry.BROKER_UP_NAME}
    for value in vars(registry).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names.update(f"{value._name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_exported_series_are_the_expected_ones() -> None:
    assert _exported_series() == {
        "claiv_queue_depth",
        "claiv_broker_up",
        "claiv_recall_cache_total",
        "claiv_enrichment_events_failed_total",
        "claiv_reconcile_resent_events_total",
        "claiv_embedding_calls_total",
        "claiv_embedding_texts_total",
        "claiv_llm_calls_total",
        "claiv_llm_tokens_total",
        "claiv_db_pool_connections",
        "claiv_worker_processes",
        *(
            f"{name}_{suffix}"
            for name in (
                "claiv_http_request_duration_seconds",
                "claiv_recall_channel_duration_seconds",
                "claiv_enrichment_lag_seconds",
                "claiv_enrichment_stage_duration_seconds",
            )
            for suffix in ("bucket", "count", "sum")
        ),
    }


def test_alert_rules_have_the_rule_group_shape_and_use_exported_metrics() -> None:
    document = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert set(document) == {"groups"}
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert all(set(group) == {"name", "rules"} for group in document["groups"])
    assert {rule["alert"] for rule in rules} >= {
        "ClaivQueueGrowing",
        "ClaivEnrichmentLagOverSLO",
        "ClaivWorkerDown",
        "ClaivHigh5xxRate",
    }
    exported = _exported_series()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        used = set(_METRIC.findall(rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_dashboard_panels_use_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/claiv.json").read_text())
    exported = _exported_series()
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 13
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used <= exported, used - exported
    # Every exported family appears on some panel.
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported}
    shown = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert families == shown, families - shown
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
