"""Object headers for an upload: Content-Type and Cache-Control, decided per file.

Pure functions, no I/O. django-storages applies one ``CacheControl`` to every object;
a real deployment needs at least two lifetimes (immutable fingerprinted files versus
entry points that must be revalidated), and usually a few per-glob exceptions (HTML
for five minutes, ``robots.txt`` for a day), so the rules are an ordered glob list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from asset_pipeline.errors import ConfigError
from asset_pipeline.media_types import guess_type, with_charset

#: Cache-Control for fingerprinted files: the name changes when the bytes do.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Cache-Control for entry points (manifest, sw.js, HTML): always revalidate.
REVALIDATE = "no-cache"

#: What S3 would accept in a header value: visible ASCII and spaces.
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]+$")


class RuleError(ConfigError):
    """An upload rule (glob or Cache-Control value) cannot be used."""


@dataclass(frozen=True, slots=True)
class CacheRule:
    """``glob`` is matched against the path relative to the build directory; a glob
    without ``/`` matches the file name in any folder (like ``.gitignore``)."""

    glob: str
    cache_control: str

    def matches(self, rel_path: str) -> bool:
        if "/" not in self.glob:
            return fnmatchcase(rel_path.rsplit("/", 1)[-1], self.glob)
        return fnmatchcase(rel_path, self.glob.lstrip("/"))


@dataclass(frozen=True, slots=True)
class UploadRules:
    """How headers are chosen. First matching ``rules`` entry wins; otherwise
    ``immutable`` for fingerprinted files and ``revalidate`` for everything else."""

    rules: tuple[CacheRule, ...] = ()
    immutable: str = IMMUTABLE
    revalidate: str = REVALIDATE
    charset: str = "utf-8"

    def cache_control(self, rel_path: str, *, fingerprinted: bool) -> str:
        for rule in self.rules:
            if rule.matches(rel_path):
                return rule.cache_control
        return self.immutable if fingerprinted else self.revalidate

    def content_type(self, rel_path: str, declared: str | None = None) -> str:
        """``declared`` is the manifest's type; a charset is added to textual types."""
        return with_charset(declared or guess_type(rel_path), self.charset)


def check_header_value(value: str, where: str) -> str:
    value = value.strip()
    if not value or not _HEADER_VALUE.match(value):
        raise RuleError(
            f"{where}: Cache-Control {value!r} is empty or has characters a header cannot "
            "carry. HINT: use a plain value such as 'public, max-age=300'."
        )
    return value


def parse_rules(items: Iterable[tuple[str, str]], where: str) -> tuple[CacheRule, ...]:
    """Validate ``(glob, cache_control)`` pairs from the CLI or pyproject."""
    rules = []
    for glob, value in items:
        glob = glob.strip()
        if not glob:
            raise RuleError(f"{where}: empty glob. HINT: write e.g. '*.html=no-cache'.")
        rules.append(CacheRule(glob, check_header_value(value, f"{where} {glob!r}")))
    return tuple(rules)


def parse_cli_rule(text: str) -> tuple[str, str]:
    """``--cache-control 'GLOB=VALUE'``; the value may itself contain ``=``."""
    glob, sep, value = text.partition("=")
    if not sep:
        raise RuleError(
            f"--cache-control {text!r}: expected GLOB=VALUE. "
            "HINT: --cache-control '*.html=public, max-age=300'."
        )
    return glob, value


def rules_from_table(table: Mapping[str, object], where: str) -> tuple[CacheRule, ...]:
    """The ``cache_control = {"*.html" = "..."}`` table of ``[tool.asset-pipeline.upload]``."""
    pairs = []
    for glob, value in table.items():
        if not isinstance(value, str):
            raise RuleError(
                f"{where}: cache_control for {glob!r} must be a string, "
                f'not {type(value).__name__}. HINT: "*.html" = "no-cache".'
            )
        pairs.append((glob, value))
    return parse_rules(pairs, where)
