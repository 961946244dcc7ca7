"""Invalidating the response cache from Django code: signals, views, management commands.

A model save must drop the responses built from that row. ``invalidate_on_save`` connects
``post_save``/``post_delete`` receivers that call the backend's ``invalidate_tags`` once
the surrounding transaction commits (``transaction.on_commit``): invalidating earlier would
let a request that runs before the commit store the old row again.

Django's signals are synchronous and the backends are asynchronous. Under an ASGI server
a synchronous view (and so its signals) runs in a worker thread; ``async_to_sync`` runs
the call on the server's event loop, where the backend's connections live, and waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from perf_middleware.contrib.django.config import get_cache

__all__ = ["ainvalidate_tags", "invalidate_on_save", "invalidate_tags"]


async def ainvalidate_tags(tags: Iterable[str]) -> int:
    """Drop every cached response (and ``@cached`` result) tagged with one of ``tags``;
    the number of entries dropped (0 when no cache is configured)."""
    cache = get_cache()
    if cache is None:
        return 0
    return int(await cache.invalidate_tags(list(tags)))


def invalidate_tags(tags: Iterable[str]) -> int:
    """``ainvalidate_tags`` for synchronous code (views, signal receivers, commands)."""
    return int(async_to_sync(ainvalidate_tags)(list(tags)))


def invalidate_on_save(
    model: type[models.Model],
    *,
    tags: Callable[[Any], Iterable[str]],
    on_delete: bool = True,
) -> None:
    """After a committed save (and delete) of a ``model`` row, invalidate ``tags(row)``.

    ``invalidate_on_save(Article, tags=lambda a: ["articles", f"article:{a.pk}"])``, in
    the app's ``AppConfig.ready``. Connecting the same model twice replaces the receiver.
    """
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise TypeError(
            f"invalidate_on_save needs a model class, got {model!r}. "
            "HINT: invalidate_on_save(Article, tags=lambda a: [f'article:{a.pk}'])."
        )
    if not callable(tags):
        raise TypeError(
            f"invalidate_on_save(tags=...) must be a function of the saved row, got "
            f"{type(tags).__name__}. HINT: tags=lambda row: [f'article:{{row.pk}}']."
        )

    def receiver(sender: type[models.Model], instance: Any, **kwargs: Any) -> None:
        names = list(tags(instance))
        if names:
            using = kwargs.get("using") or instance._state.db
            transaction.on_commit(lambda: invalidate_tags(names), using=using)

    uid = f"perf_middleware.invalidate:{model._meta.label}"
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=uid)
    if on_delete:
        post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=uid)
    else:
        post_delete.disconnect(sender=model, dispatch_uid=uid)
