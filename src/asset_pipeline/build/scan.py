"""Scanning source and output text files for references, and the worker pool.

Both are shared by every phase of the build: the pool runs scanners, processors and
compressors; the scanner memoises by content and keeps results in the build cache.
What libraries log or warn while a job runs (fontTools, Pillow) is collected by
``library_messages`` and becomes the build's own warnings, named after the file: printed
raw it would ignore ``--quiet`` and, from a worker process, name no file at all.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from asset_pipeline.build.cache import BuildCache, cache_key
from asset_pipeline.refs import RawRef
from asset_pipeline.refs.graph import scanner_for
from asset_pipeline.refs.rewrite import extension

T = TypeVar("T")


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

    def scan_all(self, sources: Mapping[str, bytes]) -> dict[str, list[RawRef]]:
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
        for i, refs in run(scan_job, jobs):
            self.remember(todo[i], sources[todo[i]], refs)
            result[todo[i]] = refs
        return result


#: Jobs go to a worker in batches of at least this many bytes of input: one round trip
#: (pickling, a pipe write and read, a wake-up on each side) costs about as much as
#: compressing a few kilobytes, and a tree of small modules has thousands of jobs.
BATCH_BYTES = 64 * 1024


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
        """Yield ``(index, result)`` as each job finishes (small jobs in ``batches``)."""
        if self._jobs <= 1 or len(jobs) <= 1:
            for i, args in enumerate(jobs):
                yield i, fn(*args)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self._jobs, initializer=_ignore_sigint)
        futures: dict[Future[list[T]], list[int]] = {
            self._pool.submit(_run_batch, fn, [jobs[i] for i in group]): group
            for group in batches(jobs)
        }
        for fut in as_completed(futures):
            yield from zip(futures[fut], fut.result(), strict=True)
