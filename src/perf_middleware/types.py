"""The ASGI callable types, raw header lists and mounted-app protocols, defined once for every
module of the runtime.

The header aliases live in ``http.headers`` (``http`` imports nothing else of the project) and
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from perf_middleware.http.headers import MutableRawHeaders, RawHeaders

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PrefixedApp(Protocol):
    """An ASGI app answering every path under its ``prefix`` (``StaticAssets``)."""

    @property
    def prefix(self) -> str: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class MatchingApp(Protocol):
    """An ASGI app that says itself which paths it answers."""

    def matches(self, path: str) -> bool: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


#: What ``PerformanceMiddleware(static=...)`` mounts in front of the pipeline.
MountedApp = PrefixedApp | MatchingApp

__all__ = [
    "ASGIApp",
    "MatchingApp",
    "Message",
    "MountedApp",
    "MutableRawHeaders",
    "PrefixedApp",
    "RawHeaders",
    "Receive",
    "Scope",
    "Send",
]
