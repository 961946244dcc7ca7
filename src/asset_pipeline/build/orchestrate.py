"""Build orchestration: discover -> graph -> process -> rewrite + fingerprint -> precompress
-> dictionary deltas -> manifest -> plugins -> atomic swap.

Everything CPU-heavy (processors, compression) runs in a process pool and is looked up
in the content-addressed cache first; everything order-dependent (rewriting, hashing)
runs here, leaves first. The build happens in a temp directory next to DIST that
replaces DIST only when all of it succeeded, so a failed build never touches DIST.

The pool's phases overlap wherever nothing orders them, so its workers do not idle
while this process works alone: processing that needs no plan (all but usage-subset
fonts, ``steps.Processing``) is queued right behind the scans and runs while the graph
is built, and each file's compression is sent as soon as the file is emitted
(``output.Precompressor``). The plan's checks still come first: a build with a missing
reference reports that, whatever a processor running meanwhile said.

Plugin seam: ``default_hooks()`` lists the built-in plugins. ``before_process`` hooks
see the ``BuildPlan`` (sources, graph) and may fill ``plan.used_codepoints`` for font
subsetting; ``after_manifest`` hooks get the Manifest, the temp output dir and the
config, may write files there and return a replacement Manifest.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from asset_pipeline.build import dictionaries, output, state, steps
from asset_pipeline.build.cache import BuildCache
from asset_pipeline.build.fonts import scan_usage, usage_inputs
from asset_pipeline.build.plan import BuildHooks, BuildPlan, ProgressCallback
from asset_pipeline.build.reuse import Previous
from asset_pipeline.build.scan import Scanner, Workers, library_messages
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.errors import BuildError
from asset_pipeline.file_tree import TreeError
from asset_pipeline.manifest import Manifest, write_manifest
from asset_pipeline.refs import RawRef
from asset_pipeline.refs.graph import CycleError, build_graph, discover, topo_order
from asset_pipeline.sw.hook import build_hook as service_worker
from asset_pipeline.upload.versions import RemoteVersions


def default_hooks() -> BuildHooks:
    """The built-in plugins (service worker, font usage scan register themselves here)."""
    return BuildHooks(
        before_process=[scan_usage], after_manifest=[service_worker], inputs=[usage_inputs]
    )


@dataclass(frozen=True, slots=True)
class BuildResult:
    manifest: Manifest
    stats: steps.BuildStats
    warnings: tuple[str, ...]
    out: Path
    dry_run: bool


def build(
    config: BuildConfig,
    *,
    hooks: BuildHooks | None = None,
    progress: ProgressCallback | None = None,
    dry_run: bool = False,
) -> BuildResult:
    """Build ``config.src`` into ``config.out``. Raises BuildError (nothing written)."""
    started = time.perf_counter()
    hooks = hooks if hooks is not None else default_hooks()
    src, out = _paths(config)
    cache_root = config.resolve(config.cache_dir) if config.cache_dir else None
    cache = BuildCache(cache_root)
    stats = steps.BuildStats()
    names, sources = _discover(config, src, out)
    hook_names = [f"{f.__module__}.{f.__qualname__}" for f in hooks.before_process]
    hook_names += [f"{f.__module__}.{f.__qualname__}" for f in hooks.after_manifest]
    extra = {k: v for find in hooks.inputs for k, v in find(config, names).items()}
    key = state.inputs_key(config, {**sources, **extra}, hook_names)
    current = state.up_to_date(cache_root, out, key)
    if current is not None:  # nothing changed: leave DIST and the cache alone
        stats.up_to_date = True
        stats.seconds = time.perf_counter() - started
        return BuildResult(current[0], stats, current[1], out, dry_run)
    warnings: list[str] = []
    with Workers(config.workers) as workers, cache:  # cache: its writes finish first
        scanner = Scanner(cache, workers)
        scans = scanner.start_all(sources)  # to the pool first: the plan waits on them
        processing = steps.Processing(
            config, sources, cache, scanner, workers, hooks.on_process, stats
        )
        processing.start_early(names)  # queued behind the scans; runs while the plan is made
        plan = _plan(config, src, names, sources, scans(), warnings)
        for before in hooks.before_process:
            with library_messages() as notes:
                before(plan)
            warnings.extend(notes)
        order = plan.order
        processing.start_rest(plan)
        processed = processing.finish(plan, progress, warnings)
        previous = Previous.load(out)  # unchanged files are hard-linked, not rewritten
        prior = dictionaries.prior_manifest(out)
        remote = _history_source(config, warnings)
        if remote is not None:
            prior = remote.manifest() or prior
        tmp = output.make_temp_dir(out)
        try:
            emitter = steps.Emitter(plan, processed, scanner, tmp, stats, previous)
            compressor = output.Precompressor(emitter, cache, workers, config, progress)
            for name in order:  # each file is compressed in the pool as soon as it is written
                compressor.add(emitter.emit(name))
            warnings.extend(emitter.warnings)
            encoded = compressor.finish()
            deltas = dictionaries.build_deltas(
                emitter,
                cache,
                workers,
                config,
                encoded,
                prior,
                progress,
                remote=remote,
                warnings=warnings,
            )
            previous.flush()  # the files are on disk before plugins read them
            stats.linked = previous.linked
            manifest = output.make_manifest(emitter, encoded, config, deltas)
            for after in hooks.after_manifest:
                with library_messages() as notes:  # plugins warn through the build's report
                    manifest = after(manifest, tmp, config) or manifest
                warnings.extend(notes)
            write_manifest(manifest, tmp)
            output.write_extra_manifests(manifest, tmp, config.manifest_formats)
            if not dry_run:
                output.swap_into_place(tmp, out)
                state.record(cache_root, out, key, warnings)
                pruned = cache.prune(config.cache_max_bytes)
                stats.cache_bytes, stats.pruned = pruned.bytes, pruned.removed
        except BaseException:
            with contextlib.suppress(OSError):
                previous.flush()  # no write may land after the removal
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if dry_run:
            shutil.rmtree(tmp, ignore_errors=True)
    stats.seconds = time.perf_counter() - started
    return BuildResult(manifest, stats, tuple(warnings), out, dry_run)


def _history_source(config: BuildConfig, warnings: list[str]) -> RemoteVersions | None:
    """The bucket earlier versions are read from (``dictionaries.history_from``)."""
    settings = config.dictionaries
    if settings.history_from is None or settings.versions == 0:
        return None
    try:
        return RemoteVersions(settings, warnings)
    except ValueError as exc:  # botocore rejects a malformed endpoint URL or region
        warnings.append(
            f"history from {settings.history_from}: no S3 client ({exc}); this build makes no "
            "deltas from the bucket's versions. HINT: check history_endpoint_url and "
            "history_region."
        )
        return None


def _discover(config: BuildConfig, src: Path, out: Path) -> tuple[list[str], dict[str, bytes]]:
    ignore = list(config.ignore)
    if out.is_relative_to(src):
        ignore.append(out.relative_to(src).as_posix() + "/")
    if config.cache_dir and config.resolve(config.cache_dir).is_relative_to(src):
        ignore.append(config.resolve(config.cache_dir).relative_to(src).as_posix() + "/")
    allowed = [config.resolve(p) for p in config.allow_symlink_targets]
    try:
        names = discover(
            src, ignore=ignore, ignore_hidden=config.ignore_hidden, allow_symlink_targets=allowed
        )
    except TreeError as exc:
        raise BuildError(exc.problems) from None
    return names, {name: (src / name).read_bytes() for name in names}


def _plan(
    config: BuildConfig,
    src: Path,
    names: list[str],
    sources: dict[str, bytes],
    refs: dict[str, list[RawRef]],
    warnings: list[str],
) -> BuildPlan:
    """Order the scanned sources; missing references and cycles fail here, before any
    processor's result is used."""
    graph = build_graph(names, refs, config.url_prefix)
    problems = []
    for miss in graph.missing:
        if miss.is_sourcemap:
            warnings.append(f"{miss.describe()}; the sourceMappingURL comment was removed")
        elif config.missing_reference == "warn":
            warnings.append(miss.describe())
        else:
            problems.append(
                f"{miss.describe()}. HINT: fix the path, add the file, or set "
                'missing_reference = "warn" in [tool.asset-pipeline].'
            )
    if problems:
        raise BuildError(problems)
    try:
        order = topo_order(graph.deps)
    except CycleError as exc:
        raise BuildError([str(exc)]) from None
    return BuildPlan(config, src, names, sources, refs, graph, order)


def _paths(config: BuildConfig) -> tuple[Path, Path]:
    if config.src is None or config.out is None:
        raise BuildError(
            [
                "no source or output directory given. HINT: run `asset-pipeline build SRC "
                "--out DIST` or set src/out in [tool.asset-pipeline]."
            ]
        )
    src = config.resolve(config.src).resolve()
    out = config.resolve(config.out).resolve()
    if not src.is_dir():
        raise BuildError([f"{src}: source directory does not exist. HINT: check SRC."])
    if out == src or src.is_relative_to(out):
        raise BuildError(
            [f"{out}: the output directory must not contain the sources. HINT: use another --out."]
        )
    if out.exists() and not out.is_dir():
        raise BuildError([f"{out}: exists and is not a directory. HINT: choose another --out."])
    return src, out
