"""May a response be stored by a shared cache (RFC 9111 §3)? And if not, why not.

The reason is a short stable token (``set-cookie``, ``no-store`` …) used in the debug log
``cache store skipped reason=…`` and in the ``Cache-Status`` ``detail`` parameter.
"""

from __future__ import annotations

from perf_middleware.cache.freshness import HEURISTIC_STATUSES
from perf_middleware.http.cache_control import CacheControl

# final statuses a cache understands well enough to store (no 206: we never store ranges)
UNDERSTOOD_STATUSES = frozenset(
    {200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 500, 501, 502, 503, 504}
)


def not_storable_reason(
    *,
    status: int,
    request_cc: CacheControl,
    response_cc: CacheControl,
    has_authorization: bool,
    has_set_cookie: bool,
    set_cookie_allowed: bool,
    vary: tuple[str, ...],
    lifetime: float | None,
    has_validator: bool,
    has_cookie: bool = False,
    only_shareable: bool = False,
) -> str | None:
    """None when storable, else why not.  The request method was checked by the caller
    (only GET, and HEAD answered through GET, reach this).

    ``only_shareable`` (``CacheConfig.store_only_shareable``) is stricter than RFC 9111,
    which lets a shared cache keep any response with a validator for revalidation: the
    response must say it may be shared — ``s-maxage``, ``max-age``, ``Expires`` (``lifetime``
    known) or ``public`` — and one answering a request with Cookie must say ``public`` or
    ``s-maxage`` (cookies select per-user content that rarely declares ``Vary: Cookie``)."""
    if status == 206:
        return "partial"
    if status not in UNDERSTOOD_STATUSES:
        return "status"
    if request_cc.no_store:
        return "request-no-store"
    if response_cc.no_store:
        return "no-store"
    if response_cc.private and not response_cc.private_fields:
        return "private"
    if response_cc.must_understand and status not in UNDERSTOOD_STATUSES:
        return "must-understand"
    if has_authorization and not (
        response_cc.public or response_cc.s_maxage is not None or response_cc.must_revalidate
    ):
        return "authorization"
    if has_set_cookie and not set_cookie_allowed:
        return "set-cookie"
    if "*" in vary:
        return "vary-star"
    if only_shareable:
        if has_cookie and not (response_cc.public or response_cc.s_maxage is not None):
            return "cookie"
        if lifetime is None and not response_cc.public:
            return "not-shareable"
    if response_cc.no_cache and not response_cc.no_cache_fields:
        return None if has_validator else "no-cache-without-validator"
    if lifetime is not None and lifetime > 0:
        return None
    if has_validator and (lifetime is not None or status in HEURISTIC_STATUSES):
        # zero freshness but cheap to revalidate with a conditional request
        return None
    return "no-freshness"
