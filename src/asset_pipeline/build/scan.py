"""Scanning source and output text files for references, and the worker pool.

Both are shared by every phase of the build: the pool runs scanners, processors and
compressors; the scanner memoises by content and keeps results in the build cache.
What libraries log or warn while a job runs (fontTools, Pillow) is collected by
``library_messages`` and becomes the build's own warnings, named after the file: printed
raw it would ignore ``--quiet`` and, from a worker process, name no file at all.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import signal
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from typing import Any, Generic, TypeVar

from asset_pipeline.build.cache import BuildCache, cache_key
from asset_pipeline.refs import RawRef
from asset_pipeline.refs.graph import scanner_for
from asset_pipeline.refs.rewrite import extension

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def scan_job(name: str, data: bytes) -> list[RawRef]:
    """Pool entry point: the references of one text file."""
    find = scanner_for(name)
    return find(data.decode("utf-8", "surrogateescape")) if find is not None else []


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        own = record.name.partition(".")[0] == "asset_pipeline"  # written for users already
        text = record.getMessage()
        self.messages.append(text if own else f"{text} ({record.name})")


@contextlib.contextmanager
def library_messages(logical_name: str | None = None) -> Iterator[list[str]]:
    """Collect the log records (WARNING and above) and Python warnings raised inside the
    block as ``"<file>: <message> (<source>)"`` lines, each once, instead of letting them
    reach stderr. Deprecation warnings are for this package's developers, not its users."""
    raw: list[str] = []
    messages: list[str] = []
    handler = _Collect(raw)
    root = logging.getLogger()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        root.addHandler(handler)  # with a handler in place, logging's last resort is quiet
        try:
            yield messages
        finally:
            root.removeHandler(handler)
            for w in caught:
                if not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning):
                    raw.append(f"{w.message} ({w.category.__name__})")
            prefix = f"{logical_name}: " if logical_name else ""
            messages.extend(prefix + m for m in dict.fromkeys(raw))


class Scanner:
    """References of text files, memoised by content, cached on disk, and scanned in the
    pool when many are new (the scanners are pure Python)."""

    __slots__ = ("_cache", "_memo", "_workers")

    def __init__(self, cache: BuildCache, workers: Workers | None = None) -> None:
        self._cache = cache
        self._workers = workers
        self._memo: dict[str, list[RawRef]] = {}

    @staticmethod
    def _key(name: str, data: bytes) -> str:
        return cache_key("refs", extension(name), data)

    def remember(self, name: str, data: bytes, refs: list[RawRef], *, store: bool = True) -> None:
        """Keep ``refs`` for this content; ``store=False`` when the caller already keeps
        them in the cache (a processor output's references live in its entry)."""
        key = self._key(name, data)
        if key not in self._memo:
            self._memo[key] = refs
            if store:
                self._cache.put_refs(key, refs)

    def lookup(self, name: str, data: bytes) -> list[RawRef] | None:
        key = self._key(name, data)
        refs = self._memo.get(key)
        if refs is None:
            refs = self._cache.get_refs(key)
            if refs is not None:
                self._memo[key] = refs
        return refs

    def scan(self, name: str, data: bytes) -> list[RawRef]:
        if scanner_for(name) is None:
            return []
        refs = self.lookup(name, data)
        if refs is None:
            refs = scan_job(name, data)
            self.remember(name, data, refs)
        return refs

    def start_all(self, sources: Mapping[str, bytes]) -> Callable[[], dict[str, list[RawRef]]]:
        """Send the scans that are not known yet to the pool now; the function returned
        waits for them and returns every source's references. Work sent to the pool after
        this call runs after the scans, so the caller can queue more meanwhile."""
        result: dict[str, list[RawRef]] = {}
        todo: list[str] = []
        for name, data in sources.items():
            if scanner_for(name) is None:
                result[name] = []
                continue
            refs = self.lookup(name, data)
            if refs is None:
                todo.append(name)
            else:
                result[name] = refs
        todo.sort(key=lambda n: -len(sources[n]))
        jobs = [(name, sources[name]) for name in todo]
        run = self._workers.map_unordered if self._workers else _serial
        scans = run(scan_job, jobs)

        def collect() -> dict[str, list[RawRef]]:
            for i, refs in scans:
                self.remember(todo[i], sources[todo[i]], refs)
                result[todo[i]] = refs
            return result

        return collect


