"""Console sign-in: throttled per (username, IP), members may sign in, sessions expire,
CSRF and clickjacking protection stay on."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tenants.models import Tenant
from tests.console.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _login(username: str, password: str, ip: str = "10.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.post("/console/login/?next=/console/", {"username": username, "password": password})
    return client


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_lockout_after_repeated_failures_for_that_username_and_ip(tenant: Tenant) -> None:
    make_user("lou", tenant=tenant)
    assert settings.CLAIV_CONSOLE_LOGIN_MAX_FAILURES == 5
    for _ in range(5):
        assert not _signed_in(_login("lou", "wrong", ip="10.0.0.7"))
    client = Client(REMOTE_ADDR="10.0.0.7")
    response = client.post("/console/login/", {"username": "lou", "password": PASSWORD})
    assert not _signed_in(client)
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in (
        response.content.decode()
    )
    # The same user from another address, and another user from the same one, are not locked.
    assert _signed_in(_login("lou", PASSWORD, ip="10.0.0.8"))
    make_user("max", tenant=tenant)
    assert _signed_in(_login("max", PASSWORD, ip="10.0.0.7"))


def test_a_success_resets_the_failure_count(tenant: Tenant) -> None:
    make_user("ria", tenant=tenant)
    for _ in range(4):
        _login("ria", "wrong", ip="10.0.1.1")
    assert _signed_in(_login("ria", PASSWORD, ip="10.0.1.1"))
    for _ in range(4):
        _login("ria", "wrong", ip="10.0.1.1")
    assert _signed_in(_login("ria", PASSWORD, ip="10.0.1.1"))


def test_members_sign_in_without_staff_others_need_staff(tenant: Tenant) -> None:
    make_user("mem", tenant=tenant, staff=False)
    User.objects.create_user("outsider", password=PASSWORD)
    assert _signed_in(_login("mem", PASSWORD, ip="10.0.2.1"))
    assert not _signed_in(_login("outsider", PASSWORD, ip="10.0.2.1"))
    inactive = make_user("gone", tenant=tenant)
    inactive.is_active = False
    inactive.save()
    assert not _signed_in(_login("gone", PASSWORD, ip="10.0.2.1"))


def test_session_expiry_csrf_and_frame_protection(console: Client, tenant: Tenant) -> None:
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert console.session.get_expire_at_browser_close() is True
    page = console.get("/console/")
    assert page["X-Frame-Options"] == "DENY"
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.get(username="ada"))
    response = strict.post(
        f"/console/projects/{tenant.id}/forget/", {"action": "confirm", "user_id": "u1"}
    )
    assert response.status_code == 403
    assert Client().get(f"/console/projects/{tenant.id}/").status_code == 302  # to the login
