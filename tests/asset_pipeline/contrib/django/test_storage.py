"""``AssetPipelineStorage``: collectstatic is a real build over the collected files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from asset_pipeline.manifest import load_manifest
from tests.support.django_site import EXAMPLE, collectstatic, setup_django_site

pytest.importorskip("django")

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.test import override_settings

from asset_pipeline.contrib.django.storage import (
    AssetPipelineStorage,
    url_prefix_of,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """The example's static tree collected into this test's own STATIC_ROOT."""
    setup_django_site()
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE / "static", source)
    with override_settings(STATIC_ROOT=tmp_path / "static", STATICFILES_DIRS=[source]):
        yield tmp_path


def test_collectstatic_builds_the_tree_with_the_traps_a_manifest_storage_fails_on(
    site: Path,
) -> None:
    collectstatic()
    manifest = load_manifest(site / "static")
    css = manifest["css/app.css"]
    assert css.fingerprinted
    assert css.path != "css/app.css"
    built = (site / "static" / css.path).read_text()
    assert "../img/old-banner.png" in built  # the url() in a comment is left alone
    assert "sourceMappingURL" not in built  # the missing map: a warning, comment stripped
    assert manifest["fonts/deck-serif.ttf"].path.endswith(".woff2")
    assert {a.format for a in manifest["img/hero.jpg"].alternates} >= {"webp"}
    assert (site / "static" / (css.path + ".br")).exists()
    # the collected sources stay beside STATIC_ROOT, never inside it (they'd be served)
    assert (site / "static-collected" / "css" / "app.css").exists()
    assert not (site / "static" / "css" / "app.css").exists()


def test_django_manifest_storage_fails_on_the_same_tree(site: Path) -> None:
    """The reason this storage exists: Django's own fails on a url() in a comment."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages), pytest.raises(ValueError, match="old-banner"):
        collectstatic()


def test_static_resolves_hashed_names_and_plain_ones_in_debug(site: Path) -> None:
    from django.templatetags.static import static

    collectstatic()
    path = load_manifest(site / "static")["css/app.css"].path
    assert static("css/app.css") == f"/static/{path}"
    assert static("css/app.css?v=1#top") == f"/static/{path}?v=1#top"
    with override_settings(DEBUG=True):
        assert static("css/app.css") == "/static/css/app.css"
    with pytest.raises(ValueError, match=r"'css/nope\.css'.*HINT"):
        static("css/nope.css")


def test_a_failed_build_fails_collectstatic_and_leaves_static_root_alone(site: Path) -> None:
    collectstatic()
    before = (site / "static" / "manifest.json").read_bytes()
    (site / "source" / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    with pytest.raises(CommandError) as failed:
        collectstatic()
    message = str(failed.value)
    assert "img/broken.png" in message
    assert "STATIC_ROOT" in message
    assert "left as it was" in message
    assert (site / "static" / "manifest.json").read_bytes() == before
    path = load_manifest(site / "static")["css/app.css"].path
    assert (site / "static" / path).exists()


def test_options_config_and_missing_manifest_errors(site: Path) -> None:
    storage = AssetPipelineStorage(config={"hash_length": 8})
    config = storage.build_config()
    assert config.hash_length == 8
    assert config.src == (site / "static-collected").resolve()
    assert config.out == (site / "static").resolve()
    assert config.url_prefix == "/static/"
    with pytest.raises(CommandError, match="unknown key"):
        AssetPipelineStorage(config={"hash_lenght": 8}).build_config()
    with pytest.raises(
        ValueError, match=r"no manifest.*HINT: run `python manage.py collectstatic`"
    ):
        storage.url("css/app.css")
    assert AssetPipelineStorage(manifest_strict=False).url("x.css") == "/static/x.css"


def test_bad_options_are_clear_errors(site: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="must be a mapping"):
        AssetPipelineStorage(config=["images"])  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match=r"collect_dir.*is STATIC_ROOT"):
        AssetPipelineStorage(collect_dir=site / "static")
    with (
        override_settings(STATIC_ROOT=None),
        pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"),
    ):
        AssetPipelineStorage()


def test_url_prefix_follows_static_url() -> None:
    assert url_prefix_of("/static/") == "/static/"
    assert url_prefix_of("assets") == "/assets/"
    assert url_prefix_of("https://cdn.example.com/site/static/") == "/site/static/"
    assert url_prefix_of("https://cdn.example.com") == "/"


def test_without_options_the_nearest_pyproject_configures_the_build(site: Path) -> None:
    project = site / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.asset-pipeline]\nhash_length = 12\nsrc = "ignored"\nurl_prefix = "/ignored/"\n'
    )
    with override_settings(BASE_DIR=project / "mysite"):
        config = AssetPipelineStorage().build_config()
    assert config.hash_length == 12
    assert config.src == (site / "static-collected").resolve()  # always from the settings
    assert config.url_prefix == "/static/"
    assert config.cache_dir == (site / ".asset-cache").resolve()
    with override_settings(BASE_DIR=project):
        (project / "pyproject.toml").write_text("[tool.asset-pipeline]\nhash_length = 'x'\n")
        with pytest.raises(CommandError, match=r"asset-pipeline configuration: .*hash_length"):
            AssetPipelineStorage().build_config()
