"""``PerformanceMiddleware``: one pure-ASGI entry point composing the stages.

Order for an HTTP request: admin and static mounts answer directly -> response cache (when
configured, ``perf_middleware.cache.stage``) -> the app wrapped in a ``Responder`` applying
policy, ETag, conditional requests and compression. Non-HTTP scopes pass straight through.
"""

from __future__ import annotations

import functools
from asyncio import get_running_loop
from collections.abc import Callable
from typing import TYPE_CHECKING

from perf_middleware.admin.config import AdminConfig
from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.events import (
    BACKEND_EVENTS,
    STAGE_EVENTS,
    backend_label,
    cache_event_hook,
)
from perf_middleware.cache.keys import cache_url_key
from perf_middleware.cache.stage import CacheStage
from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.compression.dictionary_resource import DictionaryResource
from perf_middleware.compression.site_dictionary import SiteDictionary
from perf_middleware.metrics.counters import Metrics
from perf_middleware.metrics.vitals import VITALS_ROUTE_KEY, VitalsRoutes
from perf_middleware.options import check_range, checked, describe
from perf_middleware.pipeline.capture import Capture
from perf_middleware.pipeline.observe import (
    OBSERVER_KEY,
    RequestObserver,
)
from perf_middleware.pipeline.responder import Responder
from perf_middleware.pipeline.settings import Pipeline
from perf_middleware.policy import Policy
from perf_middleware.types import ASGIApp, MountedApp, Receive, Scope, Send

if TYPE_CHECKING:
    from perf_middleware.admin.app import AdminApp
    from perf_middleware.metrics.history import History

_DEFAULT = object()


def _mount_matcher(app: object, what: str) -> Callable[[str], bool]:
    """A mounted app either exposes ``matches(path)`` or a ``prefix`` attribute (checked at
    run time too: an untyped caller gets a clear error, not a failure per request)."""
    matches = getattr(app, "matches", None)
    if callable(matches):
        return matches  # type: ignore[no-any-return]
    prefix = getattr(app, "prefix", None)
    if not isinstance(prefix, str) or not callable(app):
        raise TypeError(
            f"PerformanceMiddleware({what}=...) must be a StaticAssets (or an ASGI app with a "
            f"`prefix` string attribute), got {describe(app)}. "
            "HINT: static=StaticAssets('dist', prefix='/static')."
        )
    prefix = prefix.rstrip("/")

    def under(path: str) -> bool:
        return path == prefix or path.startswith(prefix + "/") if prefix else True

    return under


def _check_cache(cache: object, cache_config: object) -> None:
    if cache is not None and not all(
        callable(getattr(cache, name, None)) for name in ("get", "set", "invalidate_tags")
    ):
        raise TypeError(
            f"PerformanceMiddleware(cache=...) must be a cache backend or None, got "
            f"{describe(cache)}. HINT: cache=MemoryBackend() or "
            'cache=RedisBackend("redis://127.0.0.1:6379/0").'
        )
    if cache_config is not None and not isinstance(cache_config, CacheConfig):
        raise TypeError(
            f"PerformanceMiddleware(cache_config=...) must be a CacheConfig or None, got "
            f"{describe(cache_config)}. HINT: cache_config=CacheConfig(allowed_hosts=(...,))."
        )


