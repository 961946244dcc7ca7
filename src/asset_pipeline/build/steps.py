"""The build's middle: scanning, running processors (pool + cache), and emitting each file
with its references rewritten and its fingerprinted name.

Split from ``orchestrate`` so the orchestration reads top to bottom there while the
mechanics live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asset_pipeline.build.cache import (
    BuildCache,
    cache_key,
    options_fingerprint,
    processor_fingerprint,
)
from asset_pipeline.build.fingerprint import (
    content_hash,
    has_bundler_hash,
    hashed_name,
    with_suffix,
)
from asset_pipeline.build.fonts import finish_font_faces, font_faces, woff2_sibling
from asset_pipeline.build.plan import BuildPlan, ProgressCallback
from asset_pipeline.build.reuse import Previous
from asset_pipeline.build.scan import Scanner, Workers, library_messages, scan_job
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.errors import BuildError
from asset_pipeline.media_types import content_type, with_charset
from asset_pipeline.processors import PROCESSOR_KINDS, ProcessContext, ProcessorOutput
from asset_pipeline.processors import load_processor as _load
from asset_pipeline.refs import RawRef
from asset_pipeline.refs.carry import carry_refs
from asset_pipeline.refs.graph import scanner_for
from asset_pipeline.refs.rewrite import extension, rewrite


@dataclass(slots=True)
class TypeStats:
    files: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    bytes_br: int = 0
    variants: int = 0  # image alternates (other formats, other widths) beside the files
    variant_bytes: int = 0


@dataclass(frozen=True, slots=True)
class DroppedFormat:
    """An alternate format a processor left out for one file: at which widths, and why
    (``images.LOSSLESS``, ``images.FAILED`` or ``images.LARGER`` + the format that won)."""

    name: str
    format: str
    widths: tuple[int, ...]
    tried: int  # sizes the format was considered at (kept + dropped)
    reason: str


@dataclass(slots=True)
class BuildStats:
    """Counters for the closing summary table."""

    by_type: dict[str, TypeStats] = field(default_factory=dict)
    processed: int = 0
    processed_cached: int = 0
    copied: int = 0
    compressed: int = 0
    compressed_cached: int = 0
    seconds: float = 0.0
    up_to_date: bool = False  # nothing changed: DIST left exactly as it was
    linked: int = 0  # files hard-linked from the previous DIST instead of written
    cache_bytes: int = 0  # build cache size after pruning
    pruned: int = 0  # cache entries removed to stay within cache_max_bytes
    deltas: int = 0  # RFC 9842 deltas computed by this build
    deltas_cached: int = 0  # deltas taken from the build cache
    dropped: list[DroppedFormat] = field(default_factory=list)

    def add(self, label: str, bytes_in: int, bytes_out: int) -> None:
        row = self.by_type.setdefault(label, TypeStats())
        row.files += 1
        row.bytes_in += bytes_in
        row.bytes_out += bytes_out

    def add_variant(self, label: str, size: int) -> None:
        row = self.by_type.setdefault(label, TypeStats())
        row.variants += 1
        row.variant_bytes += size

    def add_dropped(self, name: str, output: ProcessorOutput) -> None:
        """Record the formats ``output.metadata["dropped"]`` lists, one row per reason."""
        raw = output.metadata.get("dropped")
        if not isinstance(raw, list):
            return
        by_key: dict[tuple[str, str], list[int]] = {}
        for item in raw:
            fmt, width, reason = item
            by_key.setdefault((str(fmt), str(reason)), []).append(int(width))
        for (fmt, reason), widths in by_key.items():
            kept = sum(1 for e in output.extras if e.format == fmt)
            tried = kept + sum(len(w) for (f, _), w in by_key.items() if f == fmt)
            self.dropped.append(DroppedFormat(name, fmt, tuple(widths), tried, reason))


def type_label(name: str) -> str:
    return PROCESSOR_KINDS.get(extension(name), "other")


def run_processor(
    kind: str, data: bytes, ctx: ProcessContext
) -> tuple[ProcessorOutput, list[str]] | str:
    """Pool entry point: process one file. The second item is what libraries logged
    meanwhile, as warnings naming the file.

    Errors come back as text: exceptions with custom constructors (ProcessingError) do
    not survive pickling across processes intact.
    """
    with library_messages(ctx.logical_name) as notes:
        try:
            output = _load(kind)(data, ctx)
        except Exception as exc:  # any processor failure fails the build with its reason
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            return f"{ctx.logical_name}: {kind} processor failed: {reason}"
    return output, notes


def output_refs(
    name: str, source: bytes, refs: list[RawRef], output: ProcessorOutput
) -> list[RawRef]:
    """The references of a processor's output: carried over from the source's scan
    (``refs.carry``) when the output is the same kind of text, else scanned."""
    out_name = with_suffix(name, output.suffix)
    if scanner_for(out_name) is None:
        return []
    if extension(out_name) == extension(name):
        decode = "utf-8", "surrogateescape"
        carried = carry_refs(source.decode(*decode), refs, output.data.decode(*decode))
        if carried is not None:
            return carried
    return scan_job(out_name, output.data)


#: Processor kinds whose runs need the complete plan: a font's subset depends on the code
#: points the ``before_process`` hooks collect from every text. The others start while
#: the sources are still being scanned.
NEEDS_PLAN = frozenset({"fonts"})


class Processing:
    """Every source's processor output, from the cache or the pool, started in two waves.

    ``start_early`` sends what needs no plan (minifying CSS and JS, converting images)
    to the pool right behind the scans, so the workers go on with it while this process
    builds the graph and runs the ``before_process`` hooks instead of waiting at a
    barrier; ``start_rest`` sends the fonts once the plan is known. ``finish`` collects
    both; a processor error still fails the build only after the plan's own checks
    (missing references, cycles) passed.
    """

    __slots__ = (
        "_cache",
        "_config",
        "_known",
        "_on_process",
        "_pending",
        "_results",
        "_scanner",
        "_sources",
        "_stats",
        "_total",
        "_versions",
        "_workers",
    )

    def __init__(
        self,
        config: BuildConfig,
        sources: Mapping[str, bytes],
        cache: BuildCache,
        scanner: Scanner,
        workers: Workers,
        on_process: Sequence[Callable[[str, str], None]],
        stats: BuildStats,
    ) -> None:
        self._config = config
        self._sources = sources
        self._known = frozenset(sources)
        self._cache = cache
        self._scanner = scanner
        self._workers = workers
        self._on_process = on_process
        self._stats = stats
        self._versions: dict[str, str | None] = {}
        self._results: dict[str, ProcessorOutput] = {}
        # (name, kind, cache key) per job, and the results as they finish
        self._pending: list[tuple[list[tuple[str, str, str]], Iterator[tuple[int, Any]]]] = []
        self._total = 0

    def start_early(self, names: Iterable[str]) -> None:
        self._start([n for n in names if PROCESSOR_KINDS.get(extension(n)) not in NEEDS_PLAN])

    def start_rest(self, plan: BuildPlan) -> None:
        rest = [n for n in plan.names if PROCESSOR_KINDS.get(extension(n)) in NEEDS_PLAN]
        self._start(rest, plan.used_codepoints)

    def _start(
        self, names: Iterable[str], used_codepoints: Mapping[str, frozenset[int]] | None = None
    ) -> None:
        """Answer ``names`` from the cache; send the rest to the pool, largest first."""
        versions = self._versions
        stats = self._stats
        todo: list[tuple[str, str, str]] = []
        jobs: list[tuple[Any, ...]] = []
        for name in names:
            data = self._sources[name]
            kind = PROCESSOR_KINDS.get(extension(name))
            if kind is not None and kind not in versions:
                versions[kind] = processor_fingerprint(kind)
            options = self._config.options_for(kind, name) if kind is not None else {}
            shipped = woff2_sibling(name, self._known) if kind == "fonts" and not options else None
            if shipped is not None:  # a fallback format: the package's own WOFF2 answers it
                woff2 = self._sources[shipped]
                self._results[name] = ProcessorOutput(woff2, ".woff2", "font/woff2")
                stats.copied += 1
                continue
            if kind is None or versions[kind] is None:
                self._results[name] = ProcessorOutput(data=data)
                stats.copied += 1
                continue
            cps = (used_codepoints or {}).get(name)
            key = cache_key(
                "process", kind, str(versions[kind]), options_fingerprint(options, cps), data
            )
            cached = self._cache.get_processed(key)
            if cached is not None:
                output, refs = cached
                self._results[name] = output
                if refs is not None:
                    out_name = with_suffix(name, output.suffix)
                    self._scanner.remember(out_name, output.data, refs, store=False)
                stats.processed_cached += 1
                continue
            for hook in self._on_process:
                hook(name, kind)
            todo.append((name, kind, key))
            jobs.append((kind, data, ProcessContext(name, options, cps)))
        order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][1]))  # largest first
        jobs = [jobs[i] for i in order]
        self._pending.append(
            ([todo[i] for i in order], self._workers.map_unordered(run_processor, jobs))
        )
        self._total += len(jobs)

    def finish(
        self, plan: BuildPlan, progress: ProgressCallback | None, warnings: list[str]
    ) -> dict[str, ProcessorOutput]:
        """Wait for both waves. What libraries logged while processing joins ``warnings``
        (a cached output was processed quietly before)."""
        errors: list[str] = []
        done = 0
        for todo, results in self._pending:
            for i, result in results:
                name, _, key = todo[i]
                if isinstance(result, str):
                    errors.append(result)
                else:
                    output, notes = result
                    warnings.extend(notes)
                    self._results[name] = output
                    source = self._sources[name]
                    refs = output_refs(name, source, plan.refs.get(name, []), output)
                    self._cache.put_output(key, output, refs)
                    out_name = with_suffix(name, output.suffix)
                    self._scanner.remember(out_name, output.data, refs, store=False)
                    self._stats.processed += 1
                done += 1
                if progress is not None:
                    progress("process", done, self._total)
        if errors:
            raise BuildError(sorted(errors))
        return self._results


@dataclass(frozen=True, slots=True)
class Emitted:
    """One written output (main file or image alternate)."""

    logical: str
    path: str
    data: bytes
    content_type: str
    fingerprinted: bool


class Emitter:
    """Rewrites, fingerprints and writes files, called leaves first."""

    def __init__(
        self,
        plan: BuildPlan,
        processed: Mapping[str, ProcessorOutput],
        scanner: Scanner,
        out: Path,
        stats: BuildStats,
        previous: Previous | None = None,
    ) -> None:
        self.plan = plan
        self.previous = previous if previous is not None else Previous(None, {}, {})
        self.processed = processed
        self.scanner = scanner
        self.out = out
        self.stats = stats
        self.outputs: dict[str, str] = {}
        self.renamed: dict[str, str] = {}
        self.main: dict[str, Emitted] = {}
        self.alternates: dict[str, list[tuple[Emitted, Any]]] = {}
        self.warnings: list[str] = []

    def _name(self, logical: str, data: bytes, *, rewritten: bool = False) -> tuple[str, str]:
        """The fingerprinted output path and the content hash. A bundler-hashed name is
        kept unless rewriting its references changed its bytes (its hash would be stale)."""
        config = self.plan.config
        digest = content_hash(data)
        if not rewritten and has_bundler_hash(logical, config.bundler_hash_pattern):
            return logical, digest
        name = hashed_name(logical, digest, pattern=config.name_pattern, length=config.hash_length)
        return name, digest

    def emit(self, name: str) -> list[Emitted]:
        """Write ``name`` (and its image alternates); returns what was written."""
        result = self.processed[name]
        out_logical = with_suffix(name, result.suffix)
        if result.suffix:
            self.renamed[name] = result.suffix.lower()
        data = result.data
        refs = self.scanner.scan(out_logical, data)
        if refs:
            text = data.decode("utf-8", "surrogateescape")
            config = self.plan.config
            rw = rewrite(text, refs, name, self.outputs, self.renamed, config.url_prefix)
            text = rw.text
            if extension(out_logical) == ".css":  # unicode-range + WOFF fallback (build.fonts)
                deps = self.plan.graph.deps.get(name, ())
                faces = font_faces(deps, self.processed, self.outputs, self.alternates)
                text = finish_font_faces(text, faces)
            data = text.encode("utf-8", "surrogateescape")
        path, digest = self._name(out_logical, data, rewritten=data != result.data)
        self.previous.place(self.out, path, data, digest)
        ctype = with_charset(result.content_type) if result.content_type else None
        main = Emitted(name, path, data, ctype or content_type(out_logical), True)
        self.main[name] = main
        written = [main]
        self.outputs[name] = path
        self.stats.add(type_label(name), len(self.plan.sources[name]), len(data))
        self.stats.add_dropped(name, result)
        for extra in result.extras:
            self.stats.add_variant(type_label(name), len(extra.data))
            extra_logical = with_suffix(name, extra.suffix)
            extra_path, _ = self._name(extra_logical, extra.data)
            self.previous.place(self.out, extra_path, extra.data)
            emitted = Emitted(extra_logical, extra_path, extra.data, extra.content_type, True)
            self.alternates.setdefault(name, []).append((emitted, extra))
            written.append(emitted)
        return written
