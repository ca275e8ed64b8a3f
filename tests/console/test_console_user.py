"""`manage.py console_user`: the first console user, with a membership, who can sign in."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("console_user", *args, stdout=out)
    return out.getvalue().strip()


def test_creates_a_member_who_can_sign_in(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIV_CONSOLE_PASSWORD", "s3cret-enough-pass")
    assert _run(
        "carol", "--tenant", "acme", "--role", "admin", "--email", "c@example.com", "--no-input"
    ) == ("console user carol created; admin of acme. Sign in at /console/.")
    user = User.objects.get(username="carol")
    assert (user.is_staff, user.is_superuser, user.email) == (True, False, "c@example.com")
    assert Membership.objects.get(user=user, tenant=tenant).role == "admin"
    client = Client()
    client.post("/console/login/", {"username": "carol", "password": "s3cret-enough-pass"})
    assert client.get("/console/").context["projects"][0]["tenant"] == tenant
    # Again without a password: the membership changes, the password stays.
    monkeypatch.delenv("CLAIV_CONSOLE_PASSWORD")
    assert _run("carol", "--tenant", "acme", "--role", "viewer", "--no-input").startswith(
        "console user carol updated; viewer of acme"
    )
    assert User.objects.get(username="carol").check_password("s3cret-enough-pass")


def test_superuser_and_refusals(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="A new console user needs a password."):
        _run("dave", "--no-input")
    with pytest.raises(CommandError, match="No tenant 'nope'."):
        _run("dave", "--tenant", "nope", "--no-input")
    assert not User.objects.filter(username="dave").exists()
    monkeypatch.setenv("CLAIV_CONSOLE_PASSWORD", "another-good-pass")
    assert _run("root", "--superuser", "--no-input") == (
        "superuser root created. Sign in at /console/."
    )
    assert User.objects.get(username="root").is_superuser
