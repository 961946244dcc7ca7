"""The per-request response pipeline: policy -> ETag -> conditional -> compression.

``Responder.send`` wraps the app's ``send``. It holds ``http.response.start`` back until the
first body message, because only then is it known whether the body is complete (one message:
ETag, 304 and a one-shot compression are possible) or a stream (``more_body``: every chunk
is compressed and flushed as it arrives, never buffered).

A cache stage reuses the pieces: ``Capture`` receives the identity response after policy and
ETag (before conditional evaluation and compression), and the header helpers of
``response_headers`` (re-exported here) rebuild what the pipeline would have sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread

from perf_middleware.compression import StreamEncoder
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dates import parse_http_date
from perf_middleware.http.etag import etag_bytes
from perf_middleware.http.headers import MutableRawHeaders, content_length
from perf_middleware.metrics import clock
from perf_middleware.observe import RequestObserver, send_complete
from perf_middleware.pipeline import PLAN_RETRIES, UNSTABLE, Pipeline, Plan
from perf_middleware.response_headers import (
    CC,
    CE,
    CL,
    CT,
    ETAG,
    LM,
    NOT_MODIFIED_KEEP,
    VARY,
    app_headers,
    bytes_pair,
    mark_encoded,
    media_type,
    not_modified_from,
    not_modified_headers,
    parse_length,
    scan,
    would_compress,
)

if TYPE_CHECKING:
    from perf_middleware.metrics import Metrics

Message = MutableMapping[str, Any]
#: A message or scope as the dict ASGI servers pass (another mapping is copied into one):
#: compiled code reads a dict directly instead of calling methods of a mapping.
Fields = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]

# re-exported: the cache stage imports these from here
__all__ = [
    "NOT_MODIFIED_KEEP",
    "Capture",
    "Responder",
    "mark_encoded",
    "not_modified_from",
    "not_modified_headers",
    "scan",
    "would_compress",
]

# states of a Responder (Final, like every constant here: compiled code inlines them or
# keeps them in a C static instead of looking them up in the module dict per request)
_HOLD: Final = 0
_STREAM: Final = 1
_PASS: Final = 2
_DROP: Final = 3
_DONE: Final = 4
_HASHED_METHODS: Final = frozenset({"GET", "HEAD"})
_HASH_OFFLOAD_SIZE: Final = 1 << 20  # bodies this big are hashed in a worker thread
_MEMO_LIMIT: Final = 4096  # entries of the precondition memo


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


_ACCEPT_ENCODING: Final = 4
_REQUEST_FIELDS: Final = {
    b"if-match": 0,
    b"if-none-match": 1,
    b"if-modified-since": 2,
    b"if-unmodified-since": 3,
    b"accept-encoding": _ACCEPT_ENCODING,
}


def request_fields(
    scope: Fields,
) -> tuple[bytes | None, tuple[bytes | None, bytes | None, bytes | None, bytes | None] | None]:
    """Accept-Encoding and the four precondition fields (If-Match, If-None-Match,
    If-Modified-Since, If-Unmodified-Since; None when all are absent) of a request: one dict
    lookup per header, repeated fields joined (RFC 9110 §5.3)."""
    fields: list[bytes | None] | None = None
    headers = scope.get("headers")
    pairs: list[Any] = headers if type(headers) is list else list(headers or ())
    for pair in pairs:
        index = _REQUEST_FIELDS.get(pair[0])  # indexing, not unpacking: no iterator per pair
        if index is not None:
            if fields is None:
                fields = [None, None, None, None, None]
            value = pair[1]
            prior = fields[index]
            fields[index] = value if prior is None else prior + b"," + value
    if fields is None:
        return None, None
    if fields[0] is fields[1] is fields[2] is fields[3] is None:
        return fields[_ACCEPT_ENCODING], None
    return fields[_ACCEPT_ENCODING], (fields[0], fields[1], fields[2], fields[3])


def _snapshot(raw: object) -> list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...] | None:
    """A copy of the app's raw headers, in the container it used (so the plan check compares
    like with like), that later changes to the app's objects cannot reach; None (no plan) for
    anything but a list or tuple of ``(bytes, bytes)`` tuples."""
    if type(raw) is not list and type(raw) is not tuple:
        return None
    pairs: list[tuple[bytes, bytes]] = []
    for pair in raw:
        if not bytes_pair(pair):
            return None
        pairs.append(pair)
    return pairs if type(raw) is list else tuple(pairs)


def _as_bytes(body: Any) -> bytes:
    """A body message's bytes: ASGI apps may send a bytearray or memoryview, which the
    compiled pipeline (typed ``bytes``) would refuse; a copy is taken only then."""
    return body if type(body) is bytes else bytes(body)


class Responder:
    """Per-request ``send`` wrapper. ``request`` values are the raw request header bytes."""

    __slots__ = (
        "_digest",
        "_encoder",
        "_plannable",
        "_start",
        "_state",
        "accept_encoding",
        "capture",
        "conditions",
        "method",
        "metrics",
        "observer",
        "path",
        "pipeline",
        "send",
        "started",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        send: Send,
        scope: MutableMapping[str, Any],
        capture: Capture | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics``: record the request there without an observer wrapping ``send``: a
        planned response is recorded where it is sent, any other path attaches a
        ``RequestObserver`` when it starts (``_observe``), ``settle`` covers the rest."""
        self.pipeline = pipeline
        self.send = send
        fields: Fields = scope if type(scope) is dict else dict(scope)
        self.method: str = fields.get("method", "GET")
        self.path: str = fields.get("path", "")
        accept_encoding, conditions = request_fields(fields)
        self.accept_encoding = accept_encoding
        self.conditions = conditions  # If-Match, If-None-Match, If-Modified-Since, If-Unm-Since
        self.capture = capture
        self._start: Fields | None = None
        self._state = _HOLD
        self._encoder: StreamEncoder | None = None
        self._digest: bytes | None = None  # the ETag this pipeline hashed from the body
        # metrics/Server-Timing hook (set by PerformanceMiddleware.run_pipeline)
        self.observer: RequestObserver | None = None
        # the metrics this Responder records itself: None when off or once recorded
        self.metrics = metrics
        self.started = 0.0
        if metrics is not None:
            metrics.in_flight += 1
            self.started = clock()
        # a request whose response may follow or make a plan; ``_planned`` clears it once the
        # response turns out not to be one complete body (a stream, a large body, no start)
        self._plannable = conditions is None and capture is None and self.method == "GET"

    def settle(self) -> None:
        """After the app returned or failed: record the request if nothing did yet."""
        metrics = self.metrics
        if metrics is not None:  # nothing was recorded: the app failed before its response
            self.metrics = None
            metrics.response_done(500, self.started)
        elif self.observer is not None and not self.observer.done:
            self.observer.finish()

    def _observe(self, metrics: Metrics) -> None:
        self.metrics = None
        observer = RequestObserver(self.send, metrics, False, self.started, counted=True)
        self.send = self.observer = observer

    async def __call__(self, message: Message) -> None:
        # Only the hold and the planned path here; everything else in ``_unplanned``: a
        # compiled coroutine keeps every local as a field of its object, set up, cleared and
        # freed per call, and its code is one function, so the common path stays small.
        msg: Fields = message if type(message) is dict else dict(message)
        if self._state == _HOLD and msg["type"] == "http.response.start":
            self._start = msg
            return
        start = self._planned(msg) if self._plannable else None
        if start is None:
            await self._unplanned(message, msg)
            return
        await self.send(start)
        await self.send(message)  # the app's own: its body goes out unchanged
        self._record(start)

    def _record(self, start: Fields) -> None:
        """A planned response was sent: record it (when this Responder records metrics)."""
        metrics = self.metrics
        if metrics is not None:
            self.metrics = None
            metrics.response_done(start["status"], self.started)

    async def _unplanned(self, message: Message, msg: Fields) -> None:
        """Every message that is neither held nor planned: the pipeline proper."""
        state = self._state
        kind = msg["type"]
        if self.metrics is not None:
            self._observe(self.metrics)
        if kind != "http.response.body":
            if state == _HOLD and self._start is not None:
                await self._begin_passthrough()
            if self._state != _DROP:
                await self.send(message)
            return
        body = _as_bytes(msg.get("body", b""))
        more = bool(msg.get("more_body", False))
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
                await self._complete(body, self._plannable)
        elif state == _HOLD:
            await self.send(message)  # body before start: protocol error, let the server say so

    def _planned(self, msg: Fields) -> Fields | None:
        """The start message to send for an identity response shaped like an earlier one
        (its plan, with the ETag of this body), or None: then ``_plannable`` still says
        whether ``_complete`` may make a plan of it. Not a coroutine: its locals stay C
        locals in the compiled build instead of fields of the coroutine object."""
        start = self._start
        if (
            self._state != _HOLD
            or start is None
            or msg["type"] != "http.response.body"
            or msg.get("more_body", False)
        ):
            self._plannable = False
            return None
        body = _as_bytes(msg.get("body", b""))
        if len(body) >= _HASH_OFFLOAD_SIZE:
            self._plannable = False  # hashed off the loop: never planned
            return None
        pipeline = self.pipeline
        plan = pipeline.plan(self.path, self.accept_encoding)
        if (
            plan is None
            or plan.size != len(body)
            or plan.app_headers != start.get("headers")
            or plan.app_status != start.get("status", 200)
        ):
            return None
        self._state = _DONE
        headers = list(plan.headers)
        if plan.etag_at >= 0:
            headers[plan.etag_at] = (b"etag", pipeline.etag_for(body))
        return {"type": "http.response.start", "status": plan.status, "headers": headers}

    @property
    def pending(self) -> bool:
        """True when the app sent a start it never followed with a body (see ``finish``)."""
        return self._state == _HOLD and self._start is not None

    async def finish(self) -> None:
        """Called after the app returned: flush a start the app never followed with a body."""
        if self._state == _HOLD and self._start is not None:
            await self._complete(b"")

    # -- shared steps ---------------------------------------------------------------------

    def _prepare(self, start: Fields, body: bytes | None) -> tuple[int, MutableRawHeaders]:
        """Policy and ETag; then hand the identity response to the capture."""
        status, headers, _ = self._prepare_scan(start, body)
        return status, headers

    def _prepare_scan(
        self, start: Fields, body: bytes | None, etag: bytes | None = None
    ) -> tuple[int, MutableRawHeaders, list[bytes | None]]:
        """``_prepare`` plus the one-pass ``scan`` of the resulting headers. ``etag`` is
        ``etag_bytes(body)`` when the caller already computed it (off the loop)."""
        status = int(start.get("status", 200))
        headers = app_headers(start.get("headers"))
        found = scan(headers)
        pipeline = self.pipeline
        if pipeline.policy is not None and pipeline.policy.apply(
            headers, self.path, media_type(found[CT]), status
        ):
            found = scan(headers)
        if (
            body is not None
            and found[ETAG] is None
            and pipeline.etag
            and status == 200
            and self.method in _HASHED_METHODS
            and len(body) <= pipeline.etag_max_bytes
        ):
            if etag is None:
                etag = pipeline.etag_for(body)
            headers.append((b"etag", etag))
            found[ETAG] = etag
            self._digest = etag
        if self.capture is not None:
            self.capture.status = status
            self.capture.headers = list(headers)
        return status, headers, found

    def _will_hash(self, start: Fields, body: bytes) -> bool:
        pipeline = self.pipeline
        return (
            pipeline.etag
            and self.method in _HASHED_METHODS
            and start.get("status", 200) == 200
            and len(body) <= pipeline.etag_max_bytes
            and scan(app_headers(start.get("headers")))[ETAG] is None
        )

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
        etag = found[ETAG]
        last_modified = found[LM]
        # a pure function of these raw values: revalidations repeat the same few tuples
        key = (self.method, cond, etag, last_modified)
        memo = self.pipeline.preconditions
        result = memo.get(key)
        if result is None:
            result = evaluate_conditional(
                self.method,
                if_match=cond[0],
                if_none_match=cond[1],
                if_modified_since=cond[2],
                if_unmodified_since=cond[3],
                etag=etag.decode("latin-1") if etag is not None else None,
                last_modified=parse_http_date(last_modified) if last_modified is not None else None,
            )
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()  # a client cycling through validators: stay bounded
            memo[key] = result
        return result

    def _compressible(self, status: int, found: list[bytes | None]) -> bool:
        codecs = self.pipeline.codecs
        assert codecs is not None
        return codecs.compressible(status, found[CT], found[CE], found[CC])

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
                and self._compressible(status, found)
            )
            coding = self._negotiate() if varies else None
            out = not_modified_from(headers, coding, vary=varies)
            await send_complete(self.send, 304, out, b"")
        else:
            await send_complete(self.send, 412, [(b"content-length", b"0")], b"")

    # -- complete bodies ------------------------------------------------------------------

    async def _complete(self, body: bytes, plannable: bool = False) -> None:
        """A whole body. ``plannable``: this response may be planned (see ``__call__``)."""
        start = self._start
        assert start is not None
        head = self.method == "HEAD"
        etag = None
        if len(body) >= _HASH_OFFLOAD_SIZE and self._will_hash(start, body):
            # hashing ~1 GB/s: a multi-megabyte body would hold the loop for milliseconds
            etag = await anyio.to_thread.run_sync(etag_bytes, body)
        # HEAD: Starlette sends the GET body (the server drops it); hash it like GET so the
        # HEAD headers match. An app that sends nothing on HEAD gets no ETag (b"" would lie).
        status, headers, found = self._prepare_scan(
            start, None if head and not body else body, etag
        )
        if self.capture is not None:
            self.capture.body = bytearray(body)
            self.capture.complete = True
        self._state = _DROP if head else _DONE
        size = parse_length(found[CL]) if head and (found[CL] or not body) else len(body)
        if self.conditions is not None:
            result = self._precondition(status, headers, found)
            if result is not Precondition.PROCEED:
                await self._answer_precondition(result, status, headers, size, found)
                return
        config = self.pipeline.compression
        codecs = self.pipeline.codecs
        encoded: bytes | None = None
        if (
            config is not None
            and codecs is not None
            and (size is None or size >= config.minimum_size)
            and codecs.compressible(status, found[CT], found[CE], found[CC])
        ):
            coding = choose_encoding(self.accept_encoding, config.preference)
            if not head and coding is not None and coding != "identity":
                plannable = False  # the outcome depends on the bytes: never planned
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
            elif found[VARY] is None:
                headers.append((b"vary", b"Accept-Encoding"))
            else:
                mark_encoded(headers, None)
        if encoded is None and not head and found[CL] != b"%d" % len(body):
            if found[CL] is not None:
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", b"%d" % len(body)))
        if plannable:
            self._remember(start, len(body), status, headers)
        await send_complete(self.send, status, headers, b"" if head else body)

    def _remember(self, start: Fields, size: int, status: int, headers: MutableRawHeaders) -> None:
        pipeline = self.pipeline
        before = pipeline.plan(self.path, self.accept_encoding)
        retries = 0 if before is None else before.retries + 1
        if retries >= PLAN_RETRIES:  # this answer keeps changing shape: stop planning it
            if before is not UNSTABLE:
                pipeline.remember_plan(self.path, self.accept_encoding, UNSTABLE)
            return
        digest = self._digest
        at = -1
        if digest is not None:
            for index, (_, value) in enumerate(headers):
                if value is digest:
                    at = index
                    break
            else:
                return  # the generated ETag was rewritten: nothing to substitute, no plan
        raw = _snapshot(start.get("headers"))
        if raw is not None:
            plan = Plan(start.get("status", 200), raw, size, status, tuple(headers), at, retries)
            pipeline.remember_plan(self.path, self.accept_encoding, plan)

    async def _compress(self, body: bytes, coding: str) -> bytes:
        codecs = self.pipeline.codecs
        assert codecs is not None
        started = clock()
        # the ETag this pipeline hashed names these exact bytes: a repeat is encoded already
        memo = codecs.memo
        digest = self._digest if memo is not None and memo.accepts(len(body)) else None
        out: bytes | None = None
        if digest is not None:
            assert memo is not None
            out = memo.get(digest, coding)
        if out is None:
            if len(body) >= self.pipeline.offload_size:
                out = await anyio.to_thread.run_sync(codecs.compress, body, coding)
            else:
                out = codecs.compress(body, coding)
            if digest is not None:
                assert memo is not None
                memo.put(digest, coding, out)
        if self.observer is not None and len(out) < len(body):  # else identity is sent
            self.observer.compressed(coding, len(body), len(out), clock() - started)
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
        started = clock()
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
            seconds = clock() - started
            observer.compressed(observer.coding, len(body), len(data), seconds)
        if data or not more:
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
