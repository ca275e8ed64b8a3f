"""Console fixtures: console users with memberships, logged-in clients, and one headless
Chromium (Debian's package, driven by Playwright) shared by the browser tests."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client

from tenants.models import MemberRole, Membership, Tenant

PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def make_user(
    username: str,
    *,
    tenant: Tenant | None = None,
    role: str = MemberRole.OWNER,
    staff: bool = True,
    superuser: bool = False,
) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        is_staff=staff,
        is_superuser=superuser,
        email=f"{username}@example.com",
    )
    if tenant is not None:
        Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def owner(tenant: Tenant) -> User:
    """ada: owner of acme (the `tenant` fixture), not a superuser."""
    return make_user("ada", tenant=tenant)


@pytest.fixture
def viewer(tenant: Tenant) -> User:
    """vic: viewer of acme, not staff (members may sign in without is_staff)."""
    return make_user("vic", tenant=tenant, role=MemberRole.VIEWER, staff=False)


@pytest.fixture
def other_owner(other_tenant: Tenant) -> User:
    """olga: owner of globex, the other account."""
    return make_user("olga", tenant=other_tenant)


@pytest.fixture
def console(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def viewer_console(viewer: User) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


# Why the browser tests were skipped, for the end of the test summary.
_browser_skipped: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say in the summary, not only with -rs, that the browser tests did not run, and why."""
    if _browser_skipped:
        terminalreporter.write_sep("-", "console browser tests skipped")
        terminalreporter.write_line(_browser_skipped[0])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (Debian's package; never downloaded).

    Playwright starts it with a fresh temporary profile of its own."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        reason = (
            "Debian's chromium is not installed (as root: apt-get install chromium "
            "chromium-driver; `make test` does it on Debian when run as root)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{reason}; CI requires the browser tests")
        _browser_skipped.append(reason)
        pytest.skip(reason)
    # Playwright's sync API keeps an event loop in the test thread; Django would then refuse
    # ORM calls made by the test itself. Test-only, for the browser session.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                ],
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _live_server_requests_done(timeout: float = 5.0) -> None:
    """Wait until the live server's request threads have ended (and closed their database
    connections), so the test database can be flushed and finally dropped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any("process_request_thread" in t.name for t in threading.enumerate()):
            return
        time.sleep(0.05)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tab in a fresh browser context: no cookies, no open connections from other tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        yield tab
    finally:
        context.close()  # closes its keep-alive connections to the live server
        _live_server_requests_done()
        # ORM calls made while Playwright's loop is current get their own connections
        # (asgiref locals follow the context); close them too.
        connections.close_all()


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
