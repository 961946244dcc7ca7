"""A browser session for the dashboard: a signed, expiring cookie instead of a bearer header.

Browsers cannot add ``Authorization: Bearer`` to a navigation, so ``POST <prefix>/login``
(the token typed into a form) sets ``perf_admin=<issued>.<mac>``: an HMAC-SHA256 of the
issue time keyed by the admin token. Nothing is stored server-side; changing the token ends
every session. The cookie is ``HttpOnly``, ``SameSite=Strict`` and limited to the admin
prefix, and it only authorizes reading (GET/HEAD): invalidation still needs the bearer
token, so a page on a sibling site cannot make a logged-in browser purge the cache.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import parse_qs

__all__ = ["COOKIE", "MAX_AGE", "login_token", "make_session", "session_cookie", "session_valid"]

COOKIE: Final = "perf_admin"
#: Seconds a session lasts (12 hours: one working day of an operator).
MAX_AGE: Final = 12 * 3600
_LABEL: Final = b"perf-admin-session:"


def _mac(token: str, issued: int) -> str:
    return hmac.new(token.encode(), _LABEL + str(issued).encode(), hashlib.sha256).hexdigest()


def make_session(token: str, now: float) -> str:
    issued = int(now)
    return f"{issued}.{_mac(token, issued)}"


def session_valid(token: str, cookie_header: bytes | None, now: float) -> bool:
    """Whether the ``Cookie`` header carries an unexpired session signed with ``token``."""
    if not cookie_header:
        return False
    for part in cookie_header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name != COOKIE.encode():
            continue
        issued_raw, _, mac = value.partition(b".")
        if not issued_raw.isdigit() or len(issued_raw) > 12:
            return False
        issued = int(issued_raw)
        if not 0 <= now - issued < MAX_AGE:
            return False
        return hmac.compare_digest(mac, _mac(token, issued).encode())
    return False


def session_cookie(value: str, prefix: str, *, secure: bool) -> bytes:
    flags = f"; Path={prefix}; Max-Age={MAX_AGE}; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={value}{flags}{'; Secure' if secure else ''}".encode()


def login_token(body: bytes) -> str | None:
    """The ``token`` field of an ``application/x-www-form-urlencoded`` login form."""
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("token")
    return values[0] if values else None
