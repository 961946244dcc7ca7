"""``CacheConfig``: every option of the response cache, with its default, in one place."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from perf_middleware.cache.backends.base import compile_pattern
from perf_middleware.cache.proxies import TrustedProxies
from perf_middleware.http.forwarded import ORIGIN_FIELDS, forwarded_origin
from perf_middleware.options import checked

_CODINGS = frozenset({"zstd", "br", "gzip"})


@checked()
@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """Options of the shared response cache (all keyword-only).

    allowed_hosts [None]: Host values (``example.com``, ``*.example.com``, with optional
        ``:port``) that may use the cache; others bypass it. None trusts the Host header, so set
        this whenever the server does not validate Host itself.
    normalize_query [False]: sort query parameters so ``?a=1&b=2`` and ``?b=2&a=1`` share an entry.
    ignore_query_params [()]: parameters dropped from the key (``utm_*`` globs allowed).
    max_body_size [4 MiB]: larger (or streaming) responses pass through unbuffered.
    heuristic_fraction [0.0]: RFC 9111 §4.2.2 heuristic freshness as a fraction of the time
        since Last-Modified (0 = only explicit freshness, the safe default); capped at
        ``heuristic_max`` [86400 s].
    keep_stale [3600 s]: how long past freshness an entry with validators is kept, so it can be
        revalidated with a cheap 304 (and served under stale-if-error).
    tag_header ["cache-tag"]: response header listing invalidation tags (comma separated);
        stripped before the client sees it unless ``expose_tag_header``.
    route_tags [{}]: path glob -> tags added to every entry stored under it.
    set_cookie_routes [()]: path globs whose responses may be stored even with Set-Cookie; the
        Set-Cookie header is removed from the stored copy, so it is never replayed.
    store_only_shareable [True]: store a response only when it says it may be shared —
        ``s-maxage``, ``max-age``, ``Expires`` or ``public`` (or heuristic freshness once
        ``heuristic_fraction`` is set) — and never one answering a request with Cookie or
        Authorization unless it says ``public`` or ``s-maxage`` (Authorization: or
        ``must-revalidate``, RFC 9111 §3.5).  False applies RFC 9111 alone: a response with a
        validator but no freshness is kept for revalidation, and Cookie is not special.
    targeted_fields [("cdn-cache-control",)]: targeted cache-control fields (RFC 9213) this
        cache obeys, in precedence order: the first one present with a valid value replaces
        Cache-Control and Expires for this cache's storing and freshness (``private``,
        ``no-store``, ``no-cache`` included).  Add a name of your own
        (``("perfmw-cache-control", "cdn-cache-control")``) to address this cache alone;
        () ignores them all.  The fields are passed on to the client unchanged.
    codings [("zstd", "br", "gzip")]: encodings precomputed per entry, in server preference.
    zstd_level [19] / br_level [11] / gzip_level [9]: levels used ONCE per stored entry.
    min_compress_size [256]: smaller bodies are stored as identity only.
    background_compress_over [32 KiB]: bodies at least this big are stored first with the
        fast on-the-fly levels ``fast_levels`` [zstd 3, br 4, gzip 5] (compressed in a worker
        thread), then recompressed at the high levels in the background and swapped in, so
        neither the request nor the requests waiting on it pay for the slow levels on a large
        body.  Smaller bodies get the high levels at once.
    lock_timeout [5 s]: how long concurrent misses wait for the one in flight before calling the
        app themselves; lock_ttl [15 s] bounds a cross-process lock if its holder dies.
    unkeyed_headers [X-Forwarded-Host, X-Host, X-Forwarded-Server, X-Original-URL,
        X-Rewrite-URL, X-HTTP-Method-Override, Forwarded]: request fields apps often reflect
        without declaring Vary (the classic cache-poisoning vector); a response to a request
        carrying one is stored only if it varies on it.  Set () once a proxy strips them.
    forwarded_allow_ips [()]: the reverse proxies in front of the app (addresses or networks,
        ``"*"`` for any peer, ``"unix:"`` for a Unix socket), as uvicorn's
        ``--forwarded-allow-ips``.  From these peers ``Forwarded`` / ``X-Forwarded-Host`` /
        ``X-Forwarded-Proto`` name the origin in the cache key (``allowed_hosts`` applies
        to the forwarded host) and are no longer unkeyed; from any other peer they keep the
        ``unkeyed_headers`` rule.  The value read is the last one, which the peer wrote
        (what a client sent in front of it is ignored).  Behind Caddy, Traefik or
        ingress-nginx set it to the proxy's address as the app sees it, or nothing is ever
        stored.
    honor_request_no_cache [False]: whether a request's ``Cache-Control: no-cache``,
        ``max-age`` or ``no-store``, or ``Pragma: no-cache`` makes the cache go to the app.
        Off, the cache shields the app as Varnish, nginx and CDNs do: any client could
        otherwise send every request through to a slow backend.  ``min-fresh``,
        ``max-stale`` and ``only-if-cached`` are honoured either way, and a ``no-store``
        request's response is never stored.
    purge_interval [300 s]: how often (at most, triggered by stores) expired entries' index
        records are purged in the background; 0 turns it off (call ``purge_expired()``).
    cache_name ["perf-middleware"]: the cache identifier in ``Cache-Status`` (RFC 9211).
    clock [time.time]: wall clock; inject a fake one to test expiry without sleeping.
    """

    allowed_hosts: tuple[str, ...] | None = None
    normalize_query: bool = False
    ignore_query_params: tuple[str, ...] = ()
    max_body_size: int = 4 * 2**20
    heuristic_fraction: float = 0.0
    heuristic_max: float = 86400.0
    keep_stale: float = 3600.0
    tag_header: str = "cache-tag"
    expose_tag_header: bool = False
    route_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    set_cookie_routes: tuple[str, ...] = ()
    store_only_shareable: bool = True
    targeted_fields: tuple[str, ...] = ("cdn-cache-control",)
    codings: tuple[str, ...] = ("zstd", "br", "gzip")
    zstd_level: int = 19
    br_level: int = 11
    gzip_level: int = 9
    min_compress_size: int = 256
    background_compress_over: int = 32 * 1024
    fast_levels: Mapping[str, int] = field(default_factory=lambda: {"zstd": 3, "br": 4, "gzip": 5})
    lock_timeout: float = 5.0
    lock_ttl: float = 15.0
    unkeyed_headers: tuple[str, ...] = (
        "x-forwarded-host",
        "x-host",
        "x-forwarded-server",
        "x-original-url",
        "x-rewrite-url",
        "x-http-method-override",
        "forwarded",
    )
    forwarded_allow_ips: tuple[str, ...] = ()
    honor_request_no_cache: bool = False
    purge_interval: float = 300.0
    cache_name: str = "perf-middleware"
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        unknown = set(self.codings) - _CODINGS
        if unknown:
            raise ValueError(
                f"CacheConfig(codings=...) has unknown codings {sorted(unknown)}. "
                f"HINT: choose from {sorted(_CODINGS)}"
            )
        if self.max_body_size < 0 or self.keep_stale < 0 or self.lock_timeout < 0:
            raise ValueError(
                "CacheConfig sizes and durations must not be negative. "
                "HINT: check max_body_size, keep_stale and lock_timeout"
            )
        if not 0.0 <= self.heuristic_fraction <= 1.0:
            raise ValueError(
                f"CacheConfig(heuristic_fraction={self.heuristic_fraction}) must be in [0, 1]. "
                "HINT: RFC 9111 suggests 0.1"
            )
        for pattern in (*self.route_tags, *self.set_cookie_routes):
            if not pattern.startswith("/"):
                raise ValueError(
                    f"CacheConfig route glob {pattern!r} must start with '/'. HINT: '/api/*'"
                )
        if isinstance(self.allowed_hosts, str):
            raise TypeError(
                "CacheConfig(allowed_hosts=...) must be a tuple of host names. "
                'HINT: allowed_hosts=("example.com",)'
            )
        if isinstance(self.targeted_fields, str):
            raise TypeError(
                "CacheConfig(targeted_fields=...) must be a tuple of header names. "
                'HINT: targeted_fields=("cdn-cache-control",)'
            )
        if isinstance(self.forwarded_allow_ips, str):
            raise TypeError(
                "CacheConfig(forwarded_allow_ips=...) must be a tuple of addresses, got a "
                f'str {self.forwarded_allow_ips!r}. HINT: forwarded_allow_ips=("127.0.0.1",)'
            )
        proxies = TrustedProxies(self.forwarded_allow_ips) if self.forwarded_allow_ips else None
        object.__setattr__(self, "_proxies", proxies)
        object.__setattr__(self, "tag_header", self.tag_header.lower())
        targeted = tuple(name.lower() for name in self.targeted_fields)
        object.__setattr__(self, "targeted_fields", targeted)
        object.__setattr__(self, "_targeted_raw", tuple(n.encode("latin-1") for n in targeted))
        names = tuple(name.lower() for name in self.unkeyed_headers)
        object.__setattr__(self, "unkeyed_headers", names)
        unkeyed_raw = tuple(n.encode("latin-1") for n in names)
        object.__setattr__(self, "_unkeyed_raw", unkeyed_raw)
        folded = tuple(n for n in unkeyed_raw if n not in ORIGIN_FIELDS)
        object.__setattr__(self, "_unkeyed_trusted_raw", folded)
        object.__setattr__(
            self, "_tag_rules", [(compile_pattern(p), tuple(t)) for p, t in self.route_tags.items()]
        )
        object.__setattr__(
            self, "_cookie_rules", [compile_pattern(p) for p in self.set_cookie_routes]
        )

    @property
    def targeted_raw(self) -> tuple[bytes, ...]:
        """``targeted_fields`` as header-name bytes."""
        raw: tuple[bytes, ...] = getattr(self, "_targeted_raw", ())
        return raw

    def unkeyed_present(
        self, headers: Mapping[bytes, bytes], *, trusted: bool = False
    ) -> tuple[str, ...]:
        """Which of ``unkeyed_headers`` the request carries (usually none: one dict probe
        per configured name); from a ``trusted`` proxy the origin fields are keyed instead."""
        name_ = "_unkeyed_trusted_raw" if trusted else "_unkeyed_raw"
        raw: tuple[bytes, ...] = getattr(self, name_, ())
        return tuple(name.decode("latin-1") for name in raw if name in headers)

    def origin(
        self, scope: Mapping[str, object], headers: Mapping[bytes, bytes]
    ) -> tuple[bytes | None, str, bool]:
        """(Host value, scheme, trusted) to key the request on: the forwarded origin when
        the peer is a trusted proxy (``forwarded_allow_ips``), else Host and the scheme."""
        scheme = str(scope.get("scheme", "http"))
        host = headers.get(b"host")
        proxies: TrustedProxies | None = getattr(self, "_proxies", None)
        if proxies is None or not proxies.trusts(scope.get("client")):
            return host, scheme, False
        fwd_host, fwd_scheme = forwarded_origin(headers)
        return (fwd_host if fwd_host is not None else host), (fwd_scheme or scheme), True

    def tags_for(self, path: str) -> tuple[str, ...]:
        """Tags the route rules attach to ``path``."""
        tags: list[str] = []
        for match, extra in getattr(self, "_tag_rules", ()):
            if match(path):
                tags.extend(extra)
        return tuple(tags)

    def set_cookie_allowed(self, path: str) -> bool:
        """Whether responses for ``path`` may be stored despite Set-Cookie (stripped)."""
        return any(match(path) for match in getattr(self, "_cookie_rules", ()))
