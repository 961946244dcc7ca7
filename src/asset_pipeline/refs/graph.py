"""The reference graph: which files exist, what each references, and a leaves-first order.

Fingerprints are taken *after* references are rewritten, so a file can only be named
once everything it points to is named; that needs a topological order, and a cycle
makes naming impossible — it is reported with the files on the cycle.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from asset_pipeline.config.model import glob_match
from asset_pipeline.errors import AssetPipelineError
from asset_pipeline.file_tree import list_files
from asset_pipeline.refs import SOURCEMAP, RawRef, css, is_external, js, split_suffix

RefFinder = Callable[[str], list[RawRef]]
_SCANNERS: dict[str, RefFinder] = {
    ".css": css.find_references,
    ".js": js.find_references,
    ".mjs": js.find_references,
}
_JS_KINDS = {"module", "dynamic-import", "import-meta-url"}


class CycleError(AssetPipelineError, ValueError):
    """Files reference each other in a loop, so none of them can be fingerprinted."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        chain = " -> ".join([*cycle, cycle[0]])
        super().__init__(
            f"reference cycle: {chain}. HINT: content hashes cannot be computed for files "
            "that reference each other; break the cycle (e.g. move the shared part into a "
            "third file) or exclude one of them with `ignore`."
        )


@dataclass(frozen=True, slots=True)
class Resolved:
    """A local reference: the logical target, the ``?query#fragment`` to keep, and
    whether it was written root-relative (``/static/…``) or relative."""

    target: str
    suffix: str
    root_relative: bool
    dot: bool = False


@dataclass(frozen=True, slots=True)
class Missing:
    referrer: str
    line: int
    url: str
    target: str
    is_sourcemap: bool

    def describe(self) -> str:
        where = "outside the source tree" if self.target.startswith("..") else self.target
        return f"{self.referrer}:{self.line}: reference to missing file {self.url!r} ({where})"


def scanner_for(name: str) -> RefFinder | None:
    return _SCANNERS.get(posixpath.splitext(name)[1].lower())


def discover(
    src: Path,
    *,
    ignore: Iterable[str] = (),
    ignore_hidden: bool = True,
    allow_symlink_targets: Iterable[Path] = (),
) -> list[str]:
    """Logical names (``css/app.css``) of every file under ``src``, sorted. Raises
    ``file_tree.TreeError`` for links that leave ``src``, special files and names that
    are not UTF-8 (ignored entries are never looked at)."""
    patterns = tuple(ignore)

    def keep(rel: str) -> bool:
        if ignore_hidden and rel.rstrip("/").rsplit("/", 1)[-1].startswith("."):
            return False
        return not _ignored(rel, patterns)

    hint = (
        f"copy the file into {src}, or name its directory in allow_symlink_targets in "
        "[tool.asset-pipeline]."
    )
    return list_files(src, keep=keep, allow_symlink_targets=allow_symlink_targets, hint=hint)


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    return any(glob_match(p, name) or glob_match(p, name.rstrip("/")) for p in patterns)


def resolve(ref: RawRef, referrer: str, url_prefix: str) -> Resolved | None:
    """Map a reference to a logical name, or ``None`` when the build must leave it alone
    (external, ``data:``, fragment-only, bare module specifier, outside the prefix)."""
    url = ref.url.strip()
    if is_external(url):
        return None
    if ref.kind in _JS_KINDS and not js.is_local_specifier(url):
        return None
    path, suffix = split_suffix(url)
    if not path:
        return None
    path = unquote(path)
    if path.startswith("/"):
        if not path.startswith(url_prefix):
            return None  # served by the application, not part of this build
        target = posixpath.normpath(path[len(url_prefix) :])
        root_relative = True
    else:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(referrer), path))
        root_relative = False
    dot = url.startswith("./") or ref.kind in _JS_KINDS
    return Resolved(target, suffix, root_relative, dot)


@dataclass(frozen=True, slots=True)
class Graph:
    """``deps[name]`` are the distinct existing logical names ``name`` references."""

    deps: Mapping[str, tuple[str, ...]]
    missing: tuple[Missing, ...]


def build_graph(
    names: Iterable[str], refs: Mapping[str, Sequence[RawRef]], url_prefix: str
) -> Graph:
    existing = set(names)
    deps: dict[str, tuple[str, ...]] = {}
    missing: list[Missing] = []
    for name in sorted(existing):
        seen: dict[str, None] = {}
        for ref in refs.get(name, ()):
            res = resolve(ref, name, url_prefix)
            if res is None:
                continue
            if res.target in existing:
                seen.setdefault(res.target)  # a self-reference is a cycle of one
            else:
                missing.append(Missing(name, ref.line, ref.url, res.target, ref.kind == SOURCEMAP))
        deps[name] = tuple(seen)
    return Graph(deps, tuple(missing))


#: Reference kinds that only an ES module can contain (``import``/``export … from``,
#: ``import.meta``), and the kinds whose target is loaded as one (``import()`` too).
_MODULE_SYNTAX = frozenset({"module", "import-meta-url"})
_LOADS_A_MODULE = frozenset({"module", "dynamic-import"})


def es_modules(
    names: Iterable[str], refs: Mapping[str, Sequence[RawRef]], url_prefix: str
) -> frozenset[str]:
    """The JavaScript files that must run as ES modules: ``.mjs`` files, files with
    ``import``/``export … from``/``import.meta``, and files another one imports. A page
    has to load these with ``<script type="module">`` (a classic script stops at the
    first ``import``), so the manifest records the answer for the template helpers."""
    existing = set(names)
    found: set[str] = set()
    for name in existing:
        if posixpath.splitext(name)[1].lower() not in (".js", ".mjs"):
            continue
        own = refs.get(name, ())
        if name.lower().endswith(".mjs") or any(r.kind in _MODULE_SYNTAX for r in own):
            found.add(name)
        for ref in own:
            if ref.kind in _LOADS_A_MODULE:
                res = resolve(ref, name, url_prefix)
                if res is not None and res.target in existing:
                    found.add(res.target)
    return frozenset(found)


def topo_order(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Every name after all the names it depends on; raises CycleError on a loop."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(deps):
        if state.get(root):
            continue
        # Iterative DFS so deep chains cannot hit the recursion limit.
        path: list[str] = [root]
        iters = [iter(deps.get(root, ()))]
        state[root] = 1
        while path:
            child = next(iters[-1], None)
            if child is None:
                state[path[-1]] = 2
                order.append(path.pop())
                iters.pop()
            elif state.get(child) == 1:
                raise CycleError(path[path.index(child) :])
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                iters.append(iter(deps.get(child, ())))
    return order


def url_for(target_output: str, referrer: str, resolved: Resolved, url_prefix: str) -> str:
    """The URL to write in place of a reference, in the same style as the original."""
    if resolved.root_relative:
        path = url_prefix + target_output
    else:
        path = relative_path(target_output, posixpath.dirname(referrer))
        if not path.startswith("../"):
            path = "./" + path if resolved.dot else path
    return quote(path, safe="/-._~!$&*+,;=:@") + resolved.suffix


def relative_path(path: str, start: str) -> str:
    """``posixpath.relpath(path, start)`` for two normalised paths below the same root
    (``start`` may be ``""`` for the root itself). relpath makes both absolute first,
    asking the system for the working directory twice per reference."""
    base = start.split("/") if start and start != "." else []
    parts = path.split("/")
    common = 0
    for a, b in zip(base, parts, strict=False):
        if a != b:
            break
        common += 1
    return "/".join([".."] * (len(base) - common) + parts[common:]) or "."
