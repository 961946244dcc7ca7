"""Encoded variants stored with an entry follow the middleware's own CompressionConfig."""

from __future__ import annotations

from perf_middleware import CacheConfig, CompressionConfig, MemoryBackend, PerformanceMiddleware
from tests.perf_middleware.cache.support import Origin, client, status_of

BODY = b"custom,format\n" + b"row,1234567890\n" * 400


async def test_stored_variants_use_the_configured_compressible_types():
    """A media type the user made compressible is compressed on a miss and must be stored
    compressed too: a hit answers it in the client's coding, as the miss did."""
    origin = Origin()
    origin.route("/data", BODY, content_type="application/x-custom-table")
    app = PerformanceMiddleware(
        origin,
        cache=MemoryBackend(),
        cache_config=CacheConfig(),
        compression=CompressionConfig(compressible_types=frozenset({"application/x-custom-table"})),
    )
    async with client(app) as c:
        miss = await c.get("/data", headers={"accept-encoding": "br"})
        hit = await c.get("/data", headers={"accept-encoding": "br"})
    assert miss.headers["content-encoding"] == "br"
    assert "hit" in status_of(hit)
    assert hit.headers.get("content-encoding") == "br"
    assert hit.content == BODY


async def test_types_outside_the_configuration_are_stored_identity_only():
    origin = Origin()
    origin.route("/data", BODY, content_type="application/x-custom-table")
    app = PerformanceMiddleware(origin, cache=MemoryBackend())
    async with client(app) as c:
        await c.get("/data", headers={"accept-encoding": "br"})
        hit = await c.get("/data", headers={"accept-encoding": "br"})
    assert "hit" in status_of(hit)
    assert "content-encoding" not in hit.headers
