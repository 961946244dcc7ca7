"""RFC 9111 §4.4: a non-error response to a method not known to be safe (POST, PUT, PATCH,
DELETE, PURGE, WebDAV's, any extension: all but GET, HEAD, OPTIONS and TRACE) invalidates
the target URI and the same-host URIs in Location / Content-Location.  A collaborator the cache
stage holds.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.forward import ClientSend
from perf_middleware.cache.keys import (
    key_path,
    key_query,
    normalize_host,
    normalize_query,
    primary_key,
    valid_host,
)
from perf_middleware.cache.stage.seams import PipelineRunner, StageEvents
from perf_middleware.http.headers import combine_fields, get_header
from perf_middleware.types import Message, Receive, Scope, Send

logger = logging.getLogger("perf_middleware.cache")


class Invalidator:
    """Forwards requests with unsafe methods and invalidates what their response names."""

    def __init__(
        self,
        runner: PipelineRunner,
        backend: CacheBackend,
        config: CacheConfig,
        count: StageEvents,
    ) -> None:
        self.runner = runner
        self.backend = backend
        self.config = config
        self.count = count

    async def forward_unsafe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """RFC 9111 §4.4: a non-error response to a method not known to be safe invalidates
        the target URI and same-host Location / Content-Location, before the client sees
        the response."""
        self.count("bypass_method")
        client = ClientSend(send, self.config, "method")

        async def invalidate_then_send(message: Message) -> None:
            if message["type"] == "http.response.start" and int(message["status"]) < 400:
                await self.invalidate_for(scope, list(message.get("headers") or ()))
            await client(message)

        await self.runner.run_pipeline(scope, receive, invalidate_then_send)

    async def invalidate_for(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
        fields = combine_fields(scope.get("headers") or ())[0]
        host_value, scheme, _ = self.config.origin(scope, fields)  # as the stage keyed it
        host = normalize_host((host_value or b"").decode("latin-1"), scheme)
        if not valid_host(host):
            return  # no key was ever made for it
        path = key_path(scope.get("raw_path"), scope.get("path", "/"))
        query = normalize_query(key_query(scope.get("query_string", b"")), self.config)
        target = primary_key(scheme, host, path, query)
        urls = {target}
        for name in (b"location", b"content-location"):
            value = get_header(headers, name)
            if value is None:
                continue
            parts = urlsplit(urljoin(target, value.decode("latin-1")))
            if parts.scheme == scheme and normalize_host(parts.netloc, scheme) == host:
                p = key_path(parts.path.encode("latin-1") or b"/", "")
                q = normalize_query(key_query(parts.query.encode("latin-1")), self.config)
                urls.add(primary_key(scheme, host, p, q))
        for url in urls:
            try:
                removed = await self.backend.invalidate_url(url)
            except Exception as exc:  # the write succeeded; a dead cache must not fail it
                logger.warning("cache invalidation failed url=%s error=%s", url, exc)
                continue
            logger.debug("cache invalidated url=%s entries=%d", url, removed)
