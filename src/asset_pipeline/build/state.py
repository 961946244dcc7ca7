""" "Nothing changed" detection, so a no-op rebuild touches neither the cache nor DIST.

After a successful build the cache records, per output directory, a key over every
input (source bytes, configuration, the config file, this package's code and installed
distributions, the hooks in use) and the hash of the ``manifest.json`` it wrote. A later
build with the same key, whose DIST still holds that manifest and every file it lists,
is already up to date. Anything else — a changed file, a deleted output, a different
option — takes the normal path, which is itself incremental.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from blake3 import blake3

from asset_pipeline.build.cache import code_fingerprint
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest


def inputs_key(config: BuildConfig, sources: Mapping[str, bytes], hook_names: Iterable[str]) -> str:
    h = blake3(b"build-state-1\0")
    h.update(repr(config).encode())
    if config.source and config.source != "defaults":
        try:
            h.update(Path(config.source).read_bytes())
        except OSError:
            h.update(b"<missing config>")
    h.update(code_fingerprint().encode())
    h.update("\n".join(hook_names).encode() + b"\0")
    for name in sorted(sources):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")  # plugin inputs: any path
        h.update(blake3(sources[name]).digest())
    digest: str = h.hexdigest()
    return digest


def _state_file(cache_root: Path, out: Path) -> Path:
    return cache_root / "state" / blake3(str(out).encode()).hexdigest()[:24]


def up_to_date(
    cache_root: Path | None, out: Path, key: str
) -> tuple[Manifest, tuple[str, ...]] | None:
    """The current manifest (and that build's warnings) when ``out`` is exactly what a
    build with ``key`` made."""
    if cache_root is None:
        return None
    try:
        state = json.loads(_state_file(cache_root, out).read_text(encoding="utf-8"))
        raw = (out / MANIFEST_NAME).read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        return None
    if state.get("manifest") != blake3(raw).hexdigest():
        return None
    try:
        manifest = load_manifest(out)
    except ManifestError:
        return None
    if not all(os.path.isfile(out / p) for p in manifest.output_paths()):
        return None
    warnings = state.get("warnings")
    if not isinstance(warnings, list):
        return None
    return manifest, tuple(str(w) for w in warnings)


def record(cache_root: Path | None, out: Path, key: str, warnings: Iterable[str]) -> None:
    if cache_root is None:
        return
    try:
        raw = (out / MANIFEST_NAME).read_bytes()
        target = _state_file(cache_root, out)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        digest = blake3(raw).hexdigest()
        tmp.write_text(json.dumps({"key": key, "manifest": digest, "warnings": list(warnings)}))
        os.replace(tmp, target)
    except OSError:
        return  # without a state file the next build only takes the longer path
