"""Forget receipts through the API, third-party verification, and the two receipt commands."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from io import StringIO
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError

from keys.services import api_key_create
from memory.models import DeletionReceipt
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db

# What README "Verifying forget receipts" tells a third party to hash.
DIGEST_FIELDS = (
    "tenant",
    "receipt_id",
    "sequence",
    "user_id",
    "scope",
    "deleted_counts",
    "deleted_ids_digest",
    "requested_at",
    "completed_at",
    "prev_digest",
)


def third_party_verify(receipts_newest_first: list[dict[str, Any]], public_key_b64: str) -> None:
    """The documented procedure, using only the JSON and the public key."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    previous = ""
    for receipt in reversed(receipts_newest_first):
        signed = {name: receipt[name] for name in DIGEST_FIELDS}
        canonical = json.dumps(
            signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert hashlib.sha256(canonical).hexdigest() == receipt["digest"]
        key.verify(base64.b64decode(receipt["signature"]), receipt["digest"].encode())
        assert receipt["prev_digest"] == previous
        previous = receipt["digest"]


def _forgets(api: Api, tenant: Tenant) -> list[str]:
    ingest_enriched(tenant, "I live in Oslo.", user_id="u1", conversation_id="c1")
    ingest_enriched(tenant, "I love hiking.", user_id="u2", conversation_id="c1", minutes=1)
    return [
        api.post("/v1/forget", body).json()["receipt_id"]
        for body in (
            {"user_id": "u1", "conversation_id": "c1"},
            {"user_id": "u2"},
            {"user_id": "u1", "from_time": "2024-01-01T00:00:00Z", "erase_events": True},
        )
    ]


def test_list_is_newest_first_and_chained_and_verifiable_by_a_third_party(
    api: Api, tenant: Tenant
) -> None:
    ids = _forgets(api, tenant)
    listing = api.get("/v1/deletion-receipts", limit="20", offset="0").json()
    assert [r["receipt_id"] for r in listing["receipts"]] == ids[::-1]
    assert (listing["total"], listing["limit"], listing["offset"]) == (3, 20, 0)
    assert [r["sequence"] for r in listing["receipts"]] == [3, 2, 1]
    key = api.get("/v1/deletion-receipts/public-key").json()
    assert key["algorithm"] == "Ed25519"
    third_party_verify(listing["receipts"], key["public_key"])


def test_one_receipt_has_the_contract_fields(api: Api, tenant: Tenant) -> None:
    receipt_id = _forgets(api, tenant)[0]
    stored = DeletionReceipt.objects.get(pk=receipt_id)
    body = api.get(f"/v1/deletion-receipts/{receipt_id}").json()
    assert body == {
        "tenant": str(tenant.id),
        "receipt_id": receipt_id,
        "sequence": 1,
        "user_id": "u1",
        "scope": {
            "user_id": "u1",
            "conversation_id": "c1",
            "project_id": None,
            "from_time": None,
            "to_time": None,
            "erase_events": False,
        },
        "requested_at": stored.requested_at.isoformat(),
        "completed_at": stored.completed_at.isoformat(),
        "deleted_counts": stored.deleted_counts,
        "deleted_ids_digest": stored.deleted_ids_digest,
        "digest": stored.digest,
        "prev_digest": "",
        "signature": stored.signature,
        "key_id": stored.key_id,
        "algorithm": "Ed25519",
    }
    assert body["deleted_counts"]["facts"] > 0


def test_filter_by_user_and_paging(api: Api, tenant: Tenant) -> None:
    ids = _forgets(api, tenant)
    page = api.get("/v1/deletion-receipts", user_id="u1", limit="1", offset="1").json()
    assert [r["receipt_id"] for r in page["receipts"]] == [ids[0]]
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert api.get("/v1/deletion-receipts", user_id="nobody").json() == {
        "receipts": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "ten"}]
)
def test_bad_paging_is_400(api: Api, params: dict[str, str]) -> None:
    response = api.get("/v1/deletion-receipts", **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_other_tenant_sees_no_receipts(api: Api, other_api: Api, tenant: Tenant) -> None:
    ids = _forgets(api, tenant)
    assert other_api.get("/v1/deletion-receipts").json() == {
        "receipts": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }
    missing = other_api.get(f"/v1/deletion-receipts/{ids[0]}")
    unknown = api.get(f"/v1/deletion-receipts/{uuid.uuid4()}")
    assert missing.status_code == unknown.status_code == 404
    assert missing.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
    assert api.get("/v1/deletion-receipts/not-a-uuid").status_code == 404


def test_receipts_need_the_forget_scope(tenant: Tenant) -> None:
    from django.test import Client

    raw = api_key_create(tenant=tenant, scopes=["memory:read", "memory:write"])[1]
    reader = Api(client=Client(), raw_key=raw)
    for path in ("/v1/deletion-receipts", "/v1/deletion-receipts/public-key"):
        response = reader.get(path)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_verify_command_passes_on_an_intact_chain(api: Api, tenant: Tenant) -> None:
    _forgets(api, tenant)
    out = StringIO()
    call_command("verify_receipts", "--tenant", "acme", stdout=out)
    assert out.getvalue() == (
        "3 receipts verified for tenant acme: digests, signatures, chain and signed head intact\n"
    )


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda r: setattr(r, "deleted_counts", {**r.deleted_counts, "facts": 0}),
            "content does not match its digest (altered after signing)",
        ),
        (
            lambda r: setattr(r, "user_id", "someone-else"),
            "content does not match its digest (altered after signing)",
        ),
        (
            lambda r: setattr(r, "signature", base64.b64encode(b"\0" * 64).decode()),
            "signature does not verify with the public key",
        ),
    ],
)
def test_tampering_with_a_stored_receipt_is_detected(
    api: Api, tenant: Tenant, tamper: Any, problem: str
) -> None:
    ids = _forgets(api, tenant)
    receipt = DeletionReceipt.objects.get(pk=ids[1])
    tamper(receipt)
    receipt.save()
    with pytest.raises(CommandError) as failure:
        call_command("verify_receipts", "--tenant", "acme", stdout=StringIO())
    assert str(failure.value) == f"receipt {ids[1]} (sequence 2): {problem}"


