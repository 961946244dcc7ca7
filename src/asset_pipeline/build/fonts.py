"""Fonts in the build: feed the usage scan to the font processor, and finish ``@font-face``.

Small plugins and helpers the orchestrator calls:

* ``scan_usage`` (a ``before_process`` hook): for every font whose options say
  ``subset_by_usage = true``, scan its ``content`` globs (relative to the project root,
  where ``pyproject.toml`` lives) plus the build's own CSS/HTML/Markdown, and hand the
  code points to the processor through ``BuildPlan.used_codepoints``. Identical glob
  lists are scanned once.
* ``usage_inputs`` (a build ``inputs`` hook): those content files, so a template edit
  makes the up-to-date check rebuild.
* ``woff2_sibling`` (asked before a font is processed): a TTF/OTF/WOFF whose WOFF2 the
  package already ships beside it is answered with that WOFF2, not converted again.
* ``finish_font_faces`` (called while a CSS file is emitted, after its references were
  rewritten): adds ``unicode-range`` to each ``@font-face`` block whose ``src`` points at
  a font the processor gave a range to, and appends ``url(….woff) format("woff")`` after
  the WOFF2 URL when a WOFF fallback was emitted. Comments and strings are skipped, and
  a block that already declares ``unicode-range`` is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asset_pipeline.build.plan import BuildPlan
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.errors import BuildError
from asset_pipeline.file_tree import TreeError
from asset_pipeline.processors import PROCESSOR_KINDS, ProcessorOutput
from asset_pipeline.usage import (
    HTML_SUFFIXES,
    UsageScanError,
    content_files,
    scan_paths,
    scan_text,
)

_BUILD_CONTENT = HTML_SUFFIXES | {".css", ".md", ".markdown"}
_MASK = re.compile(r"/\*.*?(?:\*/|$)|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'", re.S)
_FONT_FACE = re.compile(r"@font-face\s*\{", re.I)
_HAS_RANGE = re.compile(r"(?<![\w-])unicode-range\s*:", re.I)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > name.rfind("/") else ""


def scan_usage(plan: BuildPlan) -> None:
    """``before_process`` hook: fill ``plan.used_codepoints`` for usage-subset fonts."""
    memo: dict[tuple[str, ...], frozenset[int]] = {}
    own: frozenset[int] | None = None
    problems: list[str] = []
    allowed = [plan.config.resolve(p) for p in plan.config.allow_symlink_targets]
    for name in plan.names:
        if PROCESSOR_KINDS.get(_suffix(name)) != "fonts":
            continue
        options = plan.config.options_for("fonts", name)
        if options.get("subset_by_usage") is not True:
            continue
        globs = options.get("content", [])
        if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
            problems.append(
                f"{name}: [tool.asset-pipeline.fonts] content must be a list of glob strings. "
                "HINT: content = ['templates/**/*.html', 'content/**/*.md']"
            )
            continue
        key = tuple(globs)
        if key not in memo:
            try:
                memo[key] = scan_paths(plan.config.root, key, allow_symlink_targets=allowed)
            except UsageScanError as exc:
                problems.extend(f"{name}: {line}" for line in str(exc).splitlines())
                continue
        if own is None:
            own = _scan_build_sources(plan)
        plan.used_codepoints[name] = memo[key] | own
    if problems:
        raise BuildError(problems)


def usage_inputs(config: BuildConfig, names: Sequence[str]) -> dict[str, bytes]:
    """The files outside SRC that ``scan_usage`` reads, keyed so they cannot collide with
    logical names: the build's up-to-date check must see a template edit. Runs before
    that check, so a FIFO or a link out of the project fails the build here (BuildError)
    instead of hanging it or being read."""
    globs: set[str] = set()
    for name in names:
        if PROCESSOR_KINDS.get(_suffix(name)) != "fonts":
            continue
        options = config.options_for("fonts", name)
        content = options.get("content")
        if options.get("subset_by_usage") is True and isinstance(content, list):
            globs.update(g for g in content if isinstance(g, str))
    allowed = [config.resolve(p) for p in config.allow_symlink_targets]
    found: dict[str, bytes] = {}
    problems: list[str] = []
    for pattern in sorted(globs):
        try:
            paths = content_files(config.root, pattern, allow_symlink_targets=allowed)
        except UsageScanError:
            continue  # scan_usage reports the bad glob
        except TreeError as exc:
            problems.extend(exc.problems)
            continue
        for path in paths:
            try:
                found[f"\0usage:{path}"] = path.read_bytes()
            except PermissionError:
                continue
    if problems:
        raise BuildError(list(dict.fromkeys(problems)))
    return found


def _scan_build_sources(plan: BuildPlan) -> frozenset[int]:
    """CSS ``content:`` strings (icon fonts) and pages that ship inside the build itself."""
    found: set[int] = set()
    for name, data in plan.sources.items():
        suffix = _suffix(name)
        if suffix in _BUILD_CONTENT:
            text = data.decode("utf-8", "replace")
            found |= scan_text(text, suffix, source=name)
    return frozenset(found)


_FALLBACK_SUFFIXES = (".ttf", ".otf", ".woff")


def woff2_sibling(name: str, names: Container[str]) -> str | None:
    """The ``.woff2`` of the same stem beside ``name`` (a TTF/OTF/WOFF), if there is one.

    Font packages (icon fonts, math fonts, webfont kits) ship every format of a face and
    list them in one ``@font-face`` ``src``, WOFF2 first. Converting the TTF and WOFF to
    WOFF2 costs more than any other step of such a build and yields the WOFF2 the package
    already ships, so the build answers them with that file: every URL of the ``src``
    list then names the same WOFF2 (format hints follow, as for any conversion), which
    every browser in use reads (CSS Fonts 4, 4.3.1), and no fallback is published.
    """
    suffix = _suffix(name)
    if suffix not in _FALLBACK_SUFFIXES:
        return None
    sibling = name[: -len(suffix)] + ".woff2"
    return sibling if sibling in names else None


@dataclass(frozen=True, slots=True)
class FontFace:
    """What ``@font-face`` needs to know about one processed font."""

    basename: str  # hashed WOFF2 file name as written in the rewritten CSS
    unicode_range: str | None
    woff_basename: str | None


def font_faces(
    deps: Iterable[str],
    processed: Mapping[str, ProcessorOutput],
    outputs: Mapping[str, str],
    alternates: Mapping[str, Sequence[tuple[Any, Any]]],
) -> list[FontFace]:
    """The fonts among a CSS file's dependencies that need their ``@font-face`` edited."""
    faces = []
    for dep in deps:
        result = processed.get(dep)
        if result is None or dep not in outputs or result.suffix != ".woff2":
            continue
        urange = result.metadata.get("unicode_range")
        woff = next(
            (e.path for e, x in alternates.get(dep, ()) if getattr(x, "format", "") == "woff"),
            None,
        )
        if isinstance(urange, str) or woff:
            faces.append(
                FontFace(
                    outputs[dep].rsplit("/", 1)[-1],
                    urange if isinstance(urange, str) else None,
                    woff.rsplit("/", 1)[-1] if woff else None,
                )
            )
    return faces


