"""The operator dashboard: ``GET <prefix>/`` (live page), ``/dashboard.json`` (its data) and
``/report`` (the same as one self-contained HTML file to attach to a ticket).

The page is static HTML around the data; ``dashboard.js`` draws it, with uPlot for the time
series, and refreshes from ``dashboard.json``. Its assets are the package's own
``asset-pipeline`` build (``admin/web/dist``), served fingerprinted and precompressed by
``StaticAssets`` under ``<prefix>/assets``; the report inlines the same files instead.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping
from typing import Any, Final

from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from perf_middleware.admin.web import WEB_DIST, web_manifest
from perf_middleware.metrics.counters import Metrics
from perf_middleware.metrics.history import History

__all__ = [
    "LOGIN_HEADERS",
    "build_summary",
    "dashboard_data",
    "largest_entries",
    "render_login",
    "render_page",
    "render_report",
]

#: Entries listed in "largest cached entries".
LARGEST: Final = 10

_PANELS: Final = (
    ("hit-ratio", "Cache hit ratio over time", "Share of lookups answered from the cache per "
     "interval (hit + stale); grey: requests per second.", False),
    ("latency", "Response-time percentiles", "p50 / p95 / p99 per interval, from the "
     "response-time histogram (time to the last byte).", False),
    ("outcomes", "Cache outcomes", "Hits, stale serves, misses and bypasses by reason, and "
     "what the cache did (stores, evictions ...) since start.", False),
    ("compression", "Bytes saved by compression", "On-the-fly compression per encoding.",
     False),
    ("vitals", "Web Vitals per route (p75)", "Real-user page loads from the beacon, per route "
     "template and how the navigation was served; a full bar is the metric's 'poor' "
     "threshold (web.dev).", True),
    ("largest", "Largest cached entries", "Stored responses by size (all their variants).",
     False),
    ("build", "Asset build", "The manifest StaticAssets serves: files and bytes before and "
     "after precompression.", False),
)  # fmt: skip

_PAGE_CSP: Final = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_REPORT_CSP: Final = (
    b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    b"img-src data:; base-uri 'none'"
)
PAGE_HEADERS: Final = [(b"content-security-policy", _PAGE_CSP)]
LOGIN_HEADERS: Final = [
    (b"content-security-policy", _PAGE_CSP),
    (b"www-authenticate", b'Bearer realm="perf-admin"'),
]
REPORT_HEADERS: Final = [(b"content-security-policy", _REPORT_CSP)]


def build_summary(manifest: Manifest) -> dict[str, Any]:
    """Files, bytes as built and as sent to a client taking the smallest precompressed
    sibling, per content type, and the image renditions the build made."""
    by_type: dict[str, dict[str, int]] = {}
    formats: dict[str, int] = {}
    total = smallest_total = 0
    for entry in manifest.files.values():
        smallest = min([entry.size, *(v.size for v in entry.encodings.values())])
        kind = entry.content_type.split(";", 1)[0].strip()
        row = by_type.setdefault(kind, {"files": 0, "bytes": 0, "smallest_bytes": 0})
        row["files"] += 1
        row["bytes"] += entry.size
        row["smallest_bytes"] += smallest
        total += entry.size
        smallest_total += smallest
        for alternate in entry.alternates:
            formats[alternate.format] = formats.get(alternate.format, 0) + 1
    return {
        "build_id": manifest.build_id,
        "files": len(manifest.files),
        "bytes": total,
        "smallest_bytes": smallest_total,
        "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]["bytes"])),
        "image_formats": dict(sorted(formats.items())),
    }


async def largest_entries(cache: Any) -> list[dict[str, Any]] | None:
    """The biggest stored responses, or None when the backend cannot list them."""
    lister = getattr(cache, "largest_entries", None)
    if lister is None:
        return None
    infos = await lister(LARGEST)
    return [
        {"url": i.url, "size": i.size, "status": i.status, "ttl": i.ttl, "variants": i.variants}
        for i in infos
    ]


def _static_summary(static: Any) -> dict[str, Any] | None:
    directory = getattr(static, "directory", None)
    if directory is None:
        return None
    try:
        return build_summary(load_manifest(directory / MANIFEST_NAME))
    except (OSError, ManifestError):
        return None


async def dashboard_data(
    metrics: Metrics, history: History, cache: Any, static: Any
) -> dict[str, Any]:
    """Everything the page draws, as JSON-able data."""
    try:
        largest = await largest_entries(cache) if cache is not None else []
    except Exception:  # a backend outage must not take the dashboard down
        largest = None
    return {
        "generated_at": time.time(),
        "metrics": metrics.to_json(),
        "latency_bounds": list(metrics.config.latency_buckets),
        "history_interval": history.interval,
        "history": history.as_list(),
        "largest": largest,
        "build": _static_summary(static),
    }


def _json_for_script(data: Mapping[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, ``<!--``)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _body(data: Mapping[str, Any], source: str | None) -> str:
    panels = "".join(
        f'<section class="panel{" wide" if wide else ""}" data-panel="{pid}"><h2>{title}</h2>'
        f'<p class="note">{note}</p><div class="body"></div></section>'
        for pid, title, note, wide in _PANELS
    )
    live = f' data-source="{html.escape(source)}" data-refresh="5000"' if source else ""
    return (
        f'<script type="application/json" id="perf-data">{_json_for_script(data)}</script>'
        f'<div id="dashboard"{live}><header class="top"><h1>perf-middleware</h1>'
        f'<span class="meta"></span></header><main class="grid">{panels}</main></div>'
    )


def _head(title: str, extra: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>{extra}'
        "</head><body>"
    )


def render_page(data: Mapping[str, Any], prefix: str) -> bytes:
    """The live dashboard: fingerprinted assets from ``<prefix>/assets``, refreshing."""
    manifest = web_manifest()

    def url(name: str) -> str:
        return f"{prefix}/assets/{manifest[name].path}"

    def sri(name: str) -> str:
        return html.escape(manifest[name].integrity)

    head = (
        f'<link rel="stylesheet" href="{url("vendor/uPlot.min.css")}" '
        f'integrity="{sri("vendor/uPlot.min.css")}">'
        f'<link rel="stylesheet" href="{url("dashboard.css")}" integrity="{sri("dashboard.css")}">'
        f'<script defer src="{url("vendor/uPlot.iife.min.js")}" '
        f'integrity="{sri("vendor/uPlot.iife.min.js")}"></script>'
        f'<script type="module" src="{url("dashboard.js")}" '
        f'integrity="{sri("dashboard.js")}"></script>'
    )
    body = _body(data, f"{prefix}/dashboard.json")
    return (_head("perf-middleware dashboard", head) + body + "</body></html>").encode()


def render_login(prefix: str, error: str | None = None) -> bytes:
    """The form a browser gets instead of the dashboard without a session (the token is
    posted to ``<prefix>/login``, which sets the session cookie)."""
    css = f"{prefix}/assets/{web_manifest()['dashboard.css'].path}"
    message = f'<p class="note">{html.escape(error)}</p>' if error else ""
    body = (
        '<div id="dashboard"><header class="top"><h1>perf-middleware</h1></header>'
        '<main class="grid"><section class="panel"><h2>Admin token</h2>'
        f'{message}<form method="post" action="{html.escape(prefix)}/login">'
        '<input type="password" name="token" autocomplete="current-password" required '
        'aria-label="Admin token"> <button type="submit">Open the dashboard</button>'
        "</form></section></main></div>"
    )
    head = f'<link rel="stylesheet" href="{css}">'
    return (_head("perf-middleware: sign in", head) + body + "</body></html>").encode()


def _inline(name: str) -> str:
    text = (WEB_DIST / web_manifest()[name].path).read_text(encoding="utf-8")
    return text.replace("</", "<\\/")


def render_report(data: Mapping[str, Any]) -> bytes:
    """The dashboard as of now, in one file: styles, uPlot, the drawing code and the data
    inlined, nothing fetched, no refresh."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(data["generated_at"]))
    head = (
        f"<style>{_inline('vendor/uPlot.min.css')}</style>"
        f"<style>{_inline('dashboard.css')}</style>"
        f"<script>{_inline('vendor/uPlot.iife.min.js')}</script>"
    )
    body = _body(data, None) + f'<script type="module">{_inline("dashboard.js")}</script>'
    title = f"perf-middleware report {stamp}"
    return (_head(title, head) + body + "</body></html>").encode()
