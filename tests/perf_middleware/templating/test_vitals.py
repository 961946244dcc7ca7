"""``web_vitals()``: the tag it writes, the route template it finds, and what it notes on
the request scope for the server."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import jinja2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perf_middleware.admin.web import web_manifest
from perf_middleware.metrics.vitals import VITALS_ROUTE_KEY
from perf_middleware.templating.vitals import WebVitals, route_template


def test_the_tag_names_the_fingerprinted_script_its_endpoint_and_the_route() -> None:
    helper = WebVitals(prefix="/ops/")
    scope: dict[str, Any] = {}
    tag = str(helper.script("/a/{id}", scope=scope))
    entry = web_manifest()["vitals.js"]
    assert tag == (
        f'<script type="module" src="/ops/assets/{entry.path}" integrity="{entry.integrity}" '
        'data-perf-vitals data-endpoint="/ops/vitals" data-route="/a/{id}"></script>'
    )
    assert scope[VITALS_ROUTE_KEY] == "/a/{id}"


def test_without_a_route_it_warns_with_a_hint(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "perf_middleware.templating"):
        tag = str(WebVitals().script(scope={"type": "http"}))
    assert "data-route" not in tag
    assert "HINT: pass it" in caplog.text


class _Route:
    path_format = "/fast/{item}"


class _Odd:
    """A route type whose matcher does not understand the scope."""

    path = "/odd"

    def matches(self, scope: Any) -> Any:
        raise KeyError("type")


class _Router:
    routes = (_Odd(), object(), Route("/x/{n:int}", lambda request: None))


def test_route_template_from_the_framework() -> None:
    assert route_template({"route": _Route()}) == "/fast/{item}"
    assert route_template({"route": object()}) is None
    assert route_template({}) is None
    scope = {"type": "http", "path": "/x/4", "router": _Router(), "method": "GET"}
    assert route_template(scope) == "/x/{n}"


async def test_installed_on_starlette_templates_it_finds_the_matched_route() -> None:
    env = jinja2.Environment(autoescape=True)
    env.globals["greeting"] = "hi"
    WebVitals().install(env)
    template = env.from_string("<h1>{{ greeting }}</h1>{{ web_vitals() }}")
    seen: list[Any] = []

    async def item(request: Request) -> HTMLResponse:
        html = template.render(request=request)
        seen.append(request.scope.get(VITALS_ROUTE_KEY))
        return HTMLResponse(html)

    async def explicit(request: Request) -> HTMLResponse:
        html = env.from_string("{{ web_vitals(route='/named') }}").render(request=request)
        return HTMLResponse(html)

    app = Starlette(routes=[Route("/items/{item_id:int}", item), Route("/named", explicit)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        page = await c.get("/items/3")
        named = await c.get("/named")
    assert 'data-route="/items/{item_id}"' in page.text
    assert seen == ["/items/{item_id}"]
    assert 'data-route="/named"' in named.text


def test_install_needs_a_jinja_environment() -> None:
    with pytest.raises(TypeError, match=r"HINT: pass a jinja2\.Environment"):
        WebVitals().install(object())

    class Templates:
        env = jinja2.Environment(autoescape=True)

    assert "web_vitals" in WebVitals().install(Templates()).globals


def test_options_are_checked() -> None:
    with pytest.raises(TypeError, match="prefx"):
        WebVitals(prefx="/ops")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="prefix"):
        WebVitals(prefix=5)  # type: ignore[arg-type]
