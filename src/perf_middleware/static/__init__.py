"""``StaticAssets``: serve an ``asset-pipeline`` build from its manifest.

Everything is decided at start-up (see ``static.files``): a request costs one dict lookup,
one pass over the request headers, cached negotiation results and one ``send`` of
precomputed headers plus in-memory bytes. Large files are read in big chunks, or handed to
the server with ``http.response.pathsend`` when it offers that extension (granian does).

Selection order for a URL: image format (``Accept``, only for image alternates the client
names explicitly) -> content coding (``Accept-Encoding``, smallest acceptable sibling) ->
preconditions against the *selected* representation's validator -> ``Range`` on an
uncompressed representation. A request with a ``Range`` header gets an uncompressed
representation, so byte offsets mean what media players and download managers expect.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from asset_pipeline.manifest import MANIFEST_NAME, ManifestError, load_manifest
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.ranges import (
    UNSATISFIABLE,
    ByteRange,
    if_range_allows,
    parse_range,
    unsatisfied_content_range,
)
from perf_middleware.options import check_value, with_options
from perf_middleware.static.config import StaticConfig
from perf_middleware.static.development import ENV_FLAG, SourceTree, development_allowed
from perf_middleware.static.files import StaticFile
from perf_middleware.static.request import StaticRequest, select
from perf_middleware.static.send import (
    NOT_ALLOWED_HEADERS,
    NOT_FOUND_HEADERS,
    not_http,
    send_file,
    send_partial,
    send_simple,
)
from perf_middleware.static.table import build_table
from perf_middleware.types import Receive, Scope, Send

__all__ = ["StaticAssets", "StaticConfig"]

logger = logging.getLogger("perf_middleware.static")


_PATHSEND = "http.response.pathsend"


def _normalize_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or any(ch in prefix for ch in "?#\\\x00"):
        raise ValueError(
            f"StaticAssets prefix {prefix!r} is not a URL path. HINT: use a path like '/static'."
        )
    prefix = "/" + prefix.strip("/")
    return "" if prefix == "/" else prefix


class StaticAssets:
    """ASGI app serving a build directory; ``prefix`` is the URL path it answers under.

    ``StaticAssets("dist", prefix="/static", serve_logical_names=True)``; every option is a
    field of ``StaticConfig`` (pass ``config=`` to reuse one). Raises ``ManifestError`` at
    construction when the directory has no valid manifest.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        prefix: str = "/static",
        config: StaticConfig | None = None,
        **options: Any,
    ) -> None:
        check_value("StaticAssets", "prefix", prefix, "str", hint='prefix="/static"')
        base = with_options("StaticAssets", StaticConfig, config, options, own=("prefix",))
        self.config = dataclasses.replace(base, prefix=_normalize_prefix(prefix))
        self.prefix = self.config.prefix
        self.directory = Path(directory)
        self._manifest_path = self.directory / MANIFEST_NAME
        self._stamp = self._manifest_stamp()
        #: the unbuilt tree served in development mode (see ``static.development``), or None
        self.source_tree: SourceTree | None = None
        self.files: dict[str, StaticFile] = {}
        if self.config.development and development_allowed():
            self.source_tree = SourceTree(self.directory, self.config)
            logger.warning(
                "static DEVELOPMENT mode directory=%s: unbuilt files, revalidated on every "
                "use; never deploy this (unset %s)", self.directory, ENV_FLAG,
            )  # fmt: skip
            return
        if self.config.development:
            logger.warning(
                "StaticAssets(development=True) ignored: %s is not set in the environment, "
                "so the build in %s is served as in production", ENV_FLAG, self.directory,
            )  # fmt: skip
        try:
            self.files = build_table(self.directory, self.config)
        except ManifestError as exc:
            if self._manifest_path.exists():
                raise
            raise ManifestError(
                f"{exc} To serve an unbuilt source directory while developing, pass "
                f"StaticAssets({str(directory)!r}, development=True) and set {ENV_FLAG}=1 in "
                "the environment of the development server."
            ) from None
        self._check_url_prefix()

    def _check_url_prefix(self) -> None:
        """Warn when the build was made for another URL prefix: the root-relative URLs it
        wrote into CSS and JS (``url(/static/img/a.png)``) would then 404 here."""
        try:
            built_for = load_manifest(self.directory).url_prefix
        except ManifestError:  # pragma: no cover - build_table just read it
            return
        here = (self.prefix or "") + "/"
        if built_for == here or built_for.endswith(here):  # equal, or under a proxy path
            return
        logger.warning(
            "StaticAssets(prefix=%r) serves %s, built with url_prefix=%r: the root-relative "
            "URLs the build wrote into CSS/JS point under %s and will 404. HINT: "
            "StaticAssets(..., prefix=%r), or rebuild with --url-prefix %s",
            self.prefix, self.directory, built_for, built_for, built_for.rstrip("/"), here,
        )  # fmt: skip

    def _manifest_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self._manifest_path)
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        stamp = self._manifest_stamp()
        if stamp == self._stamp:
            return
        try:
            self.files = build_table(self.directory, self.config)
        except (ManifestError, OSError) as exc:  # mid-write: keep serving the old build
            logger.warning("static reload failed, keeping previous build error=%s", exc)
            return
        self._stamp = stamp
        logger.info("static reloaded manifest=%s", self._manifest_path)

    def relative_path(self, scope: Scope) -> str | None:
        """The path below the prefix (``css/app.3f2a.css``), or None if outside it.

        Works both behind ``PerformanceMiddleware`` (full path) and mounted (Starlette's
        ``Mount`` puts the mount point in ``root_path``).
        """
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        prefix = self.prefix
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
        if root and root.rstrip("/").endswith(prefix) and path.startswith("/"):
            return path[1:]
        return None

    def lookup(self, scope: Scope) -> StaticFile | None:
        """The file a request addresses, or None (callers may fall through to their app)."""
        if self.config.autorefresh and self.source_tree is None:
            self._refresh()
        rel = self.relative_path(scope)
        if rel is None:
            return None
        if self.source_tree is not None:
            return self.source_tree.lookup(rel)
        return self.files.get(rel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            await not_http(kind, receive, send)
            return
        file = self.lookup(scope)
        if file is None:
            await send_simple(send, 404, NOT_FOUND_HEADERS, b"Not Found")
            return
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await send_simple(send, 405, NOT_ALLOWED_HEADERS, b"Method Not Allowed")
            return
        await self.serve(scope, send, file)

    async def serve(self, scope: Scope, send: Send, file: StaticFile) -> None:
        """Answer a GET/HEAD for ``file``, for callers that did their own ``lookup``."""
        request = StaticRequest(scope["headers"])
        rep = select(file, request)
        head = scope["method"] == "HEAD"
        inm = request.if_none_match
        if (
            inm is not None
            and inm == rep.etag_bytes
            and request.if_match is None
            and request.if_unmodified_since is None
        ):
            await send_simple(send, 304, rep.not_modified_headers, b"")
            return
        if (
            inm is not None
            or request.if_modified_since is not None
            or request.if_match is not None
            or request.if_unmodified_since is not None
        ):
            outcome = evaluate_conditional(
                scope["method"],
                if_match=request.if_match,
                if_none_match=inm,
                if_modified_since=request.if_modified_since,
                if_unmodified_since=request.if_unmodified_since,
                etag=rep.etag,
                last_modified=rep.last_modified,
            )
            if outcome is Precondition.NOT_MODIFIED:
                await send_simple(send, 304, rep.not_modified_headers, b"")
                return
            if outcome is Precondition.FAILED:
                await send_simple(
                    send, 412, [(b"content-length", b"0"), *rep.not_modified_headers], b""
                )
                return
        if (
            request.range is not None
            and rep.coding == "identity"
            and if_range_allows(request.if_range, etag=rep.etag, last_modified=rep.last_modified)
        ):
            span = parse_range(request.range, rep.size)
            if span is UNSATISFIABLE:
                headers = [
                    (b"content-range", unsatisfied_content_range(rep.size).encode()),
                    (b"content-length", b"0"),
                    *rep.not_modified_headers,
                ]
                await send_simple(send, 416, headers, b"")
                return
            if isinstance(span, ByteRange) and span.length < rep.size:
                await send_partial(send, rep, span, head=head, chunk_size=self.config.chunk_size)
                return
        if head or (rep.body is not None and rep.size < self.config.pathsend_min_size):
            await send({"type": "http.response.start", "status": 200, "headers": rep.headers})
            await send({"type": "http.response.body", "body": b"" if head else rep.body})
        elif _PATHSEND in scope.get("extensions", ()):
            await send({"type": "http.response.start", "status": 200, "headers": rep.headers})
            await send({"type": _PATHSEND, "path": rep.path})
        elif rep.body is not None:
            await send({"type": "http.response.start", "status": 200, "headers": rep.headers})
            await send({"type": "http.response.body", "body": rep.body})
        else:
            await send_file(send, rep, 200, rep.headers, 0, rep.size, self.config.chunk_size)
