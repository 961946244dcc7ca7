"""What the cache stage needs from the middleware that holds it, and the one owner of its
event counts.

The stage calls back into ``PerformanceMiddleware`` to run the normal response pipeline on a
miss and to observe requests it does not answer itself; typing that seam as a ``Protocol``
keeps the stage independent of the middleware module (which imports the stage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from perf_middleware.metrics.counters import Metrics
from perf_middleware.pipeline.capture import Capture
from perf_middleware.pipeline.settings import Pipeline
from perf_middleware.types import ASGIApp, Receive, Scope, Send


class PipelineRunner(Protocol):
    """Runs the app through a ``Responder`` (policy, ETag, conditional, compression); with
    ``capture``, the identity response is recorded for the cache."""

    async def run_pipeline(
        self, scope: Scope, receive: Receive, send: Send, *, capture: Capture | None = None
    ) -> None: ...


class StageHost(PipelineRunner, Protocol):
    """``PerformanceMiddleware`` as the cache stage sees it."""

    @property
    def pipeline(self) -> Pipeline: ...

    @property
    def metrics(self) -> Metrics | None: ...

    @property
    def server_timing(self) -> bool: ...

    async def observed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: ASGIApp,
        started: float | None = None,
    ) -> None: ...


class StageEvents:
    """The stage's event counts (``counts``, for tests and debugging) and the metrics hook
    they feed (``hook(name, amount)``); every collaborator counts through this one object."""

    __slots__ = ("counts", "hook")

    def __init__(self, hook: Callable[[str, int], None] | None = None) -> None:
        self.counts: defaultdict[str, int] = defaultdict(int)
        self.hook = hook

    def __call__(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        if self.hook is not None:
            self.hook(name, amount)
