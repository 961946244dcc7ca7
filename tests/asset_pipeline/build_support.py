"""Helpers for the build tests: write a source tree, build it, read outputs back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asset_pipeline.build import BuildHooks, BuildResult, build
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import Manifest, load_manifest

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>\n'


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


def run(tmp: Path, *, hooks: BuildHooks | None = None, **overrides: Any) -> BuildResult:
    config = BuildConfig(
        src=tmp / "src", out=tmp / "dist", root=tmp, cache_dir=tmp / "cache", jobs=1
    )
    for key, value in overrides.items():
        object.__setattr__(config, key, value)
    return build(config, hooks=hooks)


def output_text(tmp: Path, manifest: Manifest, name: str) -> str:
    return (tmp / "dist" / manifest[name].path).read_text(encoding="utf-8")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def dist_manifest(tmp: Path) -> Manifest:
    return load_manifest(tmp / "dist")
