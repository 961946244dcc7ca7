from __future__ import annotations

from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "examples.django_app.articles"
    label = "articles"

    def ready(self) -> None:
        from examples.django_app.articles.models import Article

        from perf_middleware.contrib.django import invalidate_on_save

        # every cached page built from an article is tagged with it (see views.py); a
        # committed save or delete drops them, whichever process or request made it
        invalidate_on_save(Article, tags=lambda article: ["articles", f"article:{article.pk}"])
