"""Turning a captured response into a :class:`CacheEntry`, and refreshing one from a 304.

Pure functions over header lists: which fields are stored, freshness and age inputs, tags, and
whether the response may be stored at all (with the reason when not).
"""

from __future__ import annotations

from dataclasses import dataclass

from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.freshness import corrected_initial_age, freshness_lifetime
from perf_middleware.cache.storable import not_storable_reason
from perf_middleware.http.cache_control import (
    CacheControl,
    parse_age,
    parse_cache_control,
    parse_targeted,
)
from perf_middleware.http.dates import parse_http_date
from perf_middleware.http.headers import get_header, get_joined
from perf_middleware.http.vary import parse_vary

# never stored: framing, hop-by-hop and per-hop fields (RFC 9111 §3.1), and our own Age
_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authentication-info",
        b"content-length",
        b"age",
        b"cache-status",
        b"set-cookie",
        b"set-cookie2",
    }
)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the request contributes to storing: its directives, Authorization, timing."""

    cc: CacheControl
    has_authorization: bool
    request_time: float
    path: str
    unkeyed: tuple[str, ...] = ()
    """Risky request fields present (X-Forwarded-Host ...): the response is stored only if
    it declares Vary on each of them, so they cannot poison what other clients get."""
    has_cookie: bool = False
    """The request carried Cookie: its answer is likely personal (``store_only_shareable``)."""
    ambiguous: frozenset[bytes] = frozenset()
    """Fields that came on several lines though their grammar has no list: a response
    selected by one of them (Vary) is not stored, the app may have read any of the lines."""


def response_cache_control(
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...],
    targeted: tuple[bytes, ...],
) -> tuple[CacheControl, bool]:
    """The directives this cache obeys, and whether they came from a targeted field.

    RFC 9213 §2.2: the first field of ``targeted`` (in that order) with a valid, non-empty
    value decides, and Cache-Control and Expires are then ignored for this cache; an invalid
    targeted field is skipped as if absent.  Without one, Cache-Control decides."""
    for name in targeted:
        cc = parse_targeted(get_joined(headers, name))
        if cc is not None:
            return cc, True
    return parse_cache_control(get_joined(headers, b"cache-control")), False


def parse_tags(value: bytes | None) -> tuple[str, ...]:
    """``Cache-Tag: a, b c`` -> ("a", "b", "c"): commas or spaces separate tags."""
    if not value:
        return ()
    seen: dict[str, None] = {}
    for tag in value.decode("latin-1").replace(",", " ").split():
        seen.setdefault(tag, None)
    return tuple(seen)


def storage_ttl(entry: CacheEntry, config: CacheConfig) -> float:
    """How long a backend keeps the entry: its freshness left, plus the longest window in
    which a stale copy is still useful (SWR, stale-if-error, revalidation by validators)."""
    fresh_left = max(0.0, entry.freshness_lifetime - entry.corrected_initial_age)
    keep = max(entry.stale_while_revalidate, entry.stale_if_error)
    if entry.etag is not None or entry.last_modified is not None:
        keep = max(keep, config.keep_stale)
    return fresh_left + keep


def response_reason(
    status: int, headers: list[tuple[bytes, bytes]], request: RequestFacts, config: CacheConfig
) -> str | None:
    """Why a response with these headers may not be stored (None when it may).  Also
    ``stale-on-arrival``: nothing a backend would keep (no freshness left and no validator
    to revalidate with), so ``Cache-Status`` never says ``stored`` for it."""
    cc, targeted = response_cache_control(headers, config.targeted_raw)
    if request.ambiguous:
        vary = parse_vary(get_joined(headers, b"vary"))
        field = selected_by(vary, request.ambiguous)
        if field is not None:
            return f"ambiguous-request-field:{field}"
    if request.unkeyed:
        vary = parse_vary(get_joined(headers, b"vary"))
        missing = [name for name in request.unkeyed if name not in vary]
        if missing and "*" not in vary:
            return f"unkeyed-header:{missing[0]}"
    reason = not_storable_reason(
        status=status,
        request_cc=request.cc,
        response_cc=cc,
        has_authorization=request.has_authorization,
        has_set_cookie=get_header(headers, b"set-cookie") is not None,
        set_cookie_allowed=config.set_cookie_allowed(request.path),
        vary=parse_vary(get_joined(headers, b"vary")),
        lifetime=_lifetime(cc, status, headers, config, targeted),
        has_validator=get_header(headers, b"etag") is not None
        or get_header(headers, b"last-modified") is not None,
        has_cookie=request.has_cookie,
        only_shareable=config.store_only_shareable,
    )
    if reason is None:
        probe = CacheEntry(primary="")
        apply_response(probe, status, headers, request, config.clock(), config)
        if storage_ttl(probe, config) <= 0:
            return "stale-on-arrival"
    return reason


def selected_by(vary: tuple[str, ...], fields: frozenset[bytes]) -> str | None:
    """The first of ``fields`` that ``vary`` names, or None."""
    for name in vary:
        if name.encode("latin-1") in fields:
            return name
    return None


def _lifetime(
    cc: CacheControl,
    status: int,
    headers: list[tuple[bytes, bytes]],
    config: CacheConfig,
    targeted: bool = False,
) -> float | None:
    expires_raw = None if targeted else get_header(headers, b"expires")
    return freshness_lifetime(
        cc,
        date=parse_http_date(get_header(headers, b"date")),
        expires=parse_http_date(expires_raw),
        expires_present=expires_raw is not None,
        last_modified=parse_http_date(get_header(headers, b"last-modified")),
        status=status,
        heuristic_fraction=config.heuristic_fraction,
        heuristic_max=config.heuristic_max,
    )


def stored_headers(
    headers: list[tuple[bytes, bytes]], cc: CacheControl, config: CacheConfig
) -> tuple[tuple[bytes, bytes], ...]:
    """The end-to-end fields worth replaying: minus framing/hop-by-hop, Set-Cookie, fields
    named by ``no-cache="…"``/``private="…"``, and the tag header unless it is exposed."""
    drop = set(_DROP)
    drop.update(name.encode("latin-1") for name in cc.no_cache_fields | cc.private_fields)
    if not config.expose_tag_header:
        drop.add(config.tag_header.encode("latin-1"))
    return tuple((k.lower(), v) for k, v in headers if k.lower() not in drop)


def apply_response(
    entry: CacheEntry,
    status: int,
    headers: list[tuple[bytes, bytes]],
    request: RequestFacts,
    response_time: float,
    config: CacheConfig,
) -> None:
    """Set everything derived from response headers on ``entry`` (new or refreshed)."""
    cc, targeted = response_cache_control(headers, config.targeted_raw)
    date_value = parse_http_date(get_header(headers, b"date"))
    age_value = parse_age(get_joined(headers, b"age"))
    entry.status = status
    entry.headers = stored_headers(headers, cc, config)
    etag = get_header(headers, b"etag")
    entry.etag = etag.decode("latin-1") if etag is not None else None
    entry.last_modified = parse_http_date(get_header(headers, b"last-modified"))
    entry.request_time = request.request_time
    entry.response_time = response_time
    entry.corrected_initial_age = corrected_initial_age(
        age_value=age_value,
        date_value=date_value,
        request_time=request.request_time,
        response_time=response_time,
    )
    entry.freshness_lifetime = _lifetime(cc, status, headers, config, targeted) or 0.0
    entry.stale_while_revalidate = float(cc.stale_while_revalidate or 0)
    entry.stale_if_error = float(cc.stale_if_error or 0)
    entry.must_revalidate = cc.must_revalidate or cc.proxy_revalidate or cc.s_maxage is not None
    entry.no_cache = cc.no_cache and not cc.no_cache_fields
    tags = parse_tags(get_joined(headers, config.tag_header.encode("latin-1")))
    entry.tags = tuple(dict.fromkeys((*tags, *config.tags_for(request.path))))
    entry.derived.clear()


def refresh_headers(
    stored: tuple[tuple[bytes, bytes], ...], update: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """RFC 9111 §3.2: fields in a 304 replace the stored ones of the same name (except
    framing fields, which describe the 304 itself)."""
    replace = {k.lower() for k, _ in update} - {
        b"content-length",
        b"content-encoding",
        b"content-type",
        b"transfer-encoding",
    }
    kept = [(k, v) for k, v in stored if k not in replace]
    return kept + [(k.lower(), v) for k, v in update if k.lower() in replace]


def shareable(entry: CacheEntry, targeted: tuple[bytes, ...] = (b"cdn-cache-control",)) -> bool:
    """RFC 9111 §3.5: a stored response answers a request with Authorization only if it was
    marked public, s-maxage or must-revalidate (in the field this cache obeys)."""
    cc, _ = response_cache_control(entry.headers, targeted)
    return cc.public or cc.s_maxage is not None or cc.must_revalidate
