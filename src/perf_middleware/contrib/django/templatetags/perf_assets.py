"""``{% load perf_assets %}``: the template helpers of ``perf_middleware.templating`` as
Django tags.

``{% asset_url "img/logo.svg" %}``, ``{% stylesheet "css/app.css" %}``,
``{% script "js/app.js" %}``, ``{% picture "img/hero.jpg" alt="Hero" sizes="100vw" %}``,
``{% preload_links "css/app.css" "js/app.js" %}``. Keyword arguments are the helpers'
(``media=``, ``module=``, ``priority=True`` …); others become HTML attributes
(``class_="hero"``). With the ``request`` context processor on, every name a tag renders is
noted on the request, so ``PreloadHints`` can announce its dependencies.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django import template
from markupsafe import Markup

from perf_middleware.contrib.django.assets import get_assets
from perf_middleware.templating.preload import PRELOAD_SCOPE_KEY

register = template.Library()


def _record(context: template.Context, *names: str) -> None:
    """Note the rendered names on the ASGI scope of the request being answered."""
    scope = getattr(context.get("request"), "scope", None)
    if not isinstance(scope, MutableMapping):
        return
    used = scope.setdefault(PRELOAD_SCOPE_KEY, [])
    if isinstance(used, list):
        used.extend(name for name in names if name not in used)


@register.simple_tag(takes_context=True)
def asset_url(context: template.Context, name: str) -> str:
    _record(context, name)
    return get_assets().url(name)


@register.simple_tag(takes_context=True)
def stylesheet(context: template.Context, name: str, **attrs: Any) -> Markup:
    _record(context, name)
    return get_assets().stylesheet(name, **attrs)


@register.simple_tag(takes_context=True)
def script(context: template.Context, name: str, **attrs: Any) -> Markup:
    _record(context, name)
    return get_assets().script(name, **attrs)


@register.simple_tag(takes_context=True)
def picture(context: template.Context, name: str, **attrs: Any) -> Markup:
    _record(context, name)
    return get_assets().picture(name, **attrs)


@register.simple_tag(takes_context=True)
def preload_links(context: template.Context, *names: str) -> Markup:
    _record(context, *names)
    return get_assets().preload_links(*names)
