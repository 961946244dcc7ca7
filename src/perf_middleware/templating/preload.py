"""Preload hints: which files a page needs early, as ``Link`` headers and ``103 Early Hints``.

A browser only discovers a stylesheet's fonts after downloading and parsing the CSS, and a
module's imports after parsing the module. The manifest already knows both (each entry's
``dependencies``), so the server can announce them with the HTML response — or, with
``103 Early Hints``, before the application has even produced it.

``PreloadHints`` is the response hook. The page entries of a response come from a static
``pages`` map (path -> names) and from what the template helpers rendered for this request
(``Assets.install`` records them on the scope). 103s need the list *before* the app runs, so
the hook remembers the last list per path (bounded), like CDNs that cache a page's Link
headers for their Early Hints. Early hints are sent only when the server offers the ASGI
``http.response.early_hint`` extension; otherwise the final ``Link`` header still helps.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from markupsafe import escape

from asset_pipeline.manifest import Manifest, ManifestEntry
from perf_middleware.options import checked, describe, with_options
from perf_middleware.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "PRELOAD_SCOPE_KEY",
    "PreloadConfig",
    "PreloadHints",
    "PreloadLink",
    "collect_preloads",
    "preload_kind",
]

#: Scope key under which template helpers list the asset names a response used.
PRELOAD_SCOPE_KEY = "perf_middleware.preload"
_EARLY_HINT = "http.response.early_hint"


_ORDER = {"style": 0, "font": 1, "script": 2}


@dataclasses.dataclass(frozen=True, slots=True)
class PreloadLink:
    """One file to preload; renders as an HTML ``<link>`` or a ``Link`` header member."""

    url: str
    as_: str  # "style" | "script" | "font"
    type: str | None = None
    crossorigin: str | None = None
    integrity: str | None = None

    def html(self) -> str:
        attrs = [("rel", "preload"), ("href", self.url), ("as", self.as_), ("type", self.type)]
        attrs += [("crossorigin", self.crossorigin), ("integrity", self.integrity)]
        return "<link" + "".join(f' {k}="{escape(v)}"' for k, v in attrs if v) + ">"

    def header(self) -> str:
        url = self.url.replace(">", "%3E").replace(" ", "%20")
        parts = [f"<{url}>", "rel=preload", f"as={self.as_}"]
        if self.type:
            parts.append(f'type="{self.type}"')
        if self.crossorigin == "anonymous":
            parts.append("crossorigin")
        elif self.crossorigin:
            parts.append(f"crossorigin={self.crossorigin}")
        return "; ".join(parts)


def preload_kind(content_type: str) -> str | None:
    """The ``as`` destination worth preloading for a media type, or None."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "text/css":
        return "style"
    if base in ("text/javascript", "application/javascript", "application/x-javascript"):
        return "script"
    if base.startswith("font/") or base in ("application/font-woff", "application/font-woff2"):
        return "font"
    return None


def collect_preloads(
    manifest: Manifest,
    names: Iterable[str],
    *,
    url_for: Callable[[str], str],
    crossorigin: str | None = None,
    integrity: bool = True,
    include_self: bool = True,
    module_scripts: bool = True,
) -> list[PreloadLink]:
    """Styles, fonts and scripts that ``names`` need, transitively, each once.

    Fonts always carry ``crossorigin`` (fonts are fetched in CORS mode, and a preload
    without it is fetched twice); so do scripts when they are ES modules.
    """
    seen: set[str] = set()
    found: list[tuple[str, ManifestEntry]] = []

    def visit(name: str, is_root: bool) -> None:
        if name in seen:
            return
        seen.add(name)
        entry = manifest.get(name)
        if entry is None:
            return
        if include_self or not is_root:
            found.append((name, entry))
        for dep in entry.dependencies:
            visit(dep, False)

    for name in names:
        visit(name, True)
    links: list[PreloadLink] = []
    for _, entry in found:
        kind = preload_kind(entry.content_type)
        if kind is None:
            continue
        cors = crossorigin
        if kind == "font" or (kind == "script" and module_scripts):
            cors = crossorigin or "anonymous"
        links.append(
            PreloadLink(
                url=url_for(entry.path),
                as_=kind,
                type=entry.content_type if kind == "font" else None,
                crossorigin=cors,
                integrity=entry.integrity if integrity else None,
            )
        )
    links.sort(key=lambda link: _ORDER[link.as_])
    return links


class _LinkSource(Protocol):
    def preloads(self, *names: str, include_self: bool = True) -> list[PreloadLink]: ...


@checked()
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PreloadConfig:
    """Options of ``PreloadHints`` (keyword-only; defaults documented inline)."""

    #: Request path -> page entry names, for pages known up front (``{"/": ["js/app.js"]}``).
    pages: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    #: Send ``103 Early Hints`` when the server supports the ASGI extension.
    early_hints: bool = True
    #: Remember each path's last hint list to send it early next time.
    learn: bool = True
    #: Paths remembered (least recently used dropped first).
    max_learned_paths: int = 1024
    #: At most this many links per response (the first, most critical ones).
    max_links: int = 16


class PreloadHints:
    """ASGI wrapper adding ``Link: <…>; rel=preload`` to HTML responses, plus 103s."""

    def __init__(
        self,
        app: ASGIApp,
        assets: _LinkSource,
        *,
        config: PreloadConfig | None = None,
        **options: Any,
    ) -> None:
        if not callable(app):
            raise TypeError(
                f"PreloadHints(app=...) must be an ASGI app, got {describe(app)}. "
                "HINT: PreloadHints(app, assets) wraps the application object."
            )
        self.config = with_options("PreloadHints", PreloadConfig, config, options)
        self.app = app
        self.assets = assets
        self.learned: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def links_for(self, names: Sequence[str]) -> list[PreloadLink]:
        return self.assets.preloads(*names)[: self.config.max_links]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        configured = tuple(self.config.pages.get(path, ()))
        early = configured or self.learned.get(path, ())
        if early and self.config.early_hints and _EARLY_HINT in scope.get("extensions", {}):
            links = [link.header().encode("latin-1") for link in self.links_for(early)]
            if links:
                await send({"type": _EARLY_HINT, "links": links})
        hook = self

        async def send_with_links(message: Message) -> None:
            if message["type"] == "http.response.start":
                hook._add_links(scope, message, path, configured)
            await send(message)

        await self.app(scope, receive, send_with_links)

    def _add_links(
        self, scope: Scope, message: Message, path: str, configured: tuple[str, ...]
    ) -> None:
        status = int(message.get("status", 200))
        headers = list(message.get("headers", ()))
        content_type = b""
        for key, value in headers:
            if key.lower() == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        if not 200 <= status < 300 or content_type != b"text/html":
            return
        used = scope.get(PRELOAD_SCOPE_KEY)
        names = list(configured)
        if isinstance(used, list):
            names += [n for n in used if isinstance(n, str) and n not in names]
        if not names:
            return
        if self.config.learn and path not in self.config.pages:
            self.learned[path] = tuple(names)
            self.learned.move_to_end(path)
            while len(self.learned) > self.config.max_learned_paths:
                self.learned.popitem(last=False)
        links = self.links_for(names)
        if links:
            value = ", ".join(link.header() for link in links)
            headers.append((b"link", value.encode("latin-1")))
            message["headers"] = headers
