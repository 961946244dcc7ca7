"""Headless Debian Chromium driven by Playwright (never a downloaded browser build)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_context(chromium: Any, wait_ms: int, **options: Any) -> Iterator[Any]:
    """A new context of ``chromium`` (``options`` as ``Browser.new_context`` takes them,
    e.g. ``service_workers="block"``) waiting up to ``wait_ms`` by default, closed after
    use: the body of a pytest fixture (``yield from``)."""
    context = chromium.new_context(**options)
    context.set_default_timeout(wait_ms)
    try:
        yield context
    finally:
        context.close()
