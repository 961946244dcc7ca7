"""Request/response plumbing of the admin API: bounded body reading, JSON validation of
``POST /invalidate`` and the few response shapes the API sends.

Validation is strict on purpose (unknown fields are an error, not ignored): an operator who
typos ``"tag"`` for ``"tags"`` must hear about it instead of purging nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from perf_middleware.cache.backends.base import compile_pattern
from perf_middleware.cache.keys import (
    key_target,
)
from perf_middleware.types import Message, Receive, Scope, Send

__all__ = [
    "BodyError",
    "InvalidateSpec",
    "empty_response",
    "entry_info_dict",
    "json_response",
    "parse_invalidate",
    "read_body",
    "read_bounded",
    "send_response",
    "without_body",
]


#: Limits on one ``POST /invalidate``: items per list and characters per item.
MAX_ITEMS: Final = 1000
MAX_ITEM_LENGTH: Final = 2048
INVALIDATE_FIELDS: Final = ("all", "patterns", "tags", "urls")

_COMMON_HEADERS: Final = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]


class BodyError(Exception):
    """A request body the API refuses; ``status`` is 400, 413, 415 or 422."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InvalidateSpec:
    all: bool
    urls: tuple[str, ...]
    tags: tuple[str, ...]
    patterns: tuple[str, ...]


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [*_COMMON_HEADERS, (b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def json_response(
    send: Send, status: int, data: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    await send_response(send, status, body, b"application/json", extra)


async def empty_response(
    send: Send, status: int, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Refusals (401/403/404-when-disabled) carry no detail by design."""
    await send_response(send, status, b"", None, extra)


async def read_body(scope: Scope, receive: Receive, max_body: int) -> bytes:
    """The whole JSON request body, refused early when it is too large or not JSON."""
    headers = dict(scope.get("headers", ()))
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if content_type != b"application/json" and not content_type.endswith(b"+json"):
        raise BodyError(
            415,
            "Content-Type must be application/json. HINT: send the body with "
            "-H 'Content-Type: application/json'",
        )
    length = headers.get(b"content-length")
    if length is not None and length.isdigit() and int(length) > max_body:
        raise BodyError(413, f"body larger than {max_body} bytes. HINT: split the request")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError(400, "client disconnected before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise BodyError(413, f"body larger than {max_body} bytes. HINT: split the request")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_bounded(length: bytes | None, receive: Receive, limit: int) -> bytes | None:
    """A small public body (beacon, login form), or None once it is known to exceed
    ``limit`` (declared or read); a client that disconnects mid-body yields what arrived,
    which then fails validation."""
    if length is not None and (not length.isdigit() or int(length) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _string_list(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise BodyError(
            422, f"field {name!r} must be a list of strings, got {type(value).__name__}"
        )
    if len(value) > MAX_ITEMS:
        raise BodyError(422, f"field {name!r} has {len(value)} items; at most {MAX_ITEMS} allowed")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise BodyError(422, f"{name}[{index}] must be a non-empty string")
        if not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BodyError(422, f"{name}[{index}] contains a lone surrogate") from None
        if len(item) > MAX_ITEM_LENGTH:
            raise BodyError(422, f"{name}[{index}] is longer than {MAX_ITEM_LENGTH} characters")
    return tuple(dict.fromkeys(value))  # de-duplicate, keep order


def parse_invalidate(body: bytes) -> InvalidateSpec:
    """Validate ``{"tags": [...], "patterns": [...], "urls": [...], "all": false}``."""
    if not body.strip():
        raise BodyError(400, 'empty body. HINT: send a JSON object such as {"tags": ["t"]}')
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BodyError(400, f"body is not valid JSON: {reason}") from None
    if not isinstance(data, dict):
        raise BodyError(422, f"body must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(INVALIDATE_FIELDS))
    if unknown:
        raise BodyError(
            422, f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {INVALIDATE_FIELDS}"
        )
    clear = data.get("all", False)
    if not isinstance(clear, bool):
        raise BodyError(422, "field 'all' must be true or false")
    spec = InvalidateSpec(
        all=clear,
        urls=_string_list(data, "urls"),
        tags=_string_list(data, "tags"),
        # keys hold paths as sent (percent-encoded): ``/café/*`` is ``/caf%C3%A9/*`` there
        patterns=tuple(
            key_target(p) if p.startswith("/") else p for p in _string_list(data, "patterns")
        ),
    )
    for index, pattern in enumerate(spec.patterns):
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            raise BodyError(422, f"patterns[{index}]: {exc}") from None
    if not (spec.all or spec.urls or spec.tags or spec.patterns):
        raise BodyError(422, "nothing to invalidate. HINT: give tags, patterns, urls or all=true")
    return spec


def without_body(send: Send) -> Send:
    """``send`` for HEAD: the GET response's headers (Content-Length included), no body."""

    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send


def entry_info_dict(info: Any) -> dict[str, Any]:
    """Entry metadata only: bodies are never exposed, private or not."""
    return {
        "key": info.key,
        "url": info.url,
        "status": info.status,
        "stored_at": info.stored_at,
        "age": round(info.age, 3),
        "ttl": round(info.ttl, 3),
        "size": info.size,
        "tags": list(info.tags),
        "variants": list(info.variants),
        "vary": list(info.vary),
    }
