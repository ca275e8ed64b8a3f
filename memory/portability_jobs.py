"""Export and import as jobs of the API: the same JSONL as `manage.py export` / `import`
(memory.portability, reused as it is), asked for over HTTP and run by a worker.

A job is a `PortabilityJob` row: `queued` → `running` → `succeeded` | `failed`.
- Create (`portability_job_create`) validates what can be validated at once (an import's
  header and line structure; bad input is a 4xx and no job), stores the job and sends its
  message (task `memory.portability_job_run`, ids only) once the row is committed. A
  repeated `idempotency_key` returns the first job; with other parameters it is a conflict.
- Run (`portability_job_run`) claims the job (`queued` → `running`, one more attempt,
  committed so the status shows), then does the work in one transaction that holds the
  job's row lock: an import's rows and the job's `succeeded` commit together, and a file
  refused half-way (memory_import's own checks) rolls back to nothing, the job `failed`
  with the error envelope's code, message and details. A duplicate message finds the job
  locked, finished, or claimed by a later attempt, and does nothing.
- Lost messages (as enrichment's reconciliation, `memory.portability_jobs_reconcile` on
  beat): a job still `queued` PORTABILITY_JOB_GRACE_SECONDS after its last change is
  re-sent (a message lost with the broker, or a publish that failed); a `running` job
  whose row lock nobody holds any more (its worker died: the lock went with its
  connection) is put back to `queued` and re-sent. After PORTABILITY_JOB_MAX_ATTEMPTS
  claims a job is `failed`. Re-sending a job that was only slow costs a message: the
  duplicate finds it locked or finished.
- Audit: one trail entry per job when it finishes (actor: the key prefix that asked, the
  asking request's endpoint and id, the counts).
- Kept: finished jobs, with an export's file, for PORTABILITY_JOB_RETENTION_DAYS; an
  import's file is cleared when the job finishes. A forget or memory delete in the tenant
  drops the files of its finished exports that could hold that user
  (`portability_exports_drop`): nothing forgotten stays downloadable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from claiv.errors import ApplicationError, Conflict, NotFound
from memory.audit import audit_record_system
from memory.models import PortabilityJob, PortabilityJobKind, PortabilityJobStatus
from memory.portability import memory_export, memory_import, memory_import_check, record_kind
from tenants.models import Tenant

logger = logging.getLogger("claiv.portability")

RUN_TASK = "memory.portability_job_run"
RECONCILE_BATCH = 100
Kind = PortabilityJobKind
Status = PortabilityJobStatus


def _digest(kind: str, user_id: str, jsonl: str) -> str:
    body = hashlib.sha256(jsonl.encode()).hexdigest()
    return hashlib.sha256(json.dumps([kind, user_id, body]).encode()).hexdigest()


def _send(job_id: str) -> None:
    """Publish the job's message. A failed publish leaves the job queued: reconciliation
    re-sends it after the grace period."""
    try:
        current_app.send_task(RUN_TASK, args=[job_id])
    except Exception:
        logger.warning("portability job not sent job=%s; reconciliation will retry", job_id)


def portability_job_create(
    *,
    tenant: Tenant,
    kind: str,
    actor: str,
    endpoint: str,
    request_id: str = "",
    user_id: str = "",
    jsonl: str = "",
    idempotency_key: str | None = None,
) -> tuple[PortabilityJob, bool]:
    """Store a job and send it after commit; returns (job, created).

    Raises InvalidRequest for an import whose file is malformed (no job is stored), and
    Conflict when `idempotency_key` was used for this kind with other parameters."""
    if kind == Kind.IMPORT:
        memory_import_check(jsonl.split("\n"))
    digest = _digest(kind, user_id, jsonl)
    mine = PortabilityJob.objects.filter(tenant=tenant, kind=kind)
    for _ in range(2):  # a concurrent create with the same key: read the winner's job
        try:
            with transaction.atomic():
                if idempotency_key is not None:
                    existing = mine.filter(idempotency_key=idempotency_key).first()
                    if existing is not None:
                        if existing.request_digest != digest:
                            raise Conflict(
                                "This idempotency_key was used with other parameters.",
                                details={"field": "idempotency_key"},
                            )
                        return existing, False
                job = PortabilityJob.objects.create(
                    tenant=tenant,
                    kind=kind,
                    user_id=user_id,
                    idempotency_key=idempotency_key,
                    request_digest=digest,
                    actor=actor,
                    endpoint=endpoint[:100],
                    request_id=request_id[:64],
                    payload=jsonl,
                )
                transaction.on_commit(partial(_send, str(job.pk)))
                return job, True
        except IntegrityError:
            continue
    raise Conflict("This idempotency_key is being used by a concurrent request.")


def portability_job_get(*, tenant: Tenant, kind: str, job_id: str) -> PortabilityJob:
    """The tenant's job of that kind; another tenant's id or a malformed one is NotFound."""
    try:
        pk = uuid.UUID(str(job_id))
    except ValueError as exc:
        raise NotFound(f"No such {kind} job.") from exc
    job = PortabilityJob.objects.filter(tenant=tenant, kind=kind, pk=pk).first()
    if job is None:
        raise NotFound(f"No such {kind} job.")
    return job


def portability_export_file(*, tenant: Tenant, job_id: str) -> str:
    """The JSONL an export job made. NotFound while it is not there (yet, or any more)."""
    job = portability_job_get(tenant=tenant, kind=Kind.EXPORT, job_id=job_id)
    if job.status != Status.SUCCEEDED:
        raise Conflict(
            "The export is not finished.", details={"status": job.status, "job_id": str(job.pk)}
        )
    if job.output_dropped_at is not None:
        raise NotFound("This export's file was deleted after a forget in the tenant.")
    return job.output


def portability_job_as_dict(job: PortabilityJob) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "attempts": job.attempts,
        "counts": job.counts,
        "error": job.error,
    }
    if job.kind == Kind.EXPORT:
        body["user_id"] = job.user_id or None
        body["download_available"] = (
            job.status == Status.SUCCEEDED and job.output_dropped_at is None
        )
    else:
        body["reembedded"] = job.reembedded
    return body


# --- Running -------------------------------------------------------------------------------


def _claim(job_id: str) -> int | None:
    """`queued` → `running` with one more attempt; the attempt number, or None when there
    is nothing to run (finished, gone, claimed elsewhere, or out of attempts: failed)."""
    with transaction.atomic():
        job = (
            PortabilityJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, status=Status.QUEUED)
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        if job.attempts >= settings.PORTABILITY_JOB_MAX_ATTEMPTS:
            _finish_failed(
                job,
                {
                    "code": "internal_error",
                    "message": f"Gave up after {job.attempts} attempts.",
                    "details": {},
                },
            )
            return None
        job.status = Status.RUNNING
        job.attempts += 1
        job.state_changed_at = now
        job.save(update_fields=["status", "attempts", "state_changed_at"])
        return job.attempts


def _finish_failed(job: PortabilityJob, error: dict[str, Any]) -> None:
    job.status = Status.FAILED
    job.error = error
    job.payload = ""
    job.finished_at = job.state_changed_at = timezone.now()
    job.save(update_fields=["status", "error", "payload", "finished_at", "state_changed_at"])
    _audit(job, {"failed": 1})


def _audit(job: PortabilityJob, counts: dict[str, int]) -> None:
    audit_record_system(
        tenant=job.tenant,
        action=job.kind,
        actor=job.actor,
        via=job.endpoint,
        user_id=job.user_id,
        counts=counts,
        request_id=job.request_id,
    )


def _work(job: PortabilityJob) -> None:
    """The export or import itself; raises ApplicationError for a refused file."""
    if job.kind == Kind.EXPORT:
        kinds: dict[str, int] = {}
        lines = []
        for line in memory_export(tenant=job.tenant, user_id=job.user_id or None):
            lines.append(line)
            kind = record_kind(line)
            if kind != "header":
                kinds[f"{kind}s"] = kinds.get(f"{kind}s", 0) + 1
        job.output = "\n".join(lines) + "\n"
        job.counts = kinds
    else:
        result = memory_import(tenant=job.tenant, lines=job.payload.split("\n"))
        job.counts = result.counts
        job.reembedded = result.reembedded


def portability_job_run(job_id: str) -> str | None:
    """Run one job (contract in the module docstring); returns its final status, or None
    when this message had nothing to do."""
    attempt = _claim(job_id)
    if attempt is None:
        return None
    with transaction.atomic():
        job = (
            # of=self: the job's row only, never its tenant's (forget serialises on that).
            PortabilityJob.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
            .filter(pk=job_id, status=Status.RUNNING, attempts=attempt)
            .first()
        )
        if job is None:  # reconciliation took it back meanwhile; a later attempt runs it
            return None
        try:
            with transaction.atomic():  # a savepoint: a refused file leaves nothing behind
                _work(job)
        except ApplicationError as exc:
            _finish_failed(job, {"code": exc.code, "message": exc.message, "details": exc.details})
            return job.status
        except UnicodeError:
            _finish_failed(
                job, {"code": "invalid_request", "message": "Not UTF-8 text.", "details": {}}
            )
            return job.status
        job.status = Status.SUCCEEDED
        job.payload = ""
        job.finished_at = job.state_changed_at = timezone.now()
        job.save()
        _audit(job, job.counts)
        return job.status


def portability_job_mark_failed(*, job_id: str, error_class: str) -> None:
    """A bug or bad data the checks did not catch: failed, with the error class only."""
    with transaction.atomic():
        job = (
            PortabilityJob.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .filter(pk=job_id, status__in=[Status.QUEUED, Status.RUNNING])
            .first()
        )
        if job is not None:
            _finish_failed(
                job,
                {
                    "code": "internal_error",
                    "message": "The job failed.",
                    "details": {"error": error_class},
                },
            )


# --- Reconciliation and upkeep ---------------------------------------------------------------


def portability_jobs_reconcile(*, now: datetime | None = None) -> int:
    """Re-send jobs whose message was lost or whose worker died (module docstring); delete
    finished jobs past the retention. Returns how many were re-sent."""
    moment = now or timezone.now()
    cutoff = moment - timedelta(seconds=settings.PORTABILITY_JOB_GRACE_SECONDS)
    resend: list[str] = []
    with transaction.atomic():
        # skip_locked: a running job whose worker is alive holds its row lock, so it is
        # never picked up here; a lockable `running` row has no worker any more.
        stale = (
            PortabilityJob.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Status.QUEUED, Status.RUNNING], state_changed_at__lt=cutoff)
            .order_by("state_changed_at")[:RECONCILE_BATCH]
        )
        for job in stale:
            job.status = Status.QUEUED
            job.state_changed_at = moment
            job.save(update_fields=["status", "state_changed_at"])
            resend.append(str(job.pk))
        for job_id in resend:
            transaction.on_commit(partial(_send, job_id))
    retention = timedelta(days=settings.PORTABILITY_JOB_RETENTION_DAYS)
    PortabilityJob.objects.filter(finished_at__lt=moment - retention).delete()
    if resend:
        logger.info("portability reconcile re-sent=%d", len(resend))
    return len(resend)


def portability_exports_drop(*, tenant: Tenant, user_id: str) -> int:
    """Drop the files of the tenant's exports that may hold `user_id` (the whole tenant's,
    or that user's). Call in the forget's transaction."""
    return (
        PortabilityJob.objects.filter(
            tenant=tenant, kind=Kind.EXPORT, output_dropped_at__isnull=True
        )
        .filter(Q(user_id="") | Q(user_id=user_id))
        # A running export waits for the forget's commit (its row lock), then is dropped; a
        # queued one runs after the forget and is not.
        .filter(status__in=[Status.RUNNING, Status.SUCCEEDED])
        .update(output="", output_dropped_at=timezone.now())
    )