def test_rewriting_a_receipt_and_its_digest_breaks_the_chain(api: Api, tenant: Tenant) -> None:
    """Re-hashing an altered receipt cannot be hidden: the signature and next link fail."""
    from memory import receipts
    from memory.forget import receipt_payload

    ids = _forgets(api, tenant)
    receipt = DeletionReceipt.objects.get(pk=ids[0])
    receipt.deleted_counts = {**receipt.deleted_counts, "facts": 0}
    receipt.digest = receipts.receipt_digest(receipt_payload(receipt))
    receipt.save()
    with pytest.raises(CommandError, match=f"receipt {ids[0]} \\(sequence 1\\): signature"):
        call_command("verify_receipts", "--tenant", "acme", stdout=StringIO())


def test_deleting_a_receipt_breaks_the_chain(api: Api, tenant: Tenant) -> None:
    ids = _forgets(api, tenant)
    DeletionReceipt.objects.filter(pk=ids[1]).delete()
    with pytest.raises(CommandError) as failure:
        call_command("verify_receipts", "--tenant", "acme", stdout=StringIO())
    assert str(failure.value) == (
        f"receipt {ids[2]} (sequence 3): prev_digest does not match "
        "the previous receipt (chain broken)"
    )


def test_verify_command_checks_one_tenant_only(
    api: Api, other_api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    ids = _forgets(api, tenant)
    other_api.post("/v1/forget", {"user_id": "u1"})
    DeletionReceipt.objects.filter(pk=ids[0]).update(user_id="x")
    out = StringIO()
    call_command("verify_receipts", "--tenant", "globex", stdout=out)
    assert out.getvalue().startswith("1 receipts verified for tenant globex")
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("verify_receipts", "--tenant", "nope")


def test_verify_with_a_foreign_public_key_fails(api: Api, tenant: Tenant) -> None:
    _forgets(api, tenant)
    foreign = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command(
            "verify_receipts",
            "--tenant",
            "acme",
            "--public-key",
            foreign.decode(),
            stdout=StringIO(),
        )


def test_generate_receipt_key_prints_a_usable_seed() -> None:
    out = StringIO()
    call_command("generate_receipt_key", stdout=out)
    seed = base64.b64decode(out.getvalue().strip())
    assert len(seed) == 32
    Ed25519PrivateKey.from_private_bytes(seed)
