"""The ``<script>`` tag that loads the service-worker registration script.

The registration code is a file of the build (never inline), so a page served with
``script-src 'self'`` and ``require-trusted-types-for 'script'`` can run it; its options
travel as ``data-`` attributes, which the script reads from ``document.currentScript``.
It is deferred: the page renders first, and the script registers the worker only after
the ``load`` event.
"""

from __future__ import annotations

from perf_middleware.templating.picture import html_attrs


def registration_tag(
    src: str,
    *,
    sw_url: str,
    scope: str = "/",
    reload: bool = False,
    integrity: str | None = None,
    crossorigin: str | None = None,
    nonce: str | None = None,
) -> str:
    """``<script src defer data-sw data-scope [data-reload]>`` for the script at ``src``."""
    attrs = html_attrs(
        [
            ("src", src),
            ("defer", True),
            ("integrity", integrity),
            ("crossorigin", crossorigin),
            ("nonce", nonce),
            ("data-sw", sw_url),
            ("data-scope", scope),
            ("data-reload", reload),
        ]
    )
    return f"<script{attrs}></script>"
