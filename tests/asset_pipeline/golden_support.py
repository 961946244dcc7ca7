"""Golden-file helpers shared by the scanner/rewrite/minify tests.

Set ``UPDATE_GOLDEN=1`` to (re)write the expected files, then review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from asset_pipeline.build.fingerprint import hashed_name
from asset_pipeline.refs import SOURCEMAP, RawRef
from asset_pipeline.refs.graph import resolve
from asset_pipeline.refs.rewrite import rewrite

GOLDEN = Path(__file__).parent / "golden"
FAKE_DIGEST = "0123456789abcdef" * 4


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs from golden output"


def describe(text: str, refs: list[RawRef]) -> str:
    lines = []
    for r in refs:
        parts = [f"L{r.line}", r.kind, repr(r.url)]
        if text[r.start : r.end] != r.url:
            parts.append(f"raw={text[r.start : r.end]!r}")
        if r.quote:
            parts.append(f"quote={r.quote}")
        if r.format_hint:
            parts.append(f"format={text[r.format_hint[0] : r.format_hint[1]]}")
        if r.comment:
            parts.append("comment")
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def rewrite_all(text: str, refs: list[RawRef], referrer: str) -> str:
    """Pretend every referenced local file exists (except source maps) and got hashed;
    ``.ttf`` targets were converted to ``.woff2``."""
    outputs: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for ref in refs:
        res = resolve(ref, referrer, "/static/")
        if res is None or ref.kind == SOURCEMAP:
            continue
        target = res.target
        out = target
        if target.endswith(".ttf"):
            out = target[: -len(".ttf")] + ".woff2"
            renamed[target] = ".woff2"
        outputs[target] = hashed_name(out, FAKE_DIGEST)
    return rewrite(text, refs, referrer, outputs, renamed, "/static/").text


def golden_sources(kind: str) -> list[Path]:
    """The inputs under ``golden/<kind>/`` (``kind`` is also their suffix), not the outputs."""
    return sorted(p for p in (GOLDEN / kind).glob(f"*.{kind}") if ".rewritten." not in p.name)


def check_references_golden(source: Path, find: Callable[[str], list[RawRef]]) -> None:
    """The references ``find`` sees in ``source`` match ``<source>.refs``."""
    text = source.read_text(encoding="utf-8")
    check_golden(source.with_suffix(".refs"), describe(text, find(text)))


def check_rewrite_golden(source: Path, find: Callable[[str], list[RawRef]]) -> None:
    """``source`` rewritten as the build would match ``<source>.rewritten.<kind>``."""
    kind = source.suffix.lstrip(".")
    text = source.read_text(encoding="utf-8")
    out = rewrite_all(text, find(text), f"{kind}/{source.name}")
    check_golden(source.with_suffix(f".rewritten.{kind}"), out)
