"""The interface every processor implements: bytes + metadata in, bytes + metadata out.

Processors are plain top-level functions so the build can run them in a process pool
(they must be picklable and free of I/O other than what their input carries). The
build orchestrator (``asset_pipeline.build.orchestrate``) owns discovery, reference rewriting,
hashing and writing; a processor only transforms one file's bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asset_pipeline.errors import AssetPipelineError


class ProcessingError(AssetPipelineError):
    """A file could not be processed. The message says which file and why."""

    def __init__(self, logical_name: str, reason: str) -> None:
        super().__init__(f"{logical_name}: {reason}")
        self.logical_name = logical_name
        self.reason = reason


#: why an alternate format is missing at one width (``metadata["dropped"]`` of an image);
#: ``DROPPED_LARGER`` is followed by the format that won, or ``original``
DROPPED_LOSSLESS, DROPPED_FAILED, DROPPED_LARGER = "lossless", "failed", "larger:"


@dataclass(frozen=True, slots=True)
class ProcessContext:
    """What a processor knows about the file besides its bytes.

    ``options`` is the merged option table for this processor kind and file (the
    ``[tool.asset-pipeline.<kind>]`` defaults overlaid with every matching
    ``[[tool.asset-pipeline.<kind>.rules]]`` entry whose ``glob`` matches). Each
    processor validates its own options. ``used_codepoints`` is filled by the build
    for font processors when subsetting by usage is configured.
    """

    logical_name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    used_codepoints: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class ExtraOutput:
    """An additional file a processor emits beside the main output (image alternates).

    ``suffix`` replaces the main output's extension when naming it, before the
    fingerprint is inserted: ``img/hero.png`` + ``.w480.webp`` -> ``img/hero.w480.<hash>.webp``.
    """

    suffix: str
    data: bytes
    content_type: str
    format: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ProcessorOutput:
    """The result of processing one file.

    ``suffix`` (for example ``.woff2``) renames the main output's extension; references
    to the source are rewritten to point at the renamed output. ``metadata`` carries
    values the manifest records (``width``, ``height``, ``unicode_range``).
    """

    data: bytes
    suffix: str | None = None
    content_type: str | None = None
    extras: tuple[ExtraOutput, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


Processor = Callable[[bytes, ProcessContext], ProcessorOutput]
