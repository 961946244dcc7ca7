"""The operator API: metrics, health and cache control, as a small token-protected ASGI app.

``PerformanceMiddleware`` mounts it under ``/_perf`` when ``admin=AdminConfig(token=...)`` is
given; without a token nothing is mounted and those paths reach the application. Routing is a
dict lookup on the path after the prefix; request bodies are bounded and validated before any
backend call, so malformed input is a 4xx with a reason and never a 500.
"""

from __future__ import annotations

import logging
import time
from asyncio import get_running_loop
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client.exposition import choose_encoder

from perf_middleware.admin.beacon import BeaconEndpoint
from perf_middleware.admin.config import ENV_TOKEN, AdminConfig
from perf_middleware.admin.dashboard import (
    LOGIN_HEADERS,
    PAGE_HEADERS,
    REPORT_HEADERS,
    dashboard_data,
    render_login,
    render_page,
    render_report,
)
from perf_middleware.admin.health import check_health
from perf_middleware.admin.io import (
    BodyError,
    empty_response,
    entry_info_dict,
    json_response,
    parse_invalidate,
    read_body,
    read_bounded,
    send_response,
    without_body,
)
from perf_middleware.admin.ratelimit import RateLimiter
from perf_middleware.admin.session import (
    login_token,
    make_session,
    session_cookie,
    session_valid,
)
from perf_middleware.admin.web import WEB_DIST
from perf_middleware.metrics.counters import Metrics
from perf_middleware.metrics.history import History
from perf_middleware.metrics.prometheus import CONTENT_TYPE, prometheus_text, registry_for
from perf_middleware.metrics.vitals import VitalsRoutes
from perf_middleware.static import StaticAssets
from perf_middleware.types import Receive, Scope, Send

__all__ = ["ENV_TOKEN", "AdminApp", "AdminConfig"]

logger = logging.getLogger("perf_middleware.admin")

Handler = Callable[["_Request"], Awaitable[None]]


