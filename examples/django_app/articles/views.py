"""Pages say themselves whether they may be shared and what they are built from: the
response cache stores ``s-maxage`` responses and drops them by ``Cache-Tag``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from examples.django_app.articles.models import Article

SHARED = "public, max-age=0, s-maxage=300"


def _shared(response: HttpResponse, *tags: str) -> HttpResponse:
    response["Cache-Control"] = SHARED
    response["Cache-Tag"] = ", ".join(tags)
    return response


def index(request: HttpRequest) -> HttpResponse:
    articles = list(Article.objects.all())
    return _shared(render(request, "articles/index.html", {"articles": articles}), "articles")


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    page = render(request, "articles/detail.html", {"article": article})
    return _shared(page, f"article:{pk}")


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    if request.method == "POST":
        article.title = request.POST.get("title", article.title)[:200]
        article.save()  # post_save -> invalidate_on_save drops "articles" and "article:<pk>"
        return redirect("detail", pk=pk)
    response = render(request, "articles/edit.html", {"article": article})
    response["Cache-Control"] = "private, no-store"  # it carries a CSRF token
    return response
