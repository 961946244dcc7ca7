"""Scanning source and output text files for references, and the worker pool.

Both are shared by every phase of the build: the pool runs scanners, processors and
compressors; the scanner memoises by content and keeps results in the build cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from asset_pipeline.build_cache import BuildCache, cache_key
from asset_pipeline.graph import scanner_for
from asset_pipeline.references import RawRef
from asset_pipeline.rewrite import extension

T = TypeVar("T")


def scan_job(name: str, data: bytes) -> list[RawRef]:
    """Pool entry point: the references of one text file."""
    find = scanner_for(name)
    return find(data.decode("utf-8", "surrogateescape")) if find is not None else []


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


class Workers:
    """A process pool sized to the machine, started only when there is work for it;
    with one job everything runs in this process (no pickling, easy to debug)."""

    __slots__ = ("_jobs", "_pool")

    def __init__(self, jobs: int) -> None:
        self._jobs = jobs
        self._pool: Executor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
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
            self._pool = ProcessPoolExecutor(max_workers=self._jobs)
        futures: dict[Future[list[T]], list[int]] = {
            self._pool.submit(_run_batch, fn, [jobs[i] for i in group]): group
            for group in batches(jobs)
        }
        for fut in as_completed(futures):
            yield from zip(futures[fut], fut.result(), strict=True)
