"""What the build knows before processing (``BuildPlan``) and the plugin seam
(``BuildHooks``): kept apart from the orchestration so the steps and the plugins can name
them without importing the orchestrator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asset_pipeline.config.model import BuildConfig
from asset_pipeline.manifest import Manifest
from asset_pipeline.refs import RawRef
from asset_pipeline.refs.graph import Graph

#: ``progress(phase, done, total)``: called as work advances (``build.cli.ProgressBar`` draws it).
ProgressCallback = Callable[[str, int, int], None]


@dataclass(slots=True)
class BuildPlan:
    """What is known before processing. ``used_codepoints`` maps a font's logical name
    to the code points its users need (filled by a ``before_process`` hook)."""

    config: BuildConfig
    src: Path
    names: list[str]
    sources: dict[str, bytes]
    refs: dict[str, list[RawRef]]
    graph: Graph
    order: list[str]
    used_codepoints: dict[str, frozenset[int]] = field(default_factory=dict)


AfterManifest = Callable[[Manifest, Path, BuildConfig], "Manifest | None"]


@dataclass(slots=True)
class BuildHooks:
    """Extension points. ``on_process(logical_name, kind)`` fires for each processor run
    that was not answered from the cache. ``inputs(config, names)`` returns files outside
    SRC a plugin reads (key -> bytes); they join the up-to-date check."""

    before_process: list[Callable[[BuildPlan], None]] = field(default_factory=list)
    after_manifest: list[AfterManifest] = field(default_factory=list)
    on_process: list[Callable[[str, str], None]] = field(default_factory=list)
    inputs: list[Callable[[BuildConfig, list[str]], dict[str, bytes]]] = field(default_factory=list)
