"""A model save drops the cached pages built from the row (``invalidate_on_save``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import override_settings

from perf_middleware import MemoryBackend
from perf_middleware.contrib.django import (
    ainvalidate_tags,
    get_asgi_application,
    invalidate_on_save,
    invalidate_tags,
)


def rename(pk: int, title: str) -> None:
    from examples.django_app.articles.models import Article

    article = Article.objects.get(pk=pk)
    article.title = title
    article.save()


async def test_a_save_in_a_sync_thread_invalidates_the_tagged_pages(collected: Path) -> None:
    app = get_asgi_application()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        first = await client.get("/")
        assert "stored" in first.headers["cache-status"]
        assert "hit" in (await client.get("/")).headers["cache-status"]

        # as a view, a signal receiver or the admin would: sync ORM code in a worker thread
        await sync_to_async(rename)(3, "Renamed in a thread")

        after = await client.get("/")
        assert "hit" not in after.headers["cache-status"]
        assert "Renamed in a thread" in after.text


async def test_invalidation_waits_for_the_commit(collected: Path) -> None:
    app = get_asgi_application()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/articles/1/")).status_code == 200
        pending: list[int] = []

        def save_in_transaction() -> None:
            with transaction.atomic():
                rename(1, "Inside a transaction")
                pending.append(len(transaction.get_connection().run_on_commit))

        await sync_to_async(save_in_transaction)()
        assert pending == [1]  # queued until the commit, not run inside the transaction
        after = await client.get("/articles/1/")
        assert "Inside a transaction" in after.text


async def test_helpers_without_a_cache_and_by_hand(collected: Path) -> None:
    with override_settings(PERF_MIDDLEWARE={}):
        assert await ainvalidate_tags(["articles"]) == 0
    backend = MemoryBackend()
    with override_settings(PERF_MIDDLEWARE={"cache": backend}):
        assert await sync_to_async(invalidate_tags)(["articles"]) == 0


def test_invalidate_on_save_checks_its_arguments() -> None:
    from examples.django_app.articles.models import Article

    with pytest.raises(TypeError, match=r"needs a model class.*HINT"):
        invalidate_on_save("Article", tags=lambda a: [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must be a function.*HINT"):
        invalidate_on_save(Article, tags=["articles"])  # type: ignore[arg-type]


def test_on_delete_false_disconnects_the_delete_receiver(collected: Path) -> None:
    from django.db.models.signals import post_delete
    from examples.django_app.articles.models import Article

    try:
        invalidate_on_save(Article, tags=lambda a: [], on_delete=False)
        assert not post_delete.has_listeners(Article)
    finally:  # back to what the example's AppConfig connected
        invalidate_on_save(Article, tags=lambda a: ["articles", f"article:{a.pk}"])
    assert post_delete.has_listeners(Article)
