"""The per-request response pipeline: policy -> ETag -> conditional -> compression.

``Responder.send`` wraps the app's ``send``. It holds ``http.response.start`` back until the
first body message, because only then is it known whether the body is complete (one message:
ETag, 304 and a one-shot compression are possible) or a stream (``more_body``: every chunk
is compressed and flushed as it arrives, never buffered).

The pieces are separate functions so a cache stage can reuse them: ``Capture`` receives the
identity response after policy and ETag (before conditional evaluation and compression), and
``not_modified_headers`` / ``would_compress`` rebuild what the pipeline would have sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from time import perf_counter
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from perf_middleware.compression import CompressionConfig, StreamEncoder, compressible_response
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dates import parse_http_date
from perf_middleware.http.etag import encoding_etag, make_etag
from perf_middleware.http.headers import (
    MutableRawHeaders,
    content_length,
    content_type,
    get_header,
)
from perf_middleware.http.vary import merge_vary
from perf_middleware.pipeline import Pipeline

if TYPE_CHECKING:
    from perf_middleware.observe import RequestObserver

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

# Fields a 304 carries (RFC 9110 §15.4.5): enough for a cache to refresh its stored response.
NOT_MODIFIED_KEEP = frozenset(
    {b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary"}
)

_HOLD, _STREAM, _PASS, _DROP, _DONE = range(5)


def not_modified_headers(headers: MutableRawHeaders) -> MutableRawHeaders:
    """The headers of the 304 answering a request for a response with ``headers``."""
    return [(k, v) for k, v in headers if k.lower() in NOT_MODIFIED_KEEP]


_FIELDS = {
    b"content-type": 0,
    b"content-encoding": 1,
    b"cache-control": 2,
    b"etag": 3,
    b"last-modified": 4,
    b"content-length": 5,
    b"vary": 6,
}
_CT, _CE, _CC, _ETAG, _LM, _CL, _VARY = range(7)


def scan(headers: MutableRawHeaders) -> list[bytes | None]:
    """One pass over response headers: the first value of each field the pipeline reads
    (Vary values joined). Indexes: ``_CT _CE _CC _ETAG _LM _CL _VARY``."""
    found: list[bytes | None] = [None, None, None, None, None, None, None]
    for key, value in headers:
        index = _FIELDS.get(key)
        if index is None:
            if key.islower():
                continue
            index = _FIELDS.get(key.lower())
            if index is None:
                continue
        prior = found[index]
        if prior is None:
            found[index] = value
        elif index == _VARY:
            found[index] = prior + b", " + value
    return found


@lru_cache(maxsize=256)
def media_type(value: bytes | None) -> str:
    """``text/HTML; charset=x`` -> ``text/html``; "" when absent."""
    if not value:
        return ""
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


def _length(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _compressible(config: CompressionConfig, status: int, found: list[bytes | None]) -> bool:
    return compressible_response(config, status, media_type(found[_CT]), found[_CE], found[_CC])


def would_compress(
    pipeline: Pipeline, status: int, headers: MutableRawHeaders, size: int | None
) -> bool:
    """Whether this response is subject to negotiation (it then varies on Accept-Encoding)."""
    config = pipeline.compression
    if config is None or (size is not None and size < config.minimum_size):
        return False
    return compressible_response(
        config,
        status,
        content_type(headers),
        get_header(headers, b"content-encoding"),
        get_header(headers, b"cache-control"),
    )


def _encoding_etag(value: bytes, coding: str) -> bytes:
    if value[:1] == b'"':  # the usual strong tag: weaken without a parse
        return b"W/" + value
    return encoding_etag(value.decode("latin-1"), coding).encode("latin-1")


def _vary_accept_encoding(existing: bytes | None) -> bytes:
    if existing is None:
        return b"Accept-Encoding"
    return merge_vary(existing, "Accept-Encoding").encode("latin-1")


def not_modified_from(
    headers: MutableRawHeaders, coding: str | None, *, vary: bool
) -> MutableRawHeaders:
    """One pass: the 304 headers for a response with ``headers`` that would have been sent
    with ``coding`` (ETag weakened for a real coding) and, if ``vary``, Vary: Accept-Encoding."""
    encoded = coding is not None and coding != "identity"
    out: MutableRawHeaders = []
    vary_value: bytes | None = None
    for key, value in headers:
        name = key if key.islower() else key.lower()
        if name not in NOT_MODIFIED_KEEP:
            continue
        if name == b"vary":
            vary_value = value if vary_value is None else vary_value + b", " + value
            continue
        if encoded and name == b"etag":
            assert coding is not None
            value = _encoding_etag(value, coding)
        out.append((key, value))
    if vary:
        out.append((b"vary", _vary_accept_encoding(vary_value)))
    elif vary_value is not None:
        out.append((b"vary", vary_value))
    return out


def mark_encoded(headers: MutableRawHeaders, coding: str | None, *, vary: bool = True) -> None:
    """Vary: Accept-Encoding merged once; for a real coding, Content-Encoding set, Content-Length
    dropped (the caller sets the new one) and a strong ETag weakened (``encoding_etag``)."""
    out: MutableRawHeaders = []
    vary_value: bytes | None = None
    for key, value in headers:
        name = key.lower()
        if name == b"vary":
            vary_value = value if vary_value is None else vary_value + b", " + value
            continue
        if coding is not None and coding != "identity":
            if name == b"content-length":
                continue
            if name == b"etag":
                value = _encoding_etag(value, coding)
        out.append((key, value))
    if vary:
        out.append((b"vary", _vary_accept_encoding(vary_value)))
    elif vary_value is not None:
        out.append((b"vary", vary_value))
    if coding is not None and coding != "identity":
        out.append((b"content-encoding", coding.encode("latin-1")))
    headers[:] = out


class Capture:
    """What the app answered, for a cache: status, headers after policy and ETag, the identity
    body (up to ``limit`` bytes; ``overflow`` once exceeded) and whether it completed."""

    __slots__ = ("body", "complete", "headers", "limit", "overflow", "status", "streamed")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.status = 0
        self.headers: MutableRawHeaders = []
        self.body = bytearray()
        self.complete = False
        self.overflow = False
        self.streamed = False

    def add(self, chunk: bytes) -> None:
        if self.overflow:
            return
        if len(self.body) + len(chunk) > self.limit:
            self.overflow = True
            self.body = bytearray()
        else:
            self.body += chunk


class Responder:
    """Per-request ``send`` wrapper. ``request`` values are the raw request header bytes."""

    __slots__ = (
        "_encoder",
        "_start",
        "_state",
        "accept_encoding",
        "capture",
        "conditions",
        "method",
        "observer",
        "path",
        "pipeline",
        "send",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        send: Send,
        method: str,
        path: str,
        accept_encoding: bytes | None,
        conditions: tuple[bytes | None, bytes | None, bytes | None, bytes | None] | None,
        capture: Capture | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.send = send
        self.method = method
        self.path = path
        self.accept_encoding = accept_encoding
        self.conditions = conditions  # If-Match, If-None-Match, If-Modified-Since, If-Unm-Since
        self.capture = capture
        self._start: Message | None = None
        self._state = _HOLD
        self._encoder: StreamEncoder | None = None
        # metrics/Server-Timing hook (set by PerformanceMiddleware.run_pipeline)
        self.observer: RequestObserver | None = None

    async def __call__(self, message: Message) -> None:
        state = self._state
        kind = message["type"]
        if kind == "http.response.start" and state == _HOLD:
            self._start = message
            return
        if kind != "http.response.body":
            if state == _HOLD and self._start is not None:
                await self._begin_passthrough()
            if self._state != _DROP:
                await self.send(message)
            return
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if state == _STREAM:
            await self._stream_chunk(body, more)
        elif state == _PASS:
            if self.capture is not None:
                self._capture_chunk(body, more)
            await self.send(message)
        elif state == _HOLD and self._start is not None:
            if more and self.method != "HEAD":
                await self._begin_stream(body)
            else:
                await self._complete(body)
        elif state == _HOLD:
            await self.send(message)  # body before start: protocol error, let the server say so

    @property
    def pending(self) -> bool:
        """True when the app sent a start it never followed with a body (see ``finish``)."""
        return self._state == _HOLD and self._start is not None

    async def finish(self) -> None:
        """Called after the app returned: flush a start the app never followed with a body."""
        if self._state == _HOLD and self._start is not None:
            await self._complete(b"")

    # -- shared steps ---------------------------------------------------------------------

    def _prepare(self, start: Message, body: bytes | None) -> tuple[int, MutableRawHeaders]:
        """Policy and ETag; then hand the identity response to the capture."""
        status, headers, _ = self._prepare_scan(start, body)
        return status, headers

    def _prepare_scan(
        self, start: Message, body: bytes | None
    ) -> tuple[int, MutableRawHeaders, list[bytes | None]]:
        """``_prepare`` plus the one-pass ``scan`` of the resulting headers."""
        status = int(start.get("status", 200))
        headers: MutableRawHeaders = list(start.get("headers") or ())
        found = scan(headers)
        pipeline = self.pipeline
        if pipeline.policy is not None and pipeline.policy.apply(
            headers, self.path, media_type(found[_CT]), status
        ):
            found = scan(headers)
        if (
            body is not None
            and found[_ETAG] is None
            and pipeline.etag
            and status == 200
            and self.method == "GET"
            and len(body) <= pipeline.etag_max_bytes
        ):
            etag = make_etag(body).encode("latin-1")
            headers.append((b"etag", etag))
            found[_ETAG] = etag
        if self.capture is not None:
            self.capture.status = status
            self.capture.headers = list(headers)
        return status, headers, found

    def _precondition(
        self, status: int, headers: MutableRawHeaders, found: list[bytes | None] | None = None
    ) -> Precondition:
        cond = self.conditions
        if cond is None or not self.pipeline.conditional or self.method not in ("GET", "HEAD"):
            return Precondition.PROCEED
        if not 200 <= status < 300 or status == 206:
            return Precondition.PROCEED
        if found is None:
            found = scan(headers)
        etag = found[_ETAG]
        last_modified = found[_LM]
        return evaluate_conditional(
            self.method,
            if_match=cond[0],
            if_none_match=cond[1],
            if_modified_since=cond[2],
            if_unmodified_since=cond[3],
            etag=etag.decode("latin-1") if etag is not None else None,
            last_modified=parse_http_date(last_modified) if last_modified is not None else None,
        )

    def _negotiate(self) -> str | None:
        config = self.pipeline.compression
        assert config is not None
        return choose_encoding(self.accept_encoding, config.preference)

    async def _answer_precondition(
        self,
        result: Precondition,
        status: int,
        headers: MutableRawHeaders,
        size: int | None,
        found: list[bytes | None] | None = None,
    ) -> None:
        if result is Precondition.NOT_MODIFIED:
            config = self.pipeline.compression
            if found is None:
                found = scan(headers)
            varies = (
                config is not None
                and (size is None or size >= config.minimum_size)
                and _compressible(config, status, found)
            )
            coding = self._negotiate() if varies else None
            out = not_modified_from(headers, coding, vary=varies)
            await self.send({"type": "http.response.start", "status": 304, "headers": out})
        else:
            out = [(b"content-length", b"0")]
            await self.send({"type": "http.response.start", "status": 412, "headers": out})
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- complete bodies ------------------------------------------------------------------

    async def _complete(self, body: bytes) -> None:
        start = self._start
        assert start is not None
        head = self.method == "HEAD"
        status, headers, found = self._prepare_scan(start, None if head else body)
        if self.capture is not None:
            self.capture.body = bytearray(body)
            self.capture.complete = True
        self._state = _DROP if head else _DONE
        size = _length(found[_CL]) if head else len(body)
        if self.conditions is not None:
            result = self._precondition(status, headers, found)
            if result is not Precondition.PROCEED:
                await self._answer_precondition(result, status, headers, size, found)
                return
        config = self.pipeline.compression
        encoded: bytes | None = None
        if (
            config is not None
            and (size is None or size >= config.minimum_size)
            and _compressible(config, status, found)
        ):
            coding = choose_encoding(self.accept_encoding, config.preference)
            if not head and coding is not None and coding != "identity":
                encoded = await self._compress(body, coding)
                if len(encoded) >= len(body):
                    encoded = None
            if encoded is not None:
                assert coding is not None
                mark_encoded(headers, coding)
                body = encoded
                headers.append((b"content-length", b"%d" % len(body)))
            elif head and coding is not None and coding != "identity":
                mark_encoded(headers, coding)
            elif found[_VARY] is None:
                headers.append((b"vary", b"Accept-Encoding"))
            else:
                mark_encoded(headers, None)
        if encoded is None and not head and found[_CL] != b"%d" % len(body):
            if found[_CL] is not None:
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", b"%d" % len(body)))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": b"" if head else body})

    async def _compress(self, body: bytes, coding: str) -> bytes:
        codecs = self.pipeline.codecs
        assert codecs is not None
        started = perf_counter()
        if len(body) >= self.pipeline.offload_size:
            out: bytes = await anyio.to_thread.run_sync(codecs.compress, body, coding)
        else:
            out = codecs.compress(body, coding)
        if self.observer is not None and len(out) < len(body):  # else identity is sent
            self.observer.compressed(coding, len(body), len(out), perf_counter() - started)
        return out

    # -- streams --------------------------------------------------------------------------

    def _capture_chunk(self, body: bytes, more: bool) -> None:
        capture = self.capture
        assert capture is not None
        capture.add(body)
        if not more:
            capture.complete = True

    async def _begin_passthrough(self) -> None:
        start = self._start
        assert start is not None
        status, headers = self._prepare(start, None)
        if self.capture is not None:
            self.capture.streamed = True
        self._state = _PASS
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def _begin_stream(self, first: bytes) -> None:
        start = self._start
        assert start is not None
        status, headers = self._prepare(start, None)
        if self.capture is not None:
            self.capture.streamed = True
            self._capture_chunk(first, True)
        result = self._precondition(status, headers)
        if result is not Precondition.PROCEED:
            self._state = _DROP
            await self._answer_precondition(result, status, headers, content_length(headers))
            return
        self._state = _PASS
        if would_compress(self.pipeline, status, headers, content_length(headers)):
            coding = self._negotiate()
            mark_encoded(headers, coding)
            if coding is not None and coding != "identity":
                codecs = self.pipeline.codecs
                assert codecs is not None
                self._encoder = codecs.stream(coding)
                self._state = _STREAM
                if self.observer is not None:
                    self.observer.compressed(coding, 0, 0, 0.0)
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        if self._state == _STREAM:
            await self._stream_chunk(first, True, capture=False)
        elif first:
            await self.send({"type": "http.response.body", "body": first, "more_body": True})

    async def _stream_chunk(self, body: bytes, more: bool, *, capture: bool = True) -> None:
        encoder = self._encoder
        assert encoder is not None
        if capture and self.capture is not None:
            self._capture_chunk(body, more)
        started = perf_counter()
        if body:
            if len(body) >= self.pipeline.offload_size:
                data = await anyio.to_thread.run_sync(encoder.compress, body)
            else:
                data = encoder.compress(body)
        else:
            data = b""
        if not more:
            data += encoder.finish()
            self._state = _DONE
        observer = self.observer
        if observer is not None and observer.coding is not None:
            seconds = perf_counter() - started
            observer.compressed(observer.coding, len(body), len(data), seconds)
        if data or not more:
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
