"""Signing in to the dashboard from a browser: the form, the session cookie, and what the
cookie does not allow."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from perf_middleware.admin.app import AdminApp
from perf_middleware.admin.config import AdminConfig
from perf_middleware.admin.session import (
    COOKIE,
    MAX_AGE,
    login_token,
    make_session,
    session_valid,
)

TOKEN = "session-test-token-0123456789"
FORM = {"content-type": "application/x-www-form-urlencoded"}
HTML = {"accept": "text/html,application/xhtml+xml"}


def client(app: Any, scheme: str = "http") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver")


async def test_a_browser_gets_the_form_and_a_session_that_only_reads() -> None:
    app = AdminApp(AdminConfig(token=TOKEN))
    async with client(app) as c:
        form = await c.get("/_perf/", headers=HTML)
        wrong = await c.post("/_perf/login", content="token=nope", headers=FORM)
        right = await c.post("/_perf/login", content=f"token={TOKEN}", headers=FORM)
        cookie = right.headers["set-cookie"]
        session = {"cookie": cookie.split(";", 1)[0], **HTML}
        page = await c.get("/_perf/", headers=session)
        data = await c.get("/_perf/metrics.json", headers=session)
        purge = await c.post("/_perf/invalidate", json={"all": True}, headers=session)
    assert form.status_code == 401
    assert 'action="/_perf/login"' in form.text
    assert form.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert "not the admin token" in wrong.text
    assert right.status_code == 303
    assert right.headers["location"] == "/_perf/"
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/_perf" in cookie
    assert "Secure" not in cookie
    assert page.status_code == 200
    assert data.status_code == 200
    assert purge.status_code == 401  # invalidation needs the bearer token


async def test_over_https_the_cookie_is_secure() -> None:
    app = AdminApp(AdminConfig(token=TOKEN))
    async with client(app, "https") as c:
        right = await c.post("/_perf/login", content=f"token={TOKEN}", headers=FORM)
    assert right.headers["set-cookie"].endswith("; Secure")


@pytest.mark.parametrize(
    ("method", "kwargs", "status"),
    [
        ("GET", {}, 405),
        ("POST", {"content": f"token={TOKEN}", "headers": {"content-type": "text/plain"}}, 415),
        ("POST", {"content": "token=" + "x" * 5000, "headers": FORM}, 401),
        ("POST", {"content": b"token=\xff", "headers": FORM}, 401),
    ],
)
async def test_bad_logins(method: str, kwargs: dict[str, Any], status: int) -> None:
    app = AdminApp(AdminConfig(token=TOKEN))
    async with client(app) as c:
        response = await c.request(method, "/_perf/login", **kwargs)
    assert response.status_code == status


async def test_guessing_is_rate_limited() -> None:
    app = AdminApp(AdminConfig(token=TOKEN))
    async with client(app) as c:
        codes = [
            (await c.post("/_perf/login", content="token=guess", headers=FORM)).status_code
            for _ in range(7)
        ]
    assert codes == [401] * 5 + [429] * 2


def test_sessions_expire_and_are_bound_to_the_token() -> None:
    now = time.time()
    value = make_session(TOKEN, now).encode()
    header = b"a=1; " + COOKIE.encode() + b"=" + value
    assert session_valid(TOKEN, header, now + 10)
    assert not session_valid(TOKEN, header, now + MAX_AGE + 1)
    assert not session_valid(TOKEN, header, now - 100)  # issued in the future
    assert not session_valid("another-token-0123456789", header, now)
    assert not session_valid(TOKEN, header.replace(b".", b".0"), now)
    assert not session_valid(TOKEN, b"perf_admin=abc.def", now)
    assert not session_valid(TOKEN, b"other=1", now)
    assert not session_valid(TOKEN, None, now)


def test_login_token_from_the_form() -> None:
    assert login_token(b"token=a%20b&x=1") == "a b"
    assert login_token(b"other=1") is None
    assert login_token(b"\xff") is None
