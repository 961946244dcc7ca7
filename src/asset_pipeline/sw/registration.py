"""How pages register the worker: ``register.js``, as a fingerprinted file the build
writes (for a Content-Security-Policy without inline scripts) or as an inline snippet
(with a ``nonce`` for policies that use one)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
from pathlib import Path

from blake3 import blake3

from asset_pipeline.manifest import SW_REGISTER_NAME, Manifest, ManifestEntry
from asset_pipeline.media_types import guess_type
from asset_pipeline.sw.precache import ServiceWorkerError
from asset_pipeline.sw.render import script_source


def _attrs(sw_url: str, scope: str, reload: bool) -> str:
    attrs = f' data-sw="{html.escape(sw_url)}" data-scope="{html.escape(scope)}"'
    return attrs + (" data-reload" if reload else "")


def registration_snippet(
    *,
    sw_url: str = "/sw.js",
    scope: str = "/",
    reload: bool = False,
    minify: bool = True,
    nonce: str | None = None,
) -> str:
    """An inline ``<script>`` that registers the worker (see ``register.js``): the
    page gets a ``sw:update-available`` event, or reloads by itself with ``reload``.

    Under ``script-src`` without ``'unsafe-inline'`` pass the response's CSP ``nonce``,
    or load the file the build writes instead (``SW_REGISTER_NAME`` in the manifest). A
    policy whose ``script-src`` is only a nonce also needs ``worker-src 'self'``: the
    worker script falls back to ``script-src`` (CSP 3 §6.1.6), and a nonce cannot match it."""
    source = script_source("register.js", minify)
    attrs = _attrs(sw_url, scope, reload)
    if nonce is not None:
        attrs += f' nonce="{html.escape(nonce)}"'
    safe = source.replace("</", "<\\/")
    return f"<script{attrs}>\n{safe}</script>"


def registration_hash(*, minify: bool = True) -> str:
    """The CSP source expression (``'sha256-…'``) allowing the inline snippet's body;
    it changes with ``minify`` and with whether rjsmin is installed, so compute it at
    start-up rather than copying it into a policy by hand."""
    body = "\n" + script_source("register.js", minify).replace("</", "<\\/")
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def write_registration_script(manifest: Manifest, out_dir: Path, *, minify: bool) -> Manifest:
    """Write ``sw-register.<hash>.js`` into the build and add it to the manifest (so it is
    served as immutable, precached with the other scripts, and found by templates)."""
    if SW_REGISTER_NAME in manifest.files:
        raise ServiceWorkerError(
            f"the source tree has a file named {SW_REGISTER_NAME!r}, the name the build gives "
            "the service-worker registration script. HINT: rename that file, or set "
            "registration_script = false in [tool.asset-pipeline.service-worker]."
        )
    data = script_source("register.js", minify).encode()
    digest = blake3(data).hexdigest()
    path = f"sw-register.{digest[:10]}.js"
    (out_dir / path).write_bytes(data)
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")
    entry = ManifestEntry(
        path=path,
        size=len(data),
        content_type=guess_type(path),
        hash=digest,
        integrity=sri,
        fingerprinted=True,
    )
    return dataclasses.replace(manifest, files={**manifest.files, SW_REGISTER_NAME: entry})
