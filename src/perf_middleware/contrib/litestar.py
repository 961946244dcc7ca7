"""Litestar plugin: ``Litestar(plugins=[PerformancePlugin(...)])``.

Litestar runs middleware per route handler, after routing: a request for a path no
handler owns is answered 404 before any middleware runs, and each route gets its own
middleware instance. Registered as ``DefineMiddleware(PerformanceMiddleware, static=…,
admin=…)``, the middleware therefore never sees ``/static/…`` or ``/_perf/…`` and keeps one
cache stage and one set of metrics per route. The plugin fixes both:

* one ``PerformanceMiddleware`` for the whole app (``plugin.middleware``; its backend is
  ``plugin.cache``, the handle for ``invalidate_tags`` and ``@cached``);
* a light per-route middleware that sends each routed request through it;
* mount handlers at the static prefix and the admin prefix answered by it directly;
* ``Assets`` helpers installed on the Jinja engine of ``template_config``.

Options are ``PerformanceMiddleware``'s keyword options plus ``assets`` (an ``Assets``;
default: one over ``static`` when given) and ``preload`` (True or ``PreloadConfig``
options: ``Link`` preload headers for what the templates rendered). Litestar's own
registration keeps working: a ``DefineMiddleware(PerformanceMiddleware, ...)`` already in
the app's middleware is taken over by the plugin (its options become the plugin's), so the
static files and the admin API answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment
from litestar.config.app import AppConfig
from litestar.handlers.asgi_handlers import ASGIRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.plugins import InitPlugin

from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.templating import Assets
from perf_middleware.templating.preload import PreloadHints
from perf_middleware.types import ASGIApp, Receive, Scope, Send

__all__ = ["PerformancePlugin"]

#: Scope key holding the route's own ASGI app while the shared middleware runs.
NEXT_KEY = "perf_middleware.litestar.next"
#: ``opt`` key marking the plugin's mount handlers (their path is restored, not routed).
MOUNT_OPT = "perf_middleware_mount"


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    body = b"Not Found"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _route_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The shared middleware's inner app: the app of the route being answered."""
    await scope.get(NEXT_KEY, _not_found)(scope, receive, send)


class PerformancePlugin(InitPlugin):
    """Install ``PerformanceMiddleware`` on a Litestar app (see the module docstring)."""

    __slots__ = ("_assets", "_options", "_preload", "middleware")

    def __init__(
        self,
        *,
        assets: Assets | None = None,
        preload: bool | Mapping[str, Any] = False,
        **options: Any,
    ) -> None:
        self._options = options
        self._assets = assets
        self._preload = preload
        self.middleware: PerformanceMiddleware | None = None

    @property
    def cache(self) -> Any:
        """The response-cache backend (None without one, or before the app is built)."""
        return self.middleware.cache if self.middleware is not None else None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        options = dict(self._options)
        kept: list[Any] = []
        for item in app_config.middleware:
            if isinstance(item, DefineMiddleware) and item.middleware is PerformanceMiddleware:
                options = {**item.kwargs, **options}  # Litestar's own registration, adopted
            else:
                kept.append(item)
        core = PerformanceMiddleware(_route_app, **options)
        self.middleware = core
        # Litestar types scopes as TypedDicts; the runtime's ASGI aliases are plain mappings
        route = DefineMiddleware(_RouteMiddleware, core=core, plugin=self)  # type: ignore[arg-type]
        app_config.middleware = [route, *kept]
        admin_prefix = core.admin.config.prefix if core.admin is not None else ""
        for prefix in (admin_prefix, _prefix(core.static)):
            if prefix:
                app_config.route_handlers.append(_mount(core, prefix))
        explicit = self._assets is not None
        assets = self._assets
        if assets is None and core.static is not None:
            assets = Assets(core.static)
        self._assets = assets
        if assets is not None and app_config.template_config is not None:
            template_config = app_config.template_config
            template_config.engine_callback = _installing(
                assets, template_config.engine_callback, required=explicit
            )
        return app_config

    def route_app(self, app: ASGIApp) -> ASGIApp:
        """The app a routed request reaches inside the shared middleware."""
        if self._preload is False or self._assets is None:
            return app
        options = {} if self._preload is True else dict(self._preload)
        return PreloadHints(app, self._assets, **options)


class _RouteMiddleware:
    """Litestar's per-route middleware: routed requests go through the shared one."""

    __slots__ = ("app", "core", "plain")

    def __init__(self, app: ASGIApp, *, core: PerformanceMiddleware, plugin: PerformancePlugin):
        self.core = core
        self.app = plugin.route_app(app)
        self.plain = app  # the plugin's own mounts and non-HTTP scopes go straight to it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != "http" or getattr(handler, "opt", {}).get(MOUNT_OPT):
            await self.plain(scope, receive, send)
            return
        scope[NEXT_KEY] = self.app
        try:
            await self.core(scope, receive, send)
        finally:
            scope.pop(NEXT_KEY, None)


def _prefix(app: Any) -> str:
    prefix = getattr(app, "prefix", None)
    return prefix.rstrip("/") if isinstance(prefix, str) else ""


def _mount(core: PerformanceMiddleware, prefix: str) -> ASGIRouteHandler:
    """A mount at ``prefix`` whose requests the shared middleware answers (Litestar hands
    a mount the path below it; the middleware matches full paths, so it is put back)."""

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        scope["path"] = prefix + scope["path"]
        await core(scope, receive, send)

    mounted.__name__ = f"perf_middleware_mount{prefix.replace('/', '_')}"
    return ASGIRouteHandler(prefix, is_static=True, copy_scope=True, opt={MOUNT_OPT: True})(mounted)


def _installing(
    assets: Assets, previous: Callable[[Any], None] | None, *, required: bool
) -> Callable[[Any], None]:
    """The template engine's callback: the app's own first, then the helpers. They are
    Jinja globals: an ``assets=`` given explicitly to another engine fails with
    ``Assets.install``'s error; the implicit ones (from ``static``) skip it."""

    def callback(engine: Any) -> None:
        if previous is not None:
            previous(engine)
        environment = getattr(engine, "engine", engine)
        if required or isinstance(environment, Environment):
            assets.install(environment)

    return callback
