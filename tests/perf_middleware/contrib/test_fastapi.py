"""FastAPI, as docs/frameworks.md shows it: ``app.add_middleware(PerformanceMiddleware,
...)`` with a backend the app keeps (``app.state.cache``) for invalidation, and ``@cached``
on a query function and on a dependency — under a real uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response

from perf_middleware import MemoryBackend, PerformanceMiddleware, cached
from tests.support.servers import UvicornServer

queries = {"product": 0, "settings": 0}
PRODUCTS = {1: "kettle", 2: "teapot"}


cache = MemoryBackend(max_bytes=8 * 2**20)  # made first, so the app keeps a handle


@cached(ttl=60, backend=cache, tags=lambda pk: [f"product:{pk}"])
async def load_product(pk: int) -> dict[str, object]:
    queries["product"] += 1  # stands for a slow database query
    return {"id": pk, "name": PRODUCTS[pk]}


@cached(ttl=60, backend=cache, tags=["settings"])
async def site_settings() -> dict[str, str]:  # a dependency, cached like a query
    queries["settings"] += 1
    return {"currency": "EUR"}


Settings = Annotated[dict[str, str], Depends(site_settings)]
app = FastAPI()
app.state.cache = cache
app.add_middleware(PerformanceMiddleware, cache=cache)


@app.get("/api/products/{pk}")
async def product(pk: int, settings: Settings) -> dict[str, object]:
    return {**await load_product(pk), **settings}


@app.get("/products/{pk}")
async def product_page(pk: int, response: Response) -> dict[str, object]:
    response.headers["cache-control"] = "public, max-age=0, s-maxage=300"
    response.headers["cache-tag"] = f"product:{pk}"
    return {"page": PRODUCTS[pk]}


@app.put("/admin/products/{pk}")
async def rename(pk: int, name: str, request: Request) -> dict[str, int]:
    PRODUCTS[pk] = name
    dropped = await request.app.state.cache.invalidate_tags([f"product:{pk}"])
    return {"dropped": dropped}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as client:
        yield client


def test_cached_query_dependency_and_page_share_one_invalidation(client: httpx.Client) -> None:
    before = dict(queries)
    assert client.get("/api/products/1").json() == {"id": 1, "name": "kettle", "currency": "EUR"}
    assert client.get("/api/products/1").json()["name"] == "kettle"
    assert queries["product"] == before["product"] + 1  # the second call: a cached result
    assert queries["settings"] == before["settings"] + 1  # the dependency too
    page = client.get("/products/1")
    assert "stored" in page.headers["cache-status"]
    assert "hit" in client.get("/products/1").headers["cache-status"]

    renamed = client.put("/admin/products/1", params={"name": "kettle v2"})
    assert renamed.json()["dropped"] >= 2  # the page and the query result

    assert client.get("/api/products/1").json()["name"] == "kettle v2"
    assert queries["product"] == before["product"] + 2
    again = client.get("/products/1")
    assert "hit" not in again.headers["cache-status"]
    assert again.json() == {"page": "kettle v2"}
    assert queries["settings"] == before["settings"] + 1  # untouched by that tag