class _Request:
    __slots__ = ("client", "method", "path", "query", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.path = path
        self.method: str = scope["method"]
        client = scope.get("client")
        self.client: str | None = client[0] if client else None
        self.query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


class AdminApp:
    """ASGI app answering ``<prefix>/metrics``, ``/metrics.json``, ``/health``, ``/cache/…``,
    ``/invalidate``, ``/openapi.json`` and the dashboard (``/``, ``/dashboard.json``,
    ``/report``); the spec is in :mod:`perf_middleware.admin.openapi`. Two paths are public:
    ``/assets/…`` (the package's own scripts and styles) and, with ``web_vitals``,
    ``POST /vitals`` (beacons from visitors' browsers).

    ``cache`` is any :class:`~perf_middleware.cache.CacheBackend` (or ``None``);
    ``url_key`` turns a user-given URL into the backend's primary key (default: unchanged);
    ``static`` is the ``StaticAssets`` whose build the dashboard summarises.
    """

    def __init__(
        self,
        config: AdminConfig,
        *,
        metrics: Metrics | None = None,
        cache: Any = None,
        url_key: Callable[[str], str] | None = None,
        static: Any = None,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else Metrics()
        self.cache = cache
        self.static = static
        self.url_key = url_key or (lambda url: url)
        self._registry = registry_for(self.metrics)
        self.history = History(
            self.metrics.collect_state, interval=config.history_interval, size=config.history_size
        )
        self.assets = StaticAssets(
            WEB_DIST, prefix=f"{config.prefix}/assets", service_worker=None, extra_files=()
        )
        #: route templates beacons may name; the middleware adds the ones pages render
        self.vitals_routes: VitalsRoutes | None = None
        self.beacon: BeaconEndpoint | None = None
        if config.web_vitals:
            self.vitals_routes = VitalsRoutes(config.web_vitals_routes)
            limiter = RateLimiter(rate=config.web_vitals_rate, burst=config.web_vitals_burst)
            vitals = self.metrics.enable_vitals()
            self.beacon = BeaconEndpoint(vitals, self.vitals_routes, limiter)
        self._routes: dict[str, dict[str, Handler]] = {
            "/": {"GET": self._dashboard},
            "/dashboard.json": {"GET": self._dashboard_json},
            "/report": {"GET": self._report},
            "/metrics": {"GET": self._metrics},
            "/metrics.json": {"GET": self._metrics_json},
            "/health": {"GET": self._health},
            "/invalidate": {"POST": self._invalidate},
            "/openapi.json": {"GET": self._openapi},
        }
        # guessing the token through the login form is slowed to a few tries a minute
        self._login_limiter = RateLimiter(rate=0.1, burst=5)
        self._cache_methods: dict[str, Handler] = {
            "GET": self._cache_get,
            "DELETE": self._cache_delete,
        }

    def matches(self, path: str) -> bool:
        """Whether ``path`` belongs to the admin API (the middleware's routing test)."""
        prefix = self.config.prefix
        return path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith(self.config.prefix):
            path = path[len(self.config.prefix) :] or "/"
        request = _Request(scope, receive, send, path)
        if self.history.loop is not get_running_loop():
            self.history.start()
        if path.startswith("/assets/"):  # public: the package's own scripts and styles
            await self.assets(scope, receive, send)
            return
        if path == "/vitals" and self.beacon is not None:  # public: visitors' beacons
            await self.beacon(scope, receive, send, request.client)
            return
        if not self.config.enabled:
            await empty_response(send, 404)
            return
        if not self.config.client_allowed(request.client):
            logger.warning("admin refused client=%s reason=ip-not-allowed", request.client)
            await empty_response(send, 403)
            return
        if path == "/login":
            await self._login(request)
            return
        headers = dict(scope.get("headers", ()))
        if not self._authorized(request.method, headers):
            logger.warning("admin refused client=%s reason=bad-token", request.client)
            if request.method == "GET" and b"text/html" in headers.get(b"accept", b""):
                body = render_login(self.config.prefix)  # a browser: the sign-in form
                await send_response(send, 401, body, b"text/html; charset=utf-8", LOGIN_HEADERS)
                return
            await empty_response(send, 401, [(b"www-authenticate", b'Bearer realm="perf-admin"')])
            return
        methods = self._cache_methods if path.startswith("/cache/") or path == "/cache" else None
        if methods is None:
            methods = self._routes.get(path.rstrip("/") or "/")
        if methods is None:
            await json_response(send, 404, {"error": f"no admin endpoint {path!r}"})
            return
        handler = methods.get(request.method)
        if handler is None and request.method == "HEAD" and "GET" in methods:
            handler = methods["GET"]
            request.send = without_body(send)  # monitoring probes often use HEAD
        if handler is None:
            allowed = [*methods, "HEAD"] if "GET" in methods else list(methods)
            await json_response(
                send,
                405,
                {"error": f"{request.method} not allowed on {path}", "allow": allowed},
                [(b"allow", ", ".join(allowed).encode())],
            )
            return
        await handler(request)

    def _authorized(self, method: str, headers: dict[bytes, bytes]) -> bool:
        """The bearer token, or (reading only) a dashboard session cookie."""
        if self.config.token_matches(headers.get(b"authorization")):
            return True
        if method not in ("GET", "HEAD") or self.config.token is None:
            return False
        return session_valid(self.config.token, headers.get(b"cookie"), time.time())

    async def _login(self, request: _Request) -> None:
        """``POST /login`` with the token in a form: a session cookie and back to ``/``."""
        prefix = self.config.prefix
        if request.method != "POST":
            await json_response(
                request.send, 405, {"error": "sign in with POST"}, [(b"allow", b"POST")]
            )
            return
        if not self._login_limiter.allow(request.client):
            logger.warning("admin login refused client=%s reason=rate-limited", request.client)
            await empty_response(request.send, 429, [(b"retry-after", b"60")])
            return
        headers = dict(request.scope.get("headers", ()))
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type != b"application/x-www-form-urlencoded":
            error = "the login form is application/x-www-form-urlencoded"
            await json_response(request.send, 415, {"error": error})
            return
        body = await read_bounded(headers.get(b"content-length"), request.receive, 4096)
        token = login_token(body) if body is not None else None
        if token is None or not self.config.token_matches(b"Bearer " + token.encode()):
            logger.warning("admin login refused client=%s reason=bad-token", request.client)
            page = render_login(prefix, "That is not the admin token.")
            await send_response(request.send, 401, page, b"text/html; charset=utf-8", LOGIN_HEADERS)
            return
        assert self.config.token is not None  # token_matches is False without one
        cookie = session_cookie(
            make_session(self.config.token, time.time()),
            prefix,
            secure=request.scope.get("scheme") == "https",
        )
        logger.info("admin login client=%s", request.client)
        location = f"{prefix}/".encode()
        extra = [(b"location", location), (b"set-cookie", cookie)]
        await send_response(request.send, 303, b"", None, extra)

    # -- handlers ---------------------------------------------------------------------------

    async def _metrics(self, request: _Request) -> None:
        if request.query.get("format") == "json":
            await self._metrics_json(request)
            return
        accept = dict(request.scope.get("headers", ())).get(b"accept", b"")
        if b"openmetrics" in accept:  # Prometheus asks for OpenMetrics when it can parse it
            encoder, content_type = choose_encoder(accept.decode("latin-1"))
            body = encoder(self._registry)
        else:
            body, content_type = prometheus_text(self.metrics, self._registry), CONTENT_TYPE
        await send_response(request.send, 200, body, content_type.encode())

    async def _metrics_json(self, request: _Request) -> None:
        await json_response(request.send, 200, self.metrics.to_json())

    async def _dashboard_json(self, request: _Request) -> None:
        self.history.maybe_sample()
        data = await dashboard_data(self.metrics, self.history, self.cache, self.static)
        await json_response(request.send, 200, data)

    async def _dashboard(self, request: _Request) -> None:
        data = await dashboard_data(self.metrics, self.history, self.cache, self.static)
        body = render_page(data, self.config.prefix)
        await send_response(request.send, 200, body, b"text/html; charset=utf-8", PAGE_HEADERS)

    async def _report(self, request: _Request) -> None:
        self.history.maybe_sample()
        data = await dashboard_data(self.metrics, self.history, self.cache, self.static)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(data["generated_at"]))
        disposition = f'attachment; filename="perf-report-{stamp}.html"'.encode()
        headers = [*REPORT_HEADERS, (b"content-disposition", disposition)]
        body = render_report(data)
        await send_response(request.send, 200, body, b"text/html; charset=utf-8", headers)

    async def _openapi(self, request: _Request) -> None:
        from perf_middleware.admin.openapi import openapi_document

        await json_response(request.send, 200, openapi_document(self.config.prefix))

    async def _health(self, request: _Request) -> None:
        status, body = await check_health(
            self.cache,
            ping_timeout=self.config.health_timeout,
            max_latency_ms=self.config.health_max_latency_ms,
        )
        extra = [(b"retry-after", b"5")] if status == 503 else None
        await json_response(request.send, status, body, extra)

    def _target(self, request: _Request) -> str | None:
        target = request.path[len("/cache/") :] if request.path.startswith("/cache/") else ""
        return target or request.query.get("url") or request.query.get("key") or None

    async def _no_cache(self, request: _Request) -> bool:
        if self.cache is not None:
            return False
        hint = "HINT: pass cache=MemoryBackend() or RedisBackend(...) to PerformanceMiddleware"
        await json_response(request.send, 404, {"error": f"no response cache configured. {hint}"})
        return True

    async def _cache_target(self, request: _Request) -> str | None:
        """The URL or key a ``/cache`` request names; ``None`` once a 400 (no target) or
        404 (no cache configured) has been sent, so the handler just returns."""
        target = self._target(request)
        if target is None:
            await json_response(request.send, 400, {"error": _TARGET_ERROR})
            return None
        if await self._no_cache(request):
            return None
        return target

    async def _cache_get(self, request: _Request) -> None:
        target = await self._cache_target(request)
        if target is None:
            return
        infos = await self._call(request, self.cache.entry_info, self.url_key(target))
        if infos is None:
            return
        if not infos:
            await json_response(request.send, 404, {"error": "not cached", "key": target})
            return
        await json_response(
            request.send, 200, {"key": target, "entries": [entry_info_dict(i) for i in infos]}
        )

    async def _cache_delete(self, request: _Request) -> None:
        target = await self._cache_target(request)
        if target is None:
            return
        removed = await self._call(request, self.cache.invalidate_url, self.url_key(target))
        if removed is None:
            return
        logger.info("admin delete client=%s url=%s removed=%d", request.client, target, removed)
        await json_response(request.send, 200, {"removed": removed, "url": target})

    async def _invalidate(self, request: _Request) -> None:
        try:
            body = await read_body(request.scope, request.receive, self.config.max_body)
            spec = parse_invalidate(body)
        except BodyError as exc:
            await json_response(request.send, exc.status, {"error": exc.reason})
            return
        if await self._no_cache(request):
            return
        counts: dict[str, int] = {}
        if spec.all:
            if (n := await self._call(request, self.cache.clear)) is None:
                return
            counts["all"] = n
        if spec.urls:
            keys = [self.url_key(u) for u in spec.urls]
            if (n := await self._sum(request, self.cache.invalidate_url, keys)) is None:
                return
            counts["urls"] = n
        if spec.tags:
            if (n := await self._call(request, self.cache.invalidate_tags, spec.tags)) is None:
                return
            counts["tags"] = n
        if spec.patterns:
            n = await self._sum(request, self.cache.invalidate_pattern, spec.patterns)
            if n is None:
                return
            counts["patterns"] = n
        total = sum(counts.values())
        logger.info(
            "admin invalidate client=%s all=%s urls=%s tags=%s patterns=%s removed=%d",
            request.client, spec.all, _brief(spec.urls), _brief(spec.tags),
            _brief(spec.patterns), total,
        )  # fmt: skip
        await json_response(request.send, 200, {"removed": total, "by_kind": counts})

    async def _sum(
        self, request: _Request, fn: Callable[[str], Awaitable[int]], items: Iterable[str]
    ) -> int | None:
        total = 0
        for item in items:
            n = await self._call(request, fn, item)
            if n is None:
                return None
            total += n
        return total

    async def _call(self, request: _Request, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run a backend call; a failing backend becomes a 503 with the reason (returns None)."""
        try:
            return await fn(*args)
        except Exception as exc:
            logger.warning("admin backend call failed op=%s error=%r", fn.__name__, exc)
            reason = f"cache backend failed: {type(exc).__name__}: {exc}"
            await json_response(request.send, 503, {"error": reason}, [(b"retry-after", b"5")])
        return None


def _brief(items: tuple[str, ...], limit: int = 20) -> str:
    """A log-friendly list: the first ``limit`` items and how many more (bodies allow 1000)."""
    shown = list(items[:limit])
    return f"{shown}+{len(items) - limit} more" if len(items) > limit else str(shown)


_TARGET_ERROR = (
    "no cache key or URL given. HINT: percent-encode it into the path, "
    "e.g. /cache/https%3A%2F%2Fexample.com%2Fpage, or pass ?url=..."
)
