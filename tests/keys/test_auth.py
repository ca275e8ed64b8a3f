"""Bearer keys: format, keyed hash at rest, scopes, revocation on the next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from keys.hashing import key_hash
from keys.models import SCOPE_READ, ApiKey
from keys.services import api_key_create, api_key_revoke, api_key_rotate
from memory.models import Event
from tests.conftest import Api

pytestmark = pytest.mark.django_db

INGEST = {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Oslo."}


def test_raw_key_format_and_only_hash_stored(api_key: tuple[ApiKey, str]) -> None:
    key, raw = api_key
    assert raw.startswith(f"ck_{key.prefix}_") and len(raw) == 3 + 8 + 1 + 43
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == key_hash(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic abc", "Bearer ck_short", "Bearer ck_abcdefgh_" + "x" * 43]
)
def test_missing_malformed_or_unknown_key_is_401(header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = Client().post("/v1/ingest", INGEST, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert Event.objects.count() == 0


def test_wrong_secret_with_a_real_prefix_is_401(api_key: tuple[ApiKey, str]) -> None:
    key, raw = api_key
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    response = Api(Client(), forged).post("/v1/ingest", INGEST)
    assert response.status_code == 401


def test_revoked_key_fails_on_the_very_next_request(api: Api, api_key: tuple[ApiKey, str]) -> None:
    assert api.post("/v1/ingest", INGEST).status_code == 200
    api_key_revoke(key=api_key[0])
    response = api.post("/v1/ingest", INGEST | {"content": "second"})
    assert response.status_code == 401
    assert Event.objects.count() == 1


def test_missing_scope_is_403_and_changes_nothing(tenant: object) -> None:
    _, raw = api_key_create(tenant=tenant, scopes=[SCOPE_READ])  # type: ignore[arg-type]
    response = Api(Client(), raw).post("/v1/ingest", INGEST)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert Event.objects.count() == 0
    forget = Api(Client(), raw).post("/v1/forget", {"user_id": "u1"})
    assert forget.status_code == 403


def test_rotate_with_grace_keeps_old_key_until_then(api_key: tuple[ApiKey, str]) -> None:
    old, old_raw = api_key
    new, new_raw = api_key_rotate(key=old, grace=timedelta(minutes=5))
    assert Api(Client(), old_raw).post("/v1/ingest", INGEST).status_code == 200
    assert Api(Client(), new_raw).post("/v1/ingest", INGEST | {"content": "b"}).status_code == 200
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))
    assert Api(Client(), old_raw).post("/v1/ingest", INGEST | {"content": "c"}).status_code == 401
    assert new.scopes == old.scopes


def test_last_used_is_written_at_most_once_a_minute(api: Api, api_key: tuple[ApiKey, str]) -> None:
    api.post("/v1/ingest", INGEST)
    first = ApiKey.objects.get(pk=api_key[0].pk).last_used_at
    assert first is not None
    api.post("/v1/ingest", INGEST | {"content": "again"})
    assert ApiKey.objects.get(pk=api_key[0].pk).last_used_at == first


def test_commands_create_tenant_and_keys(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("create_tenant", "cmd-co")
    call_command("create_tenant", "cmd-co")  # idempotent
    assert "exists" in capsys.readouterr().out
    call_command("api_key", "create", "--tenant", "cmd-co", "--scopes", "memory:read")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("ck_")
    key = ApiKey.objects.get(prefix=raw[3:11])
    assert key.scopes == ["memory:read"]
    call_command("api_key", "list", "--tenant", "cmd-co")
    assert key.prefix in capsys.readouterr().out
    call_command("api_key", "rotate", key.prefix, "--tenant", "cmd-co")
    new_raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert new_raw.startswith("ck_") and new_raw != raw
    key.refresh_from_db()
    assert not key.is_active()
    call_command("api_key", "revoke", new_raw[3:11], "--tenant", "cmd-co")
    assert not ApiKey.objects.get(prefix=new_raw[3:11]).is_active()
