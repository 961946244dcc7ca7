"""The ASGI callable types and raw header lists, defined once for every module of the runtime.

The header aliases live in ``http.headers`` (``http`` imports nothing else of the project) and
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from perf_middleware.http.headers import MutableRawHeaders, RawHeaders

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = [
    "ASGIApp",
    "Message",
    "MutableRawHeaders",
    "RawHeaders",
    "Receive",
    "Scope",
    "Send",
]