@checked(etag_max_bytes="etag_max_bytes=8 * 2**20 (bytes; the default).")
class PerformanceMiddleware:
    """Wrap any ASGI app: ``app = PerformanceMiddleware(app)``.

    Keyword-only options (defaults in brackets):

    * ``cache`` [None]: a cache backend (``MemoryBackend``/``RedisBackend``); None = no
      response cache. ``cache_config`` [None]: its ``CacheConfig``.
    * ``static`` [None]: an ASGI app with a ``prefix`` (``StaticAssets``) answering its paths
      directly, before the pipeline.
    * ``compression`` [``CompressionConfig()``]: None switches compression off. With its
      ``site_dictionary``, the dictionary's URL is answered here too (``dictionary.url``).
    * ``policy`` [``Policy.default()``]: Cache-Control rules; None switches policy off.
    * ``etag`` [True]: generate strong blake3 ETags (128 bits, 22 base64 characters) for
      buffered 200 responses to GET (and HEAD when the app sends the body, as Starlette does).
    * ``conditional`` [True]: answer 304 / 412 from the response's validators.
    * ``etag_max_bytes`` [8 MiB]: larger bodies are not hashed.
    * ``metrics`` [a fresh ``Metrics()``]: request/cache/compression counters; None = off.
    * ``admin`` [None]: ``AdminConfig(token=...)`` mounts the admin API under its prefix
      (``/_perf``); without a token nothing is mounted, unless ``web_vitals=True`` (then
      only the public beacon endpoint and its script).
    * ``server_timing`` [False]: add ``Server-Timing: cache;desc=hit, app;dur=…, compress;dur=…``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: CacheBackend | None = None,
        cache_config: CacheConfig | None = None,
        static: MountedApp | None = None,
        compression: CompressionConfig | object | None = _DEFAULT,
        policy: Policy | object | None = _DEFAULT,
        etag: bool = True,
        conditional: bool = True,
        etag_max_bytes: int = 8 * 2**20,
        metrics: Metrics | object | None = _DEFAULT,
        admin: AdminConfig | None = None,
        server_timing: bool = False,
    ) -> None:
        if not callable(app):
            raise TypeError(
                f"PerformanceMiddleware needs an ASGI app, got {type(app).__name__}. "
                "HINT: pass the application object, e.g. PerformanceMiddleware(Starlette(...))."
            )
        check_range(
            "PerformanceMiddleware", "etag_max_bytes", etag_max_bytes, minimum=0,
            hint="bodies larger than this get no ETag; 8 * 2**20 is the default",
        )  # fmt: skip
        _check_cache(cache, cache_config)
        self.app = app
        if compression is _DEFAULT:
            compression = CompressionConfig()
        if policy is _DEFAULT:
            policy = Policy.default()
        if compression is not None and not isinstance(compression, CompressionConfig):
            raise TypeError(
                "compression must be a CompressionConfig or None, got "
                f"{type(compression).__name__}. HINT: PerformanceMiddleware(app, "
                "compression=CompressionConfig(zstd_level=3)) or compression=None."
            )
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(
                f"policy must be a Policy or None, got {type(policy).__name__}. "
                "HINT: PerformanceMiddleware(app, policy=Policy.default(no_store=['/account/*']))."
            )
        self.pipeline = Pipeline.build(
            compression=compression,
            policy=policy,
            etag=etag,
            conditional=conditional,
            etag_max_bytes=etag_max_bytes,
        )
        codecs = self.pipeline.codecs
        #: the site dictionary (``CompressionConfig(site_dictionary=...)``), None when off;
        #: ``dictionary.link_tag()`` is the ``<link>`` a page's ``<head>`` carries
        self.dictionary: SiteDictionary | None = codecs.dictionary if codecs else None
        self._dictionary_resource = (
            DictionaryResource(self.dictionary) if self.dictionary is not None else None
        )
        self.static = static
        self._static_match = _mount_matcher(static, "static") if static is not None else None
        if metrics is _DEFAULT:
            metrics = Metrics()
        if metrics is not None and not isinstance(metrics, Metrics):
            raise TypeError(
                f"metrics must be a Metrics or None, got {type(metrics).__name__}. "
                "HINT: PerformanceMiddleware(app, metrics=Metrics()) or metrics=None."
            )
        if admin is not None and not isinstance(admin, AdminConfig):
            raise TypeError(
                f"admin must be an AdminConfig or None, got {type(admin).__name__}. "
                "HINT: PerformanceMiddleware(app, admin=AdminConfig.from_env())."
            )
        self.metrics: Metrics | None = metrics
        self.server_timing = bool(server_timing)
        self._observe = metrics is not None or self.server_timing
        self.cache = cache
        self.cache_config = cache_config
        self.cache_stage: CacheStage | None = None
        events = None
        counters = None
        if cache is not None and metrics is not None:
            counters = metrics.cache(backend_label(cache))
            reasons = metrics.cache_reasons(backend_label(cache))
            events = cache_event_hook(counters, STAGE_EVENTS, reasons)
            if getattr(cache, "events", None) is None and hasattr(cache, "events"):
                cache.events = cache_event_hook(counters, BACKEND_EVENTS)
            if hasattr(cache, "max_bytes") and hasattr(cache, "stats"):  # in-process store
                metrics.track_size(backend_label(cache), cache.stats)
        if cache is not None:
            # The cache stage owns lookup, single-flight and storing; on a miss it calls
            # ``self.run_pipeline(scope, receive, send, capture=Capture(limit))``.
            self.cache_stage = CacheStage(
                self, cache, cache_config, events=events, counters=counters
            )
        self.admin: AdminApp | None = None
        self._admin_match: Callable[[str], bool] | None = None
        self._vitals_routes: VitalsRoutes | None = None
        self._history: History | None = None
        if admin is not None and admin.mounted:
            url_key = None
            if self.cache_stage is not None:
                url_key = functools.partial(cache_url_key, config=self.cache_stage.config)
            # imported only when the API is on: it brings prometheus_client and the OpenAPI
            # document, most of the package's import time, which an app without it never needs
            from perf_middleware.admin.app import AdminApp

            self.admin = AdminApp(
                admin, metrics=metrics, cache=cache, url_key=url_key, static=static
            )
            self._admin_match = self.admin.matches
            self._vitals_routes = self.admin.vitals_routes
            self._history = self.admin.history
        # nothing to route or observe around the app (or the cache stage)
        direct = (
            self._admin_match is None
            and self._static_match is None
            and self._dictionary_resource is None
            and not self.server_timing
        )
        self._plain = direct and self.cache_stage is None
        # with a cache and nothing else the stage takes every HTTP request itself (it
        # answers fresh hits and observes everything else)
        self._stage_only = self.cache_stage if direct else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stage = self._stage_only
        if stage is not None:
            await stage(scope, receive, send)
            return
        if self._plain:
            # no mounts, no cache, no Server-Timing: the pipeline inline (no coroutine layer);
            # the Responder records the metrics itself
            responder = Responder(self.pipeline, send, scope, None, self.metrics)
            try:
                await self.app(scope, receive, responder)
                if responder.pending:
                    await responder.finish()
            finally:
                if responder.metrics is not None or responder.observer is not None:
                    responder.settle()  # not recorded where it was sent (or not sent)
            return
        path: str = scope.get("path", "")
        history = self._history
        if history is not None and history.loop is not get_running_loop():
            history.start()  # the dashboard's plots start with the traffic (once per loop)
        if self._admin_match is not None and self._admin_match(path):
            assert self.admin is not None
            await self.admin(scope, receive, send)
            return
        if self._vitals_routes is not None:
            try:
                await self._dispatch(scope, receive, send, path)
            finally:
                # the web_vitals() template helper noted the page's route template: only
                # routes the app itself rendered become labels beacons may name
                self._vitals_routes.add(scope.get(VITALS_ROUTE_KEY))
            return
        await self._dispatch(scope, receive, send, path)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """Dictionary, static mount, cache stage or pipeline: everything but the admin API."""
        resource = self._dictionary_resource
        if resource is not None and resource.matches(path):
            await self.observed(scope, receive, send, resource)
        elif self._static_match is not None and self._static_match(path):
            assert self.static is not None
            await self.observed(scope, receive, send, self.static)
        elif self.cache_stage is not None:
            if self.server_timing:  # every response needs the observer to add its header
                await self.observed(scope, receive, send, self.cache_stage)
            else:
                # the stage answers fresh hits itself (recording their metrics directly, no
                # observer) and calls ``observed`` for everything else
                await self.cache_stage(scope, receive, send)
        else:
            await self.run_pipeline(scope, receive, send)  # it observes the request itself

    async def observed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: ASGIApp,
        started: float | None = None,
    ) -> None:
        """Run ``app`` with the request's metrics/Server-Timing observer wrapping ``send``
        (and reachable as ``scope[OBSERVER_KEY]``); straight through when observing is off
        or an observer is already in place. ``started``: when the request began, if earlier."""
        observer = self._observe_request(scope, send, started)
        if observer is None:
            await app(scope, receive, send)
            return
        try:
            await app(scope, receive, observer)
        finally:
            _release(scope, observer)

    def _observe_request(
        self, scope: Scope, send: Send, started: float | None = None
    ) -> RequestObserver | None:
        """A new observer for this request (in ``scope[OBSERVER_KEY]``), or None when
        observing is off or the request already has one."""
        if not self._observe or OBSERVER_KEY in scope:
            return None
        observer = RequestObserver(send, self.metrics, self.server_timing, started)
        scope[OBSERVER_KEY] = observer
        return observer

    async def run_pipeline(
        self, scope: Scope, receive: Receive, send: Send, *, capture: Capture | None = None
    ) -> None:
        """Call the app through a ``Responder`` (policy, ETag, conditional, compression).
        With ``capture``, the identity response is recorded for a cache."""
        observer = scope.get(OBSERVER_KEY)  # set by ``observed`` (cache and static paths)
        plain = observer is None and capture is None  # only this Responder reports
        # without Server-Timing the plain path's Responder records the request itself
        metrics = self.metrics if plain and not self.server_timing else None
        responder = Responder(self.pipeline, send, scope, capture, metrics)
        own: RequestObserver | None = None
        if observer is not None:
            responder.observer = observer
            if observer.server_timing:
                observer.app_called()
        elif plain and self.server_timing:  # its observer stays out of the scope
            own = responder.observer = RequestObserver(send, self.metrics, True)
            responder.send = own
            own.app_called()
        try:
            await self.app(scope, receive, responder)
            if responder.pending:
                await responder.finish()
        finally:
            if own is not None and not own.done:  # the app failed or never finished its body
                own.finish()
            elif observer is None:
                responder.settle()  # it counted the request (or has no metrics: a no-op)


def _release(scope: Scope, observer: RequestObserver) -> None:
    """End of an observed request: record it if the app failed or never finished its body,
    and drop the observer from the scope."""
    if not observer.done:
        observer.finish()
    # scope -> observer -> server send -> server's request object -> scope is a reference
    # cycle: breaking it frees the request by refcount instead of leaving it to the cyclic
    # GC, which would otherwise run every few hundred requests
    scope.pop(OBSERVER_KEY, None)
