"""The resolved settings of the response pipeline, shared by every request of a middleware.

Built once by ``PerformanceMiddleware`` from its keyword options so the per-request
``Responder`` reads plain attributes (no option parsing on the hot path), and so a cache
stage can run the very same pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perf_middleware.compression.codecs import Codecs, CompressionConfig
from perf_middleware.http.etag import etag_bytes
from perf_middleware.pipeline.headers import bytes_pair
from perf_middleware.policy import Policy

ETAG_MEMO_ENTRIES = 32
ETAG_MEMO_MAX_BODY = 16 * 1024
PLAN_ENTRIES = 512  # paths
PLAN_ENCODINGS = 8  # Accept-Encoding values per path
#: A (path, Accept-Encoding) whose answer changed shape this many times is not planned again
#: (until the plans are cleared): per-response headers such as request ids never repeat.
PLAN_RETRIES = 2


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """An identity response already worked out. Made from the app's ``app_status``, raw
    ``app_headers`` and body ``size``; sends ``status`` and ``headers``, with the generated
    ETag at ``etag_at`` (-1: none to recompute). ``retries``: how many plans its key had
    before."""

    app_status: object
    app_headers: object = field(repr=False)
    size: int
    status: int
    headers: tuple[tuple[bytes, bytes], ...] = field(repr=False)
    etag_at: int
    retries: int


#: Stored for a key whose shape keeps changing: matches no body (size -1), so its requests
#: go through the pipeline and skip the work of planning.
UNSTABLE = ResponsePlan(None, None, -1, 0, (), -1, PLAN_RETRIES)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipeline:
    """``compression``/``codecs``/``policy`` are None when that stage is off.

    * ``etag``: add a strong blake3 ETag to buffered 200 responses to GET (and HEAD with
      a body) without one.
    * ``conditional``: answer 304/412 for GET/HEAD from the response's validators.
    * ``etag_max_bytes``: bodies above this are not hashed (hashing is ~1 GB/s; the default
      8 MiB bounds it to a few ms).
    * ``offload_size``: compress bodies/chunks at least this big in a worker thread.
    """

    compression: CompressionConfig | None
    codecs: Codecs | None
    policy: Policy | None
    etag: bool = True
    conditional: bool = True
    etag_max_bytes: int = 8 * 2**20
    offload_size: int = 64 * 1024
    #: ETags of recently hashed body objects: id(body) -> (body, ETag). An app that sends
    #: the same bytes object again (a constant, a cached render) is not hashed again; the
    #: entry keeps its body alive, so an id is never reused while it is here. Bounded by
    #: ``ETAG_MEMO_ENTRIES`` bodies of at most ``ETAG_MEMO_MAX_BODY`` bytes each. Kept
    #: because it pays: hashing is a large part of what a planned response costs.
    etag_memo: dict[int, tuple[bytes, bytes]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    #: Identity responses already worked out, path -> Accept-Encoding -> plan: a plain GET
    #: (no preconditions, no cache capture) whose app answer has the same status, raw
    #: headers and body length as the one the plan was made from gets the same headers
    #: again, with only the ETag recomputed from its body: policy, ETag eligibility,
    #: negotiation and Content-Length depend on nothing else. The check compares (no
    #: hashing of header bytes). Responses that were compressed are never planned (the
    #: outcome depends on the bytes). A key whose answer changed shape ``PLAN_RETRIES``
    #: times gets ``UNSTABLE``. Bounded by ``PLAN_ENTRIES`` paths of ``PLAN_ENCODINGS``
    #: plans each (a level is cleared when full). Kept because it pays: a repeated answer
    #: skips policy, header scans, negotiation and header building, most of the pipeline's
    #: own work per request (``python -m benchmarks.instructions`` shows the difference).
    plans: dict[str, dict[bytes | None, ResponsePlan]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def plan(self, path: str, accept_encoding: bytes | None) -> ResponsePlan | None:
        by_encoding = self.plans.get(path)
        return None if by_encoding is None else by_encoding.get(accept_encoding)

    def remember_plan(
        self,
        path: str,
        accept_encoding: bytes | None,
        app_start: Mapping[str, Any],
        size: int,
        status: int,
        headers: list[tuple[bytes, bytes]],
        etag: bytes | None,
    ) -> None:
        """Make a plan of the identity response just worked out for an app answer (its
        start message ``app_start`` and body ``size``): ``status`` and ``headers`` as sent,
        ``etag`` the header value generated from the body (the very object in ``headers``),
        None when the pipeline hashed nothing."""
        before = self.plan(path, accept_encoding)
        retries = 0 if before is None else before.retries + 1
        if retries >= PLAN_RETRIES:  # this answer keeps changing shape: stop planning it
            if before is not UNSTABLE:
                self._store_plan(path, accept_encoding, UNSTABLE)
            return
        etag_at = -1
        if etag is not None:
            for index, (_, value) in enumerate(headers):
                if value is etag:
                    etag_at = index
                    break
            else:
                return  # the generated ETag was rewritten: nothing to substitute, no plan
        app_headers = _snapshot(app_start.get("headers"))
        if app_headers is not None:
            app_status = app_start.get("status", 200)
            plan = ResponsePlan(
                app_status, app_headers, size, status, tuple(headers), etag_at, retries
            )
            self._store_plan(path, accept_encoding, plan)

    def _store_plan(self, path: str, accept_encoding: bytes | None, plan: ResponsePlan) -> None:
        plans = self.plans
        by_encoding = plans.get(path)
        if by_encoding is None:
            if len(plans) >= PLAN_ENTRIES:
                plans.clear()  # a stream of distinct paths: stay bounded
            by_encoding = plans[path] = {}
        elif len(by_encoding) >= PLAN_ENCODINGS and accept_encoding not in by_encoding:
            by_encoding.clear()  # clients cycling through Accept-Encoding values
        by_encoding[accept_encoding] = plan

    def etag_for(self, body: bytes) -> bytes:
        """The strong ETag (header bytes) of ``body``, from the memo when it is the very
        object hashed before."""
        key = id(body)
        known = self.etag_memo.get(key)
        if known is not None and known[0] is body:
            return known[1]
        etag = etag_bytes(body)
        if len(body) <= ETAG_MEMO_MAX_BODY and type(body) is bytes:  # immutable only
            memo = self.etag_memo
            if len(memo) >= ETAG_MEMO_ENTRIES:
                del memo[next(iter(memo))]  # the oldest
            memo[key] = (body, etag)
        return etag

    @classmethod
    def build(
        cls,
        *,
        compression: CompressionConfig | None,
        policy: Policy | None,
        etag: bool,
        conditional: bool,
        etag_max_bytes: int,
    ) -> Pipeline:
        if etag_max_bytes < 0:
            raise ValueError(
                f"etag_max_bytes={etag_max_bytes} is negative. HINT: use 0 to hash only empty "
                "bodies, or etag=False to switch ETag generation off."
            )
        return cls(
            compression=compression,
            codecs=Codecs(compression) if compression is not None else None,
            policy=policy,
            etag=etag,
            conditional=conditional,
            etag_max_bytes=etag_max_bytes,
            offload_size=compression.offload_size if compression is not None else 64 * 1024,
        )
