"""Preload hints: which files a page needs early, as ``Link`` headers and ``103 Early Hints``.

A browser only discovers a stylesheet's fonts after downloading and parsing the CSS, and a
module's imports after parsing the module. The manifest already knows both (each entry's
``dependencies``), so the server can announce them with the HTML response — or, with
``103 Early Hints``, before the application has even produced it.

``PreloadHints`` is the response hook. The page entries of a response come from a static
``pages`` map (path -> names), from ``layout`` (what every page's base template uses) and
from what the template helpers rendered for this request (``Assets.install`` records them
on the scope). 103s need the list *before* the app runs: ``layout`` and ``pages`` are known
from the first request on, and the hook remembers the last list per path (bounded), like
CDNs that cache a page's Link headers for their Early Hints. Early hints are sent only when
the server offers the ASGI ``http.response.early_hint`` extension (RFC 8297), and only for
requests that ask for HTML; otherwise the final ``Link`` header still helps.

Placed inside ``PerformanceMiddleware``, the hook runs on every response cache miss (first
visit, after an invalidation, uncached pages), which is when the app makes the browser
wait; a cache hit answers at once, and its stored ``Link`` header does the rest.
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
    """One file to preload; renders as an HTML ``<link>`` or a ``Link`` header member.

    A preload is only reused when its request matches the one the page makes later
    (Fetch, "preload" matching: destination, CORS mode and credentials, integrity), so
    ``crossorigin`` and ``integrity`` are exactly what the matching tag carries; an ES
    module gets ``rel=modulepreload`` (HTML, "modulepreload"), which also parses it.
    """

    url: str
    as_: str  # "style" | "script" | "font"
    type: str | None = None
    crossorigin: str | None = None
    integrity: str | None = None
    module: bool = False

    @property
    def rel(self) -> str:
        return "modulepreload" if self.module else "preload"

    def html(self) -> str:
        attrs: list[tuple[str, str | None]] = [("rel", self.rel), ("href", self.url)]
        attrs += [("as", None if self.module else self.as_), ("type", self.type)]
        attrs += [("crossorigin", self.crossorigin), ("integrity", self.integrity)]
        return "<link" + "".join(f' {k}="{escape(v)}"' for k, v in attrs if v) + ">"

    def header(self) -> str:
        url = self.url.replace(">", "%3E").replace(" ", "%20")
        parts = [f"<{url}>", f"rel={self.rel}"]
        if not self.module:
            parts.append(f"as={self.as_}")
        if self.type:
            parts.append(f'type="{self.type}"')
        if self.crossorigin == "anonymous":
            parts.append("crossorigin")
        elif self.crossorigin:
            parts.append(f"crossorigin={self.crossorigin}")
        if self.integrity:
            parts.append(f'integrity="{self.integrity}"')
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
    module_scripts: bool | None = None,
) -> list[PreloadLink]:
    """Styles, fonts and scripts that ``names`` need, transitively, each once.

    Each link carries what the tag or fetch that will use it carries: stylesheets and
    scripts the helpers' ``crossorigin`` and SRI; fonts, fetched by CSS in CORS mode and
    without integrity, ``crossorigin`` and no SRI. Scripts are modules when the manifest
    says so (``module_scripts`` overrides it for every script).
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
        font = kind == "font"
        module = kind == "script" and (entry.module if module_scripts is None else module_scripts)
        links.append(
            PreloadLink(
                url=url_for(entry.path),
                as_=kind,
                type=entry.content_type if font else None,
                crossorigin=(crossorigin or "anonymous") if font else crossorigin,
                integrity=entry.integrity if integrity and not font else None,
                module=module,
            )
        )
    links.sort(key=lambda link: _ORDER[link.as_])
    return links


def _wants_html(scope: Scope) -> bool:
    """A navigation or a request accepting HTML: the requests a page answers."""
    for key, value in scope.get("headers", ()):
        if key == b"sec-fetch-dest":
            return bool(value == b"document")
        if key == b"accept" and b"text/html" in value.lower():
            return True
    return False


class _LinkSource(Protocol):
    def preloads(self, *names: str, include_self: bool = True) -> list[PreloadLink]: ...


@checked()
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PreloadConfig:
    """Options of ``PreloadHints`` (keyword-only; defaults documented inline)."""

    #: Request path -> page entry names, for pages known up front (``{"/": ["js/app.js"]}``).
    pages: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    #: Entry names every HTML page uses (the base template's stylesheet and script): hinted
    #: early on every page request, the first one included.
    layout: Sequence[str] = ()
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
        configured = tuple(self.config.layout) + tuple(self.config.pages.get(path, ()))
        if (
            self.config.early_hints
            and _EARLY_HINT in scope.get("extensions", {})
            and _wants_html(scope)
        ):
            early = configured + self.learned.get(path, ())
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
        if self.config.learn and path not in self.config.pages and len(names) > len(configured):
            self.learned[path] = tuple(names)
            self.learned.move_to_end(path)
            while len(self.learned) > self.config.max_learned_paths:
                self.learned.popitem(last=False)
        links = self.links_for(names)
        if links:
            value = ", ".join(link.header() for link in links)
            headers.append((b"link", value.encode("latin-1")))
            message["headers"] = headers
