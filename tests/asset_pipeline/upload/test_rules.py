"""Cache-Control and Content-Type rules for uploaded objects (pure)."""

from __future__ import annotations

import pytest

from asset_pipeline.upload.rules import (
    IMMUTABLE,
    REVALIDATE,
    CacheRule,
    RuleError,
    UploadRules,
    parse_cli_rule,
    parse_rules,
    rules_from_table,
)


def test_defaults_split_fingerprinted_from_entry_points() -> None:
    rules = UploadRules()
    assert rules.cache_control("js/app.3f2a1b9c0d.js", fingerprinted=True) == IMMUTABLE
    assert rules.cache_control("sw.js", fingerprinted=False) == REVALIDATE
    assert IMMUTABLE == "public, max-age=31536000, immutable"


def test_first_matching_glob_wins_over_the_defaults() -> None:
    rules = UploadRules(
        rules=(
            CacheRule("*.html", "public, max-age=300"),
            CacheRule("docs/*", "public, max-age=60"),
            CacheRule("*", "private"),
        )
    )
    assert rules.cache_control("index.html", fingerprinted=False) == "public, max-age=300"
    assert rules.cache_control("docs/a/b.html", fingerprinted=False) == "public, max-age=300"
    assert rules.cache_control("docs/a/b.txt", fingerprinted=False) == "public, max-age=60"
    assert rules.cache_control("app.abc.js", fingerprinted=True) == "private"


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("*.html", "a/b/index.html", True),  # no slash: the file name, any folder
        ("sw.js", "sub/sw.js", True),
        ("sw.js", "sw.json", False),
        ("/sw.js", "sw.js", True),  # with a slash: the whole relative path
        ("img/*.png", "img/x.png", True),
        ("img/*.png", "static/img/x.png", False),
        ("*.HTML", "index.html", False),  # case-sensitive, like S3 keys
    ],
)
def test_glob_semantics(glob: str, path: str, matches: bool) -> None:
    assert CacheRule(glob, "no-cache").matches(path) is matches


@pytest.mark.parametrize(
    ("path", "declared", "expected"),
    [
        ("app.js", None, "text/javascript; charset=utf-8"),
        ("mod.mjs", None, "text/javascript; charset=utf-8"),
        ("app.css", None, "text/css; charset=utf-8"),
        ("manifest.json", None, "application/json; charset=utf-8"),
        ("app.js.map", None, "application/json; charset=utf-8"),
        ("site.webmanifest", None, "application/manifest+json; charset=utf-8"),
        ("icon.svg", None, "image/svg+xml; charset=utf-8"),
        ("photo.avif", None, "image/avif"),
        ("font.woff2", None, "font/woff2"),
        ("blob.unknownext", None, "application/octet-stream"),
        ("x.css", "text/css; charset=iso-8859-1", "text/css; charset=iso-8859-1"),
        ("x.bin", "text/plain", "text/plain; charset=utf-8"),
        ("x.png", "image/png", "image/png"),
    ],
)
def test_content_type_adds_charset_to_textual_types_only(
    path: str, declared: str | None, expected: str
) -> None:
    assert UploadRules().content_type(path, declared) == expected


def test_cli_rule_value_may_contain_equals() -> None:
    assert parse_cli_rule("*.html=max-age=60") == ("*.html", "max-age=60")
    with pytest.raises(RuleError, match="GLOB=VALUE"):
        parse_cli_rule("*.html")


@pytest.mark.parametrize("value", ["", "   ", "max-age=60\r\nX-Injected: 1", "caf\u00e9"])
def test_unusable_header_values_are_refused_with_a_hint(value: str) -> None:
    with pytest.raises(RuleError, match="HINT"):
        parse_rules([("*.html", value)], "--cache-control")


def test_empty_glob_is_refused() -> None:
    with pytest.raises(RuleError, match="empty glob"):
        parse_rules([(" ", "no-cache")], "--cache-control")


def test_table_rules_keep_order_and_check_types() -> None:
    rules = rules_from_table({"*.html": "no-cache", "robots.txt": " max-age=86400 "}, "cfg")
    assert rules == (CacheRule("*.html", "no-cache"), CacheRule("robots.txt", "max-age=86400"))
    with pytest.raises(RuleError, match="must be a string"):
        rules_from_table({"*.html": 300}, "cfg")
