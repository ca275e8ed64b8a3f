"""deploy/kubernetes: every manifest validates against the Kubernetes schemas that
kubernetes-validate ships (offline), and agrees with the image and the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from celery.utils.imports import symbol_by_name
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/kubernetes"
KUBERNETES_VERSION = "1.37.0"


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _containers() -> list[dict[str, Any]]:
    found = []
    for _, doc in _manifests():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        found += pod.get("containers", [])
    return found


@pytest.mark.parametrize(
    "name, doc", _manifests(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_manifest_validates_strictly(name: str, doc: dict[str, Any]) -> None:
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == "1.37"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert [image["name"] for image in kustomization["images"]] == ["claiv-memory"]


def test_the_objects_an_operator_needs_are_there() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in _manifests()}
    assert kinds == {
        ("Namespace", "claiv"),
        ("ConfigMap", "claiv-config"),
        ("Secret", "claiv-secrets"),
        ("Job", "claiv-migrate"),
        ("Deployment", "claiv-api"),
        ("Service", "claiv-api"),
        ("PodDisruptionBudget", "claiv-api"),
        ("HorizontalPodAutoscaler", "claiv-api"),
        ("Deployment", "claiv-worker"),
        ("Service", "claiv-worker-metrics"),
        ("HorizontalPodAutoscaler", "claiv-worker"),
        ("Deployment", "claiv-beat"),
    }
    by_name = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in _manifests()}
    api = by_name[("Deployment", "claiv-api")]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["command"][:5] == [
        "gunicorn",
        "--config",
        "python:claiv.gunicorn_conf",
        "--bind",
        "0.0.0.0:8000",
    ]
    assert by_name[("Deployment", "claiv-beat")]["spec"]["replicas"] == 1


def test_each_pod_gets_its_instance_id_from_the_downward_api() -> None:
    """claiv.settings.INSTANCE_ID comes from CLAIV_INSTANCE_ID: the pod's name."""
    by_name = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in _manifests()}
    for name in ("claiv-api", "claiv-worker", "claiv-beat"):
        container = by_name[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item for item in container.get("env", [])}
        assert env["CLAIV_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    worker = by_name[("Deployment", "claiv-worker")]["spec"]["template"]["spec"]["containers"][0]
    assert "claiv-worker@$(CLAIV_INSTANCE_ID)" in worker["command"]


def test_the_instance_id_names_database_sessions(settings: object) -> None:
    from django.conf import settings as django_settings

    options = django_settings.DATABASES["default"]["OPTIONS"]
    assert options["application_name"] == f"claiv {django_settings.INSTANCE_ID}"[:63]


def test_secret_holds_placeholders_only() -> None:
    secret = next(doc for _, doc in _manifests() if doc["kind"] == "Secret")
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value or value.startswith("redis://redis.example."), key


def test_commands_exist() -> None:
    """Management commands, the beat scheduler and the exporter module the pods run."""
    commands = [" ".join(container["command"]) for container in _containers()]
    commands += [
        " ".join(doc["spec"]["template"]["spec"]["containers"][0]["command"])
        for _, doc in _manifests()
        if doc["kind"] == "Job"
    ]
    named = set(re.findall(r"manage\.py\s+([a-z_]+)", " ".join(commands)))
    assert named == {"migrate", "backfill_time_notes"} and named <= set(get_commands())
    schedulers = re.findall(r"--scheduler (\S+)", " ".join(commands))
    assert schedulers == ["claiv.beat_leader:LeaderScheduler"]
    assert symbol_by_name(schedulers[0]).__name__ == "LeaderScheduler"
    assert "python -m claiv.metrics.server --port 9808" in commands


def test_configmap_and_secret_cover_the_compose_settings() -> None:
    """Every variable docker-compose.yml sets is set here, and the metrics ones too."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose_env = set(compose["x-app"]["environment"])
    by_kind = {doc["kind"]: doc for _, doc in _manifests()}
    ours = set(by_kind["ConfigMap"]["data"]) | set(by_kind["Secret"]["stringData"])
    assert compose_env <= ours
    assert {"PROMETHEUS_MULTIPROC_DIR", "CLAIV_METRICS_TOKEN", "CLAIV_ENV"} <= ours
    # The multiprocess directory is a writable volume in every pod that loads the app.
    directory = by_kind["ConfigMap"]["data"]["PROMETHEUS_MULTIPROC_DIR"]
    for container in _containers():
        mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
        assert directory in mounts, container["name"]