def finish_font_faces(css: str, faces: Sequence[FontFace]) -> str:
    """Add ``unicode-range`` / the WOFF fallback URL to the matching ``@font-face`` blocks."""
    if not faces:
        return css
    masked = _MASK.sub(lambda m: m.group(0)[0] + "x" * (len(m.group(0)) - 1), css)
    edits: list[tuple[int, int, str]] = []
    for m in _FONT_FACE.finditer(masked):
        end = masked.find("}", m.end())
        if end < 0:
            break
        block = css[m.end() : end]
        face = next((f for f in faces if f.basename in block), None)
        if face is None:
            continue
        if face.woff_basename and face.woff_basename not in block:
            url = re.search(
                rf"url\(\s*([\"']?)([^\"')]*){re.escape(face.basename)}\1\s*\)"
                r"(\s*format\(\s*[\"']?woff2[\"']?\s*\))?",
                block,
                re.I,
            )
            if url:
                q, prefix = url.group(1), url.group(2)
                fallback = f', url({q}{prefix}{face.woff_basename}{q}) format("woff")'
                edits.append((m.end() + url.end(), m.end() + url.end(), fallback))
        if face.unicode_range and not _HAS_RANGE.search(masked[m.end() : end]):
            body = masked[m.end() : end].rstrip()
            sep = "" if not body.strip() or body.endswith(";") else ";"
            at = m.end() + len(body)
            edits.append((at, at, f"{sep}unicode-range:{face.unicode_range}"))
    for start, stop, text in sorted(edits, reverse=True):
        css = css[:start] + text + css[stop:]
    return css
