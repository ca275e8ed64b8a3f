"""The signed head of the receipt chain (issue #12 item 8): published by the API, checked by
`verify_receipts`, and it catches the removal of the newest receipt."""

from __future__ import annotations

import base64
import hashlib
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from keys.services import api_key_create
from memory.models import DeletionReceipt, DeletionReceiptHead
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db

# What README "Verifying forget receipts" tells a third party to hash for a head.
HEAD_FIELDS = ("tenant", "sequence", "receipt_id", "digest", "signed_at")


def third_party_head_verify(head: dict[str, Any], public_key_b64: str) -> None:
    """The documented procedure for a head, using only its JSON and the public key."""
    signed = {name: head[name] for name in HEAD_FIELDS}
    canonical = json.dumps(
        signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert hashlib.sha256(canonical).hexdigest() == head["head_digest"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    key.verify(base64.b64decode(head["signature"]), head["head_digest"].encode())


def _forget(api: Api, user_id: str) -> str:
    response = api.post("/v1/forget", {"user_id": user_id})
    assert response.status_code == 200
    return str(response.json()["receipt_id"])


def _verify(tenant: Tenant, *args: str) -> str:
    out = StringIO()
    call_command("verify_receipts", "--tenant", tenant.slug, *args, stdout=out)
    return out.getvalue()


def test_the_head_names_the_newest_receipt_and_verifies_with_the_public_key(
    api: Api, tenant: Tenant
) -> None:
    ids = [_forget(api, user) for user in ("u1", "u2", "u3")]
    head = api.get("/v1/deletion-receipts/head").json()
    newest = api.get(f"/v1/deletion-receipts/{ids[-1]}").json()
    assert (head["tenant"], head["sequence"], head["receipt_id"], head["digest"]) == (
        str(tenant.pk),
        3,
        ids[-1],
        newest["digest"],
    )
    assert head["algorithm"] == "Ed25519"
    public = api.get("/v1/deletion-receipts/public-key").json()
    assert head["key_id"] == public["key_id"]
    third_party_head_verify(head, public["public_key"])


def test_a_tenant_without_receipts_has_a_signed_empty_head(api: Api, tenant: Tenant) -> None:
    head = api.get("/v1/deletion-receipts/head").json()
    assert (head["sequence"], head["receipt_id"], head["digest"]) == (0, None, "")
    third_party_head_verify(head, api.get("/v1/deletion-receipts/public-key").json()["public_key"])
    assert DeletionReceiptHead.objects.count() == 0  # reading never writes


def test_deleting_the_newest_receipt_fails_verification_naming_the_problem(
    api: Api, tenant: Tenant
) -> None:
    ids = [_forget(api, user) for user in ("u1", "u2", "u3")]
    assert _verify(tenant) == (
        "3 receipts verified for tenant acme: digests, signatures, chain and signed head intact\n"
    )
    DeletionReceipt.objects.filter(id=ids[-1]).delete()
    with pytest.raises(CommandError) as failure:
        _verify(tenant)
    assert str(failure.value) == (
        "chain head of tenant acme: the signed head is at sequence 3 "
        "but the chain ends at 2: the newest 1 receipt(s) were removed"
    )


def test_deleting_every_receipt_fails_verification(api: Api, tenant: Tenant) -> None:
    _forget(api, "u1")
    DeletionReceipt.objects.filter(tenant=tenant).delete()
    with pytest.raises(CommandError, match="signed head is at sequence 1 but the chain ends at 0"):
        _verify(tenant)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"sequence": 1}, "content does not match its head_digest"),
        ({"signature": base64.b64encode(b"x" * 64).decode()}, "signature does not verify"),
    ],
)
def test_an_altered_head_fails_verification(
    api: Api, tenant: Tenant, change: dict[str, Any], problem: str
) -> None:
    _forget(api, "u1")
    _forget(api, "u2")
    DeletionReceiptHead.objects.filter(tenant=tenant).update(**change)
    with pytest.raises(CommandError, match=problem):
        _verify(tenant)


def test_deleting_the_head_with_the_receipts_fails_verification(api: Api, tenant: Tenant) -> None:
    _forget(api, "u1")
    DeletionReceiptHead.objects.filter(tenant=tenant).delete()
    with pytest.raises(CommandError, match="has receipts but no signed head"):
        _verify(tenant)


def test_a_saved_head_catches_a_rollback_of_chain_and_head(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    """An operator who deletes the newest receipts and puts back an older signed head passes
    the server's own check; a head a third party saved earlier still catches it."""
    _forget(api, "u1")
    old_head = DeletionReceiptHead.objects.get(tenant=tenant)
    newest = _forget(api, "u2")
    saved = tmp_path / "head.json"
    saved.write_text(api.get("/v1/deletion-receipts/head").content.decode())
    assert "2 receipts verified" in _verify(tenant, "--saved-head", str(saved))

    DeletionReceipt.objects.filter(id=newest).delete()
    old_head.save()  # the earlier, validly signed head
    assert "1 receipts verified" in _verify(tenant)
    with pytest.raises(CommandError) as failure:
        _verify(tenant, "--saved-head", str(saved))
    assert str(failure.value) == (
        "the chain no longer holds sequence 2 of the saved head: "
        "receipts were removed since it was saved"
    )


def test_a_saved_head_of_another_tenant_is_refused(
    api: Api, other_api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    _forget(other_api, "u1")
    saved = tmp_path / "head.json"
    saved.write_text(other_api.get("/v1/deletion-receipts/head").content.decode())
    with pytest.raises(CommandError, match="belongs to another tenant"):
        _verify(tenant, "--saved-head", str(saved))


def test_each_tenant_has_its_own_head(
    api: Api, other_api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = [_forget(api, user) for user in ("u1", "u2")]
    theirs = _forget(other_api, "u1")
    head = api.get("/v1/deletion-receipts/head").json()
    other_head = other_api.get("/v1/deletion-receipts/head").json()
    assert (head["tenant"], head["sequence"], head["receipt_id"]) == (str(tenant.pk), 2, ours[-1])
    assert (other_head["tenant"], other_head["sequence"], other_head["receipt_id"]) == (
        str(other_tenant.pk),
        1,
        theirs,
    )
    # Breaking one tenant's chain leaves the other's verifiable.
    DeletionReceipt.objects.filter(id=theirs).delete()
    assert "2 receipts verified" in _verify(tenant)
    with pytest.raises(CommandError, match="newest 1 receipt"):
        _verify(other_tenant)


def test_the_head_needs_the_forget_scope(tenant: Tenant) -> None:
    raw = api_key_create(tenant=tenant, scopes=["memory:read"])[1]
    response = Client().get(
        "/v1/deletion-receipts/head", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
