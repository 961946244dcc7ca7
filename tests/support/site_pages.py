"""A small server-rendered site whose pages share one layout, for the site-dictionary tests:
``/page/<n>`` (public pages), ``/account`` (sets a cookie), ``/form`` (a CSRF token field),
``/profile`` (``Vary: Cookie``), ``/private`` (``Cache-Control: private``).
Every page links the site dictionary in its ``<head>`` once the middleware has one."""

from __future__ import annotations

import random
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.compression.site_dictionary import SiteDictionaryConfig
from perf_middleware.middleware import PerformanceMiddleware

_WORDS = [
    "cache",
    "compression",
    "layout",
    "header",
    "footer",
    "navigation",
    "article",
    "section",
    "chapter",
    "figure",
    "table",
    "index",
    "search",
    "widget",
    "button",
    "content",
    "summary",
    "detail",
    "author",
    "update",
    "release",
    "module",
    "option",
    "request",
    "response",
    "browser",
    "server",
    "latency",
    "bandwidth",
    "dictionary",
]


def _text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


_NAV = "".join(
    f'<li class="nav-item"><a class="nav-link" href="/page/{i}">{_text(1000 + i, 4)}</a></li>\n'
    for i in range(60)
)
_FOOTER = "".join(f"<p class='footer-note'>{_text(2000 + i, 12)}</p>\n" for i in range(20))
_STYLE = "".join(
    f".c{i} {{ margin: {i}px; padding: {i % 7}px; color: #{i * 2654435761 % 0xFFFFFF:06x}; }}\n"
    for i in range(120)
)


def render(title: str, body: str, head: str = "") -> str:
    """A page of the site: the shared layout around ``body``."""
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title>{head}<style>{_STYLE}</style></head>\n"
        f"<body><nav><ul class='nav'>{_NAV}</ul></nav>\n<main><h1>{title}</h1>\n"
        f"{body}\n</main><footer>{_FOOTER}</footer></body></html>\n"
    )


def page_body(n: int) -> str:
    return "".join(f"<p>{_text(n * 100 + i, 40)}</p>\n" for i in range(6))


def make_app(dictionary: str | None = None, **middleware: Any) -> PerformanceMiddleware:
    """The site behind a ``PerformanceMiddleware``; ``dictionary``: the site dictionary file
    (None: no dictionary, e.g. to fetch the training pages)."""
    holder: dict[str, PerformanceMiddleware] = {}

    def head() -> str:
        site = holder["app"].dictionary
        return site.link_tag() if site is not None else ""

    async def page(request: Request) -> HTMLResponse:
        n = int(request.path_params["n"])
        html = render(f"Page {n}", page_body(n), head())
        return HTMLResponse(html, headers={"cache-control": "public, max-age=60"})

    async def account(request: Request) -> HTMLResponse:
        response = HTMLResponse(render("Account", page_body(7), head()))
        response.set_cookie("session", "s3cr3t-session-id", httponly=True)
        return response

    async def form(request: Request) -> HTMLResponse:
        field = '<input type="hidden" name="csrfmiddlewaretoken" value="t0ken-abc123">'
        return HTMLResponse(render("Form", f"<form method='post'>{field}</form>", head()))

    async def profile(request: Request) -> HTMLResponse:
        # what Django sends once a view used the CSRF token: Vary: Cookie, no Set-Cookie
        html = render("Profile", page_body(8), head())
        return HTMLResponse(html, headers={"vary": "Cookie"})

    async def private(request: Request) -> HTMLResponse:
        html = render("Private", page_body(9), head())
        return HTMLResponse(html, headers={"cache-control": "private, max-age=0"})

    routes = [
        Route("/page/{n:int}", page),
        Route("/account", account),
        Route("/form", form),
        Route("/profile", profile),
        Route("/private", private),
    ]
    compression = CompressionConfig(
        site_dictionary=SiteDictionaryConfig(path=dictionary) if dictionary else None
    )
    app = PerformanceMiddleware(Starlette(routes=routes), compression=compression, **middleware)
    holder["app"] = app
    return app
