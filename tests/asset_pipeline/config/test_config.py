from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.config import (
    BuildConfig,
    ConfigError,
    PrecompressConfig,
    glob_match,
    load_config,
)

PYPROJECT = """
[project]
name = "site"

[tool.asset-pipeline]
src = "static"
out = "dist"
url_prefix = "/assets/"
ignore = ["*.scss", "drafts/"]
hash_length = 12
missing_reference = "warn"
precompress = { gzip = false, min_saving = 0.1 }
manifest_format = ["django"]

[tool.asset-pipeline.css]
minify = true

[[tool.asset-pipeline.css.rules]]
glob = "vendor/**"
minify = false

[[tool.asset-pipeline.css.rules]]
glob = "vendor/keep/*.css"
minify = true
keep_bang_comments = false

[tool.asset-pipeline.images]
quality = 70
"""


def test_pyproject_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    config = load_config(cwd=tmp_path / "sub" / "deeper")
    assert config.root == tmp_path.resolve()
    assert config.resolve(config.src or Path()) == tmp_path.resolve() / "static"
    assert config.url_prefix == "/assets/"
    assert config.ignore == ("*.scss", "drafts/")
    assert config.hash_length == 12
    assert config.missing_reference == "warn"
    assert config.precompress == PrecompressConfig(gzip=False, min_saving=0.1)
    assert config.manifest_formats == ("django",)


def test_rules_overlay_in_order_later_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    config = load_config(cwd=tmp_path)
    assert config.options_for("css", "app.css") == {"minify": True}
    assert config.options_for("css", "vendor/lib/x.css") == {"minify": False}
    assert config.options_for("css", "vendor/keep/y.css") == {
        "minify": True,
        "keep_bang_comments": False,
    }
    assert config.options_for("images", "a.png") == {"quality": 70}
    assert config.options_for("fonts", "a.ttf") == {}


def test_config_file_with_top_level_keys(tmp_path: Path) -> None:
    path = tmp_path / "assets.toml"
    path.write_text('src = "s"\nout = "o"\njobs = 3\n[js]\nminify = false\n')
    config = load_config(path)
    assert (config.src, config.out, config.jobs) == (Path("s"), Path("o"), 3)
    assert config.options_for("js", "a.js") == {"minify": False}
    assert config.source == str(path)


def test_no_config_anywhere_gives_defaults(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.url_prefix == "/static/"
    assert config.hash_length == 10
    assert config.name_pattern == "{name}.{hash}{ext}"
    assert config.precompress.enabled == ("br", "gzip")


@pytest.mark.parametrize(
    ("toml", "enabled"),
    [
        ("precompress = true", ("br", "gzip")),
        ("precompress = false", ()),
        ("precompress = { zstd = true }", ("zstd", "br", "gzip")),
    ],
)
def test_precompress_switch_keeps_the_default_codings(
    tmp_path: Path, toml: str, enabled: tuple[str, ...]
) -> None:
    """``precompress = true`` means the defaults, not every coding there is."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.asset-pipeline]\n{toml}\n")
    assert load_config(cwd=tmp_path).precompress.enabled == enabled


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("srcdir = 'x'\nfoo = 1", r"unknown key\(s\) in \[tool.asset-pipeline\]: foo, srcdir"),
        ("hash_length = 'ten'", "hash_length must be a positive integer"),
        ("hash_length = 2", "hash_length must be 4..64"),
        ("missing_reference = 'ignore'", 'missing_reference must be "error" or "warn"'),
        ("url_prefix = 'static'", "url_prefix 'static' must start and end with '/'"),
        ("name_pattern = '{name}{ext}'", "must contain {hash} and {ext}"),
        (
            "precompress = { brotli = true }",
            r"unknown key\(s\) in \[tool.asset-pipeline.precompress\]: brotli",
        ),
        (
            "precompress = { zstd_level = 40 }",
            "precompress.zstd_level must be an integer from 1 to 22",
        ),
        ("manifest_format = ['rails']", "manifest_format must be a list drawn from django, vite"),
        (
            "[[css.rules]]\nminify = false",
            r'css.rules\[0\] must be a table with a string "glob" key',
        ),
        ("bundler_hash_pattern = '('", "bundler_hash_pattern is not a valid regex"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "HINT" in str(info.value)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text("src = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "x.toml")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*.css", "a/b/c.css", True),
        ("vendor/**", "vendor/a/b.css", True),
        ("vendor/*.css", "vendor/a/b.css", False),
        ("**/min/*.js", "x/y/min/a.js", True),
        ("**/min/*.js", "min/a.js", True),
        ("drafts/", "drafts/x.css", True),
        ("a?.js", "ab.js", True),
        ("a?.js", "a/.js", False),
    ],
)
def test_glob_match(pattern: str, name: str, expected: bool) -> None:
    assert glob_match(pattern, name) is expected


def test_workers_default_to_cpu_count() -> None:
    assert BuildConfig().workers >= 1
    assert BuildConfig(jobs=3).workers == 3