#: Jobs go to a worker in batches of at least this many bytes of input: one round trip
#: (pickling, a pipe write and read, a wake-up on each side) costs about as much as
#: compressing a few kilobytes, and a tree of small modules has thousands of jobs.
BATCH_BYTES = 64 * 1024
#: The smallest batch a ``JobStream`` sends at the end, when what is left is split so that
#: both workers finish together instead of one waiting on the other's last batch.
TAIL_BATCH_BYTES = 8 * 1024


def tail_batch_bytes(waiting: int, depth: int) -> int:
    """The batch size once no more jobs are coming: an even share of the ``waiting`` bytes
    for each of the ``depth`` batches in flight, between ``TAIL_BATCH_BYTES`` and
    ``BATCH_BYTES``. A batch of small files costs more than its bytes say (every file
    sets up three encoders), so the last full-size batch could keep one worker busy
    long after the other ran out of work."""
    return max(TAIL_BATCH_BYTES, min(BATCH_BYTES, waiting // depth))


def _size(args: tuple[Any, ...]) -> int:
    return sum(len(a) for a in args if isinstance(a, bytes | str))


def batches(jobs: Sequence[tuple[Any, ...]], limit: int = BATCH_BYTES) -> list[list[int]]:
    """Indices of ``jobs`` in order, grouped so that every group but the last carries at
    least ``limit`` bytes: a job that large travels alone, small ones together."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, args in enumerate(jobs):
        current.append(i)
        size += _size(args)
        if size >= limit:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    return groups


def _run_batch(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]]) -> list[T]:
    """Pool entry point: one batch of jobs, results in order."""
    return [fn(*args) for args in jobs]


def _serial(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]]) -> Iterator[tuple[int, T]]:
    for i, args in enumerate(jobs):
        yield i, fn(*args)


def _as_completed(futures: Mapping[Future[list[T]], list[int]]) -> Iterator[tuple[int, T]]:
    for fut in as_completed(futures):
        yield from zip(futures[fut], fut.result(), strict=True)


def _ignore_sigint() -> None:
    """In each worker: Ctrl-C reaches the whole process group, and only the parent
    should answer it (one line, exit 130); the parent then shuts the pool down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Workers:
    """A process pool sized to the machine, started only when there is work for it;
    with one job everything runs in this process (no pickling, easy to debug)."""

    __slots__ = ("_jobs", "_pool")

    def __init__(self, jobs: int) -> None:
        self._jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._pool is None:
            return
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            # answer Ctrl-C now, not after the running jobs (brotli 11 on a large file
            # takes seconds) whose results would be thrown away
            for process in list(self._pool._processes.values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map_unordered(
        self, fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, T]]:
        """Yield ``(index, result)`` as each job finishes (small jobs in ``batches``).

        The jobs go to the pool when this is called, not when the iteration starts, so
        what is sent next queues behind them; in this process they run as iterated."""
        if self._jobs <= 1 or len(jobs) <= 1:
            return _serial(fn, jobs)
        pool = self.pool()
        futures: dict[Future[list[T]], list[int]] = {
            pool.submit(_run_batch, fn, [jobs[i] for i in group]): group for group in batches(jobs)
        }
        return _as_completed(futures)

    @property
    def size(self) -> int:
        """How many jobs run at once."""
        return self._jobs

    @property
    def parallel(self) -> bool:
        return self._jobs > 1

    @property
    def started(self) -> bool:
        return self._pool is not None

    def pool(self) -> ProcessPoolExecutor:
        """The process pool, started on first use."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self._jobs, initializer=_ignore_sigint)
        return self._pool

    def stream(self, fn: Callable[..., T]) -> JobStream[Any, T]:
        """A ``JobStream`` running ``fn`` on jobs handed over one at a time."""
        return JobStream(self, fn)


class JobStream(Generic[K, T]):
    """``fn`` run on jobs that become known one at a time (``add``), while the caller goes
    on producing more: the pool starts on the first jobs instead of waiting at a barrier
    until the caller has listed them all.

    Jobs wait here, not in the pool's queue, and only a few batches are in flight at once,
    so each batch sent is made of the largest jobs waiting at that moment: a large file
    that arrives late still starts before the small ones, which keeps the tail short.
    Small jobs travel in batches of ``BATCH_BYTES`` (one round trip costs about as much as
    compressing a few kilobytes) unless a worker of a running pool has nothing to do, and
    once no more are coming, in the shrinking batches of ``tail_batch_bytes``. With one
    worker, or a single job in all, ``fn`` runs in this process (no pool to start, no
    pickling).
    """

    __slots__ = (
        "_closed",
        "_fn",
        "_inflight",
        "_results",
        "_seq",
        "_waiting",
        "_waiting_bytes",
        "_workers",
    )

    def __init__(self, workers: Workers, fn: Callable[..., T]) -> None:
        self._workers = workers
        self._fn = fn
        self._waiting: list[tuple[int, int, K, tuple[Any, ...]]] = []  # heap, largest first
        self._waiting_bytes = 0
        self._seq = 0
        self._inflight: dict[Future[list[T]], list[K]] = {}
        self._results: list[tuple[K, T]] = []  # computed in this process
        self._closed = False

    def add(self, key: K, args: tuple[Any, ...]) -> None:
        """Queue ``fn(*args)``; its result comes back from ``ready``/``drain`` with ``key``."""
        if self._closed:
            raise RuntimeError("JobStream.add after drain")
        if not self._workers.parallel:
            self._results.append((key, self._fn(*args)))
            return
        size = _size(args)
        heapq.heappush(self._waiting, (-size, self._seq, key, args))
        self._seq += 1
        self._waiting_bytes += size
        self._dispatch()

    def _dispatch(self) -> None:
        depth = 2 * self._workers.size  # enough to keep every worker busy between calls
        while self._waiting and len(self._inflight) < depth:
            if not self._closed and self._waiting_bytes < BATCH_BYTES:
                idle = self._workers.started and len(self._inflight) < self._workers.size
                if not idle:
                    return  # more jobs are coming: wait to fill a batch
            alone = not self._workers.started and not self._inflight and len(self._waiting) == 1
            if self._closed and alone:
                _, _, key, args = heapq.heappop(self._waiting)  # one job in all
                self._waiting_bytes = 0
                self._results.append((key, self._fn(*args)))
                return
            limit = tail_batch_bytes(self._waiting_bytes, depth) if self._closed else BATCH_BYTES
            keys: list[K] = []
            jobs: list[tuple[Any, ...]] = []
            size = 0
            while self._waiting and size < limit:
                negative, _, key, args = heapq.heappop(self._waiting)
                keys.append(key)
                jobs.append(args)
                size -= negative
            self._waiting_bytes -= size
            fut = self._workers.pool().submit(_run_batch, self._fn, jobs)
            self._inflight[fut] = keys

    def ready(self) -> list[tuple[K, T]]:
        """The results that are in, without waiting; sends more waiting jobs to the pool."""
        for fut in [f for f in self._inflight if f.done()]:  # a few batches at most
            self._results.extend(zip(self._inflight.pop(fut), fut.result(), strict=True))
        self._dispatch()  # may run the last job here, adding to the results
        out, self._results = self._results, []
        return out

    def drain(self) -> Iterator[tuple[K, T]]:
        """No more jobs: every remaining result, as each batch finishes."""
        self._closed = True
        yield from self.ready()
        while self._inflight:
            wait(list(self._inflight), return_when=FIRST_COMPLETED)
            yield from self.ready()
