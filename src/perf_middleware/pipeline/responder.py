"""The per-request response pipeline: policy -> ETag -> conditional -> compression.

``Responder.send`` wraps the app's ``send``. It holds ``http.response.start`` back until the
first body message, because only then is it known whether the body is complete (one message:
ETag, 304 and a one-shot compression are possible) or a stream (``more_body``: every chunk
is compressed and flushed as it arrives, never buffered).

A cache stage reuses the pieces: ``Capture`` receives the identity response after policy and
ETag (before conditional evaluation and compression), and the header helpers of
``pipeline.headers`` rebuild what the pipeline would have sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.to_thread

from perf_middleware.compression.codecs import StreamEncoder
from perf_middleware.compression.site_dictionary import carries_secret, html_candidate
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dates import parse_http_date
from perf_middleware.http.dictionary import dictionary_request
from perf_middleware.http.etag import etag_bytes
from perf_middleware.http.headers import MutableRawHeaders, media_type, parse_length
from perf_middleware.metrics.counters import clock
from perf_middleware.pipeline.capture import Capture
from perf_middleware.pipeline.headers import (
    ResponseFields,
    app_headers,
    mark_encoded,
    not_modified_from,
    scan,
)
from perf_middleware.pipeline.observe import RequestObserver, send_complete
from perf_middleware.pipeline.request import request_fields
from perf_middleware.pipeline.settings import Pipeline
from perf_middleware.types import Message, Scope, Send

if TYPE_CHECKING:
    from perf_middleware.metrics.counters import Metrics

__all__ = ["Responder"]

_HASH_OFFLOAD_SIZE = 1 << 20  # bodies this big are hashed in a worker thread


class Responder:
    """Per-request ``send`` wrapper; ``accept_encoding`` and ``conditions`` hold the raw
    request header values (see ``request_fields``).

    Its ``_state`` says what happens to the app's next message:

    * ``"hold"``: the start is held back until the first body message shows the body's shape;
    * ``"stream"``: body chunks are compressed and flushed as they arrive;
    * ``"pass"``: messages go to the server unchanged;
    * ``"drop"``: the response was answered already (a HEAD, a 304 or 412): the rest is dropped;
    * ``"done"``: the whole response was sent.
    """

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
        "request_headers",
        "send",
        "started",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        send: Send,
        scope: Scope,
        capture: Capture | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics``: record the request there without an observer wrapping ``send``: a
        planned response is recorded where it is sent, any other path attaches a
        ``RequestObserver`` when it starts (``_observe``), ``settle`` covers the rest."""
        self.pipeline = pipeline
        self.send = send
        self.method: str = scope.get("method", "GET")
        self.path: str = scope.get("path", "")
        self.request_headers = scope.get("headers")  # read again only for a site dictionary
        accept_encoding, conditions = request_fields(scope)
        self.accept_encoding = accept_encoding
        self.conditions = conditions  # If-Match, If-None-Match, If-Modified-Since, If-Unm-Since
        self.capture = capture
        self._start: Message | None = None
        self._state = "hold"
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
        if self._state == "hold" and message["type"] == "http.response.start":
            self._start = message
            return
        if self._plannable:
            start = self._planned(message)
            if start is not None:
                await self.send(start)
                await self.send(message)  # the app's own: its body goes out unchanged
                metrics = self.metrics
                if metrics is not None:  # this Responder records the request itself
                    self.metrics = None
                    metrics.response_done(start["status"], self.started)
                return
        await self._process(message)

    async def _process(self, message: Message) -> None:
        """Every message that is neither held nor planned: the pipeline proper."""
        state = self._state
        if self.metrics is not None:
            self._observe(self.metrics)
        if message["type"] != "http.response.body":
            if self.pending:
                await self._begin_passthrough()
            if self._state != "drop":
                await self.send(message)
            return
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if state == "stream":
            await self._stream_chunk(body, more)
        elif state == "pass":
            if self.capture is not None:
                self._capture_chunk(body, more)
            await self.send(message)
        elif self.pending:
            if more and self.method != "HEAD":
                await self._begin_stream(body)
            else:
                await self._complete(body, self._plannable)
        elif state == "hold":
            await self.send(message)  # body before start: protocol error, let the server say so

    def _planned(self, message: Message) -> Message | None:
        """The start message to send for an identity response shaped like an earlier one
        (its plan, with the ETag of this body), or None: then ``_plannable`` still says
        whether ``_complete`` may make a plan of it."""
        start = self._start
        if (
            self._state != "hold"
            or start is None
            or message["type"] != "http.response.body"
            or message.get("more_body", False)
        ):
            self._plannable = False
            return None
        body = message.get("body", b"")
        if len(body) >= _HASH_OFFLOAD_SIZE:
            self._plannable = False  # hashed off the loop: never planned
            return None
        pipeline = self.pipeline
        plan = pipeline.plans.lookup(self.path, self.accept_encoding)
        if (
            plan is None
            or plan.size != len(body)
            or plan.app_headers != start.get("headers")
            or plan.app_status != start.get("status", 200)
        ):
            return None
        self._state = "done"
        headers = list(plan.headers)
        if plan.etag_at >= 0:
            headers[plan.etag_at] = (b"etag", pipeline.etag_for(body))
        return {"type": "http.response.start", "status": plan.status, "headers": headers}

    @property
    def pending(self) -> bool:
        """True when the app sent a start it never followed with a body (see ``finish``)."""
        return self._state == "hold" and self._start is not None

    async def finish(self) -> None:
        """Called after the app returned: flush a start the app never followed with a body."""
        if self.pending:
            await self._complete(b"")

    # -- shared steps ---------------------------------------------------------------------

    def _apply_policy(self, start: Message) -> tuple[int, MutableRawHeaders, ResponseFields]:
        """The app's status and a copy of its headers with the Cache-Control policy applied."""
        status = int(start.get("status", 200))
        headers = app_headers(start.get("headers"))
        found = scan(headers)
        policy = self.pipeline.policy
        if policy is not None and policy.apply(
            headers, self.path, media_type(found.content_type), status
        ):
            found = scan(headers)
        return status, headers, found

    def _hashes(self, status: int, found: ResponseFields, body: bytes) -> bool:
        """Whether the pipeline adds a strong ETag to this complete response: a 200 to GET or
        HEAD without a validator of its own, small enough to hash."""
        pipeline = self.pipeline
        return (
            pipeline.etag
            and status == 200
            and found.etag is None
            and self.method in ("GET", "HEAD")
            and len(body) <= pipeline.etag_max_bytes
        )

    def _to_capture(self, status: int, headers: MutableRawHeaders) -> None:
        """Hand the identity response (after policy and ETag) to the cache's capture."""
        if self.capture is not None:
            self.capture.status = status
            self.capture.headers = list(headers)

    def _precondition(self, status: int, found: ResponseFields) -> Precondition:
        """RFC 9110 §13.2.2: evaluated for GET/HEAD against a 2xx (not 206) response."""
        cond = self.conditions
        if cond is None or not self.pipeline.conditional or self.method not in ("GET", "HEAD"):
            return Precondition.PROCEED
        if not 200 <= status < 300 or status == 206:
            return Precondition.PROCEED
        etag = found.etag
        last_modified = found.last_modified
        return evaluate_conditional(
            self.method,
            if_match=cond[0],
            if_none_match=cond[1],
            if_modified_since=cond[2],
            if_unmodified_since=cond[3],
            etag=etag.decode("latin-1") if etag is not None else None,
            last_modified=parse_http_date(last_modified) if last_modified is not None else None,
        )

    def _negotiable(self, status: int, found: ResponseFields, size: int | None) -> bool:
        """Whether this response is subject to content negotiation (it then varies on
        Accept-Encoding): compression is on, the body is not too small to bother, and the
        type, status, coding and Cache-Control allow it."""
        config = self.pipeline.compression
        codecs = self.pipeline.codecs
        return (
            config is not None
            and codecs is not None
            and (size is None or size >= config.minimum_size)
            and codecs.compressible(
                status, found.content_type, found.content_encoding, found.cache_control
            )
        )

    def _coding(self) -> str | None:
        """The content coding to send, negotiated from the request's Accept-Encoding."""
        config = self.pipeline.compression
        assert config is not None
        return choose_encoding(self.accept_encoding, config.preference)

    def _choose(
        self, found: ResponseFields, body: bytes | None, *, unseen: bool = False
    ) -> tuple[str | None, bool]:
        """The coding for a negotiable response, and whether the site dictionary could apply
        to it (then it varies on Available-Dictionary too): ``dcz`` when this complete
        ``body`` (None: a stream) may use the dictionary and the request holds it.
        ``unseen``: a HEAD the app answered without its body; it varies as the GET does
        (RFC 9110 section 9.3.2), but ``dcz`` is never announced for bytes not scanned."""
        coding = self._coding()
        codecs = self.pipeline.codecs
        dictionary = codecs.dictionary if codecs is not None else None
        if dictionary is None or (body is None and not unseen):
            return coding, False
        config = dictionary.config
        if not html_candidate(
            media_type(found.content_type), config,
            set_cookie=found.set_cookie, cache_control=found.cache_control, vary=found.vary,
        ):  # fmt: skip
            return coding, False
        if (
            body is not None
            and coding is not None
            and dictionary_request(self.request_headers, dictionary.sha256)
            and not carries_secret(body, config)
        ):
            coding = "dcz"
        return coding, True

    async def _answer_precondition(
        self,
        result: Precondition,
        status: int,
        headers: MutableRawHeaders,
        found: ResponseFields,
        size: int | None,
        body: bytes | None = None,
    ) -> None:
        if result is Precondition.NOT_MODIFIED:
            varies = self._negotiable(status, found, size)
            coding, dictionary = (
                self._choose(found, body, unseen=self.method == "HEAD") if varies else (None, False)
            )
            out = not_modified_from(headers, coding, vary=varies, dictionary=dictionary)
            await send_complete(self.send, 304, out, b"")
        else:
            await send_complete(self.send, 412, [(b"content-length", b"0")], b"")

    # -- complete bodies ------------------------------------------------------------------

    async def _complete(self, body: bytes, plannable: bool = False) -> None:
        """A whole body. ``plannable``: this response may be planned (see ``__call__``)."""
        start = self._start
        assert start is not None
        head = self.method == "HEAD"
        status, headers, found = self._apply_policy(start)
        # HEAD: Starlette sends the GET body (the server drops it); hash it like GET so the
        # HEAD headers match. An app that sends nothing on HEAD gets no ETag (b"" would lie).
        if (body or not head) and self._hashes(status, found, body):
            if len(body) >= _HASH_OFFLOAD_SIZE:
                # hashing a multi-megabyte body on the event loop would stall every request
                etag = await anyio.to_thread.run_sync(etag_bytes, body)
            else:
                etag = self.pipeline.etag_for(body)
            headers.append((b"etag", etag))
            found.etag = self._digest = etag
        self._to_capture(status, headers)
        if self.capture is not None:
            self.capture.body = bytearray(body)
            self.capture.complete = True
        self._state = "drop" if head else "done"
        length = found.content_length
        size = parse_length(length) if head and (length or not body) else len(body)
        if self.conditions is not None:
            result = self._precondition(status, found)
            if result is not Precondition.PROCEED:
                await self._answer_precondition(
                    result, status, headers, found, size, body if body or not head else None
                )
                return
        encoded: bytes | None = None
        if self._negotiable(status, found, size):
            unseen = head and not body
            coding, dictionary = self._choose(found, None if unseen else body, unseen=unseen)
            if dictionary:
                plannable = False  # the answer depends on Available-Dictionary: never planned
            if not head and coding is not None and coding != "identity":
                plannable = False  # the outcome depends on the bytes: never planned
                encoded = await self._compress(body, coding)
                if len(encoded) >= len(body):
                    encoded = None
            if encoded is not None:
                assert coding is not None
                mark_encoded(headers, coding, dictionary=dictionary)
                body = encoded
                headers.append((b"content-length", b"%d" % len(body)))
            elif head and coding is not None and coding != "identity":
                mark_encoded(headers, coding, dictionary=dictionary)
            elif found.vary is None and not dictionary:
                headers.append((b"vary", b"Accept-Encoding"))
            else:
                mark_encoded(headers, None, dictionary=dictionary)
        if encoded is None and not head and length != b"%d" % len(body):
            if length is not None:
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", b"%d" % len(body)))
        if plannable:
            self.pipeline.plans.remember(
                self.path, self.accept_encoding, start, len(body), status, headers, self._digest
            )
        await send_complete(self.send, status, headers, b"" if head else body)

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

    def _begin(self) -> tuple[int, MutableRawHeaders, ResponseFields]:
        """The start of a response that is not one complete body: policy, no ETag."""
        start = self._start
        assert start is not None
        status, headers, found = self._apply_policy(start)
        self._to_capture(status, headers)
        if self.capture is not None:
            self.capture.streamed = True
        return status, headers, found

    async def _begin_passthrough(self) -> None:
        status, headers, _ = self._begin()
        self._state = "pass"
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def _begin_stream(self, first: bytes) -> None:
        status, headers, found = self._begin()
        if self.capture is not None:
            self._capture_chunk(first, True)
        size = parse_length(found.content_length)
        result = self._precondition(status, found)
        if result is not Precondition.PROCEED:
            self._state = "drop"
            await self._answer_precondition(result, status, headers, found, size)
            return
        self._state = "pass"
        if self._negotiable(status, found, size):
            coding = self._coding()
            mark_encoded(headers, coding)
            if coding is not None and coding != "identity":
                codecs = self.pipeline.codecs
                assert codecs is not None
                self._encoder = codecs.stream(coding)
                self._state = "stream"
                if self.observer is not None:
                    self.observer.compressed(coding, 0, 0, 0.0)
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        if self._state == "stream":
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
            self._state = "done"
        observer = self.observer
        if observer is not None and observer.coding is not None:
            seconds = clock() - started
            observer.compressed(observer.coding, len(body), len(data), seconds)
        if data or not more:
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
