"""The CSS and JS reference scanners against their golden files (``golden/css``,
``golden/js``): what each finds, and the source as the build rewrites it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from asset_pipeline.refs import RawRef, css, js
from tests.asset_pipeline.golden_support import (
    check_references_golden,
    check_rewrite_golden,
    golden_sources,
)

FINDERS: dict[str, Callable[[str], list[RawRef]]] = {
    "css": css.find_references,
    "js": js.find_references,
}
SOURCES = [source for kind in FINDERS for source in golden_sources(kind)]


def finder(source: Path) -> Callable[[str], list[RawRef]]:
    return FINDERS[source.suffix.lstrip(".")]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_references_match_golden(source: Path) -> None:
    check_references_golden(source, finder(source))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_rewrite_matches_golden(source: Path) -> None:
    check_rewrite_golden(source, finder(source))
