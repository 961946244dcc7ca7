"""Response plans: identity responses already worked out, reused for a repeated answer.

A plain GET (no preconditions, no cache capture) whose app answer has the same status, raw
headers and body length as the one a plan was made from gets the same headers again, with only
the ETag recomputed from its body: policy, ETag eligibility, negotiation and Content-Length
depend on nothing else. The check compares (no hashing of header bytes). Responses that were
compressed are never planned (the outcome depends on the bytes). A repeated answer so skips
policy, header scans, negotiation and header building, most of the pipeline's own work per
request (``python -m benchmarks.instructions`` shows the difference).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perf_middleware.pipeline.headers import bytes_pair

__all__ = ["PLAN_ENCODINGS", "PLAN_ENTRIES", "PLAN_RETRIES", "UNSTABLE", "Plans", "ResponsePlan"]

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


class Plans:
    """The plans of one pipeline, ``by_path``: path -> Accept-Encoding -> plan. A key whose
    answer changed shape ``PLAN_RETRIES`` times gets ``UNSTABLE``. Bounded by
    ``PLAN_ENTRIES`` paths of ``PLAN_ENCODINGS`` plans each (a level is cleared when full)."""

    __slots__ = ("by_path",)

    def __init__(self) -> None:
        self.by_path: dict[str, dict[bytes | None, ResponsePlan]] = {}

    def lookup(self, path: str, accept_encoding: bytes | None) -> ResponsePlan | None:
        by_encoding = self.by_path.get(path)
        return None if by_encoding is None else by_encoding.get(accept_encoding)

    def remember(
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
        before = self.lookup(path, accept_encoding)
        retries = 0 if before is None else before.retries + 1
        if retries >= PLAN_RETRIES:  # this answer keeps changing shape: stop planning it
            if before is not UNSTABLE:
                self._store(path, accept_encoding, UNSTABLE)
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
            self._store(path, accept_encoding, plan)

    def _store(self, path: str, accept_encoding: bytes | None, plan: ResponsePlan) -> None:
        plans = self.by_path
        by_encoding = plans.get(path)
        if by_encoding is None:
            if len(plans) >= PLAN_ENTRIES:
                plans.clear()  # a stream of distinct paths: stay bounded
            by_encoding = plans[path] = {}
        elif len(by_encoding) >= PLAN_ENCODINGS and accept_encoding not in by_encoding:
            by_encoding.clear()  # clients cycling through Accept-Encoding values
        by_encoding[accept_encoding] = plan
