"""``web_vitals()``: the template helper that puts the real-user Web Vitals script on a page.

It emits one ``<script type="module">`` for the package's beacon script (served by the
admin API under ``<prefix>/assets``, fingerprinted, with SRI) carrying the page's route
*template* (``/decks/{deck_id}/{number}``, never the URL, so the metric labels stay a
small fixed set) and notes that route on the request scope, where the middleware picks it
up: only routes the server rendered are accepted from beacons.

The route comes from the ``route=`` argument, else from the framework: ``scope["route"]``
with a ``path`` (FastAPI, Litestar-style), or the Starlette router's matching route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from perf_middleware.admin.web import web_manifest
from perf_middleware.metrics.vitals import VITALS_ROUTE_KEY
from perf_middleware.options import checked
from perf_middleware.templating.picture import html_attrs

__all__ = ["WebVitals", "route_template"]

logger = logging.getLogger("perf_middleware.templating")


def route_template(scope: MutableMapping[str, Any]) -> str | None:
    """The route template the framework matched for this request, if it says."""
    route = scope.get("route")
    for attr in ("path_format", "path"):
        value = getattr(route, attr, None)
        if isinstance(value, str) and value:
            return value
    router = scope.get("router")
    for candidate in getattr(router, "routes", ()):
        matches = getattr(candidate, "matches", None)
        path = getattr(candidate, "path", None)
        if not callable(matches) or not isinstance(path, str):
            continue
        try:
            match, _ = matches(scope)
        except Exception:  # a route type with other expectations of the scope
            continue
        if getattr(match, "name", None) == "FULL":
            template = getattr(candidate, "path_format", None)  # without ":int" convertors
            return template if isinstance(template, str) and template else path
    return None


@checked()
class WebVitals:
    """``WebVitals().install(templates)`` registers ``{{ web_vitals() }}``.

    ``prefix`` (default ``/_perf``) is the admin API's, as in ``AdminConfig(prefix=...)``.
    The server side is switched on with ``AdminConfig(web_vitals=True)``.
    """

    def __init__(self, *, prefix: str = "/_perf") -> None:
        self.prefix = prefix.rstrip("/")
        entry = web_manifest()["vitals.js"]
        self.src = f"{self.prefix}/assets/{entry.path}"
        self.integrity = entry.integrity

    def script(self, route: str | None = None, *, scope: Any = None) -> Markup:
        """The ``<script>`` tag for a page of ``route`` (noted on ``scope`` when given)."""
        if isinstance(scope, MutableMapping):
            if route is None:
                route = route_template(scope)
            if route is not None:
                scope[VITALS_ROUTE_KEY] = route
        if route is None:
            logger.warning(
                "web_vitals: no route template for this page, its beacons will be dropped. "
                "HINT: pass it, e.g. {{ web_vitals(route='/decks/{id}') }}"
            )
        attrs = html_attrs(
            [
                ("type", "module"),
                ("src", self.src),
                ("integrity", self.integrity),
                ("data-perf-vitals", True),
                ("data-endpoint", f"{self.prefix}/vitals"),
                ("data-route", route),
            ]
        )
        return Markup(f"<script{attrs}></script>")

    def install(self, target: Environment | Any) -> Environment:
        """Register ``web_vitals(route=None)`` on a Jinja environment or Starlette's
        ``Jinja2Templates``; it reads the route from the ``request`` in the context."""
        env = target if isinstance(target, Environment) else getattr(target, "env", None)
        if not isinstance(env, Environment):
            raise TypeError(
                f"WebVitals.install: {type(target).__name__} is not a Jinja environment. "
                "HINT: pass a jinja2.Environment or starlette's Jinja2Templates."
            )
        env.globals["web_vitals"] = self._helper()
        return env

    def _helper(self) -> Callable[..., Markup]:
        @pass_context
        def web_vitals(context: Context, route: str | None = None) -> Markup:
            request = context.get("request")
            return self.script(route, scope=getattr(request, "scope", None))

        return web_vitals
