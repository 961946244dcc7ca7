"""What the build and the upload may read: links that leave the tree, special files,
link loops and names that are not UTF-8 fail with the file named; DIST stays as it was."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import boto3
import pytest

from asset_pipeline.cli import main
from asset_pipeline.file_tree import TreeError, list_files
from tests.asset_pipeline.build_support import SVG, snapshot, write_tree

SECRET = b"AWS_SECRET_ACCESS_KEY=do-not-publish-4f1c9e"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose first build succeeded (so there is a DIST to keep intact), with a
    secret file beside it, outside SRC."""
    write_tree(
        tmp_path / "static",
        {"css/app.css": ".a { background: url(../img/a.svg) }\n", "img/a.svg": SVG},
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.asset-pipeline]\nsrc = "static"\nout = "dist"\njobs = 1\n'
    )
    (tmp_path / "secret.env").write_bytes(SECRET)
    monkeypatch.chdir(tmp_path)
    assert main(["build", "-q"]) == 0
    return tmp_path


def files_holding(directory: Path, needle: bytes) -> list[str]:
    return [p.as_posix() for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def assert_failed_naming(
    site: Path, before: dict[str, bytes], capsys: pytest.CaptureFixture[str], *words: str
) -> str:
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "left unchanged" in err
    for word in words:
        assert word in err
    assert snapshot(site / "dist") == before
    return err


def test_link_to_a_file_outside_src_fails_and_the_secret_is_published_nowhere(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(site / "dist")
    link = site / "static/js/config.js"
    link.parent.mkdir()
    link.symlink_to(site / "secret.env")
    err = assert_failed_naming(site, before, capsys, str(link), str(site / "secret.env"))
    assert "HINT" in err
    assert files_holding(site / "dist", SECRET) == []
    assert files_holding(site / ".asset-cache", SECRET) == []
    assert SECRET not in (site / "dist/manifest.json").read_bytes()


def test_link_to_proc_is_refused(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(site / "dist")
    (site / "static/env.js").symlink_to("/proc/self/environ")
    assert_failed_naming(site, before, capsys, str(site / "static/env.js"), "/proc/")
    assert files_holding(site / ".asset-cache", b"PATH=") == []


def test_directory_link_outside_src_fails(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = site / "elsewhere"
    write_tree(outside, {"keys.js": SECRET})
    before = snapshot(site / "dist")
    (site / "static/vendor").symlink_to(outside)
    assert_failed_naming(site, before, capsys, str(site / "static/vendor"), str(outside))
    assert files_holding(site / ".asset-cache", SECRET) == []


def test_links_inside_src_keep_working(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "static/img/b.svg").symlink_to("a.svg")
    (site / "static/icons").symlink_to("img", target_is_directory=True)
    assert main(["build", "-q"]) == 0
    manifest = (site / "dist/manifest.json").read_text()
    assert '"img/b.svg"' in manifest
    assert '"icons/a.svg"' in manifest


def test_allow_symlink_targets_opts_in_to_named_directories(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(site / "shared/fonts", {"note.txt": "shared\n"})
    (site / "static/note.txt").symlink_to(site / "shared/fonts/note.txt")
    assert main(["build", "-q"]) == 1
    with (site / "pyproject.toml").open("a") as fh:
        fh.write('allow_symlink_targets = ["shared/fonts"]\n')
    assert main(["build", "-q"]) == 0
    assert '"note.txt"' in (site / "dist/manifest.json").read_text()
    (site / "static/secret.txt").symlink_to(site / "secret.env")  # still outside
    capsys.readouterr()
    assert main(["build", "-q"]) == 1
    assert "secret.env" in capsys.readouterr().err


def test_allow_symlink_targets_never_opens_proc(site: Path) -> None:
    with (site / "pyproject.toml").open("a") as fh:
        fh.write('allow_symlink_targets = ["/"]\n')
    (site / "static/env.js").symlink_to("/proc/self/environ")
    assert main(["build", "-q"]) == 1


def test_a_fifo_fails_the_build_instead_of_hanging_it(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(site / "dist")
    fifo = site / "static/css/pipe.css"
    os.mkfifo(fifo)
    unblock = threading.Timer(20, lambda: fifo.open("wb").close())  # a hang ends, as a failure
    unblock.start()
    try:
        assert_failed_naming(site, before, capsys, str(fifo), "FIFO")
    finally:
        unblock.cancel()


def test_symlink_loops_are_a_clear_error(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(site / "dist")
    (site / "static/css/self.css").symlink_to("self.css")
    (site / "static/css/up").symlink_to("..", target_is_directory=True)
    err = assert_failed_naming(site, before, capsys, "symbolic link loop")
    assert str(site / "static/css/self.css") in err
    assert str(site / "static/css/up") in err


def test_a_name_that_is_not_utf8_fails_naming_the_file(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(site / "dist")
    with open(os.path.join(os.fsencode(site / "static/css"), b"bad\xff.css"), "wb") as fh:
        fh.write(b"a{}")
    err = assert_failed_naming(site, before, capsys, "bad\\xff.css", "not valid UTF-8", "HINT")
    assert "Traceback" not in err


def test_ignored_entries_are_not_checked(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    (tmp_path / "src/.secret").symlink_to("/etc/passwd")
    (tmp_path / "src/skip").symlink_to("/etc", target_is_directory=True)
    visible = list_files(tmp_path / "src", keep=lambda rel: not rel.startswith((".", "skip")))
    assert visible == ["a.css"]
    with pytest.raises(TreeError) as info:
        list_files(tmp_path / "src", keep=lambda rel: True)
    assert len(info.value.problems) == 2


def test_upload_refuses_a_link_in_dist_that_leaves_it(
    site: Path, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    link = site / "dist/robots.txt"
    link.symlink_to(site / "secret.env")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="assets")
    upload = ["upload", "dist", "--bucket", "assets", "--endpoint-url", s3_endpoint]
    assert main([*upload, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "dist/robots.txt: symbolic link to " + str(site / "secret.env") in err
    assert s3.list_objects_v2(Bucket="assets").get("KeyCount", 0) == 0
    link.unlink()
    assert main([*upload, "--no-progress"]) == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="assets")["Contents"]]
    assert "manifest.json" in keys


def test_link_to_a_hidden_file_inside_src_fails_and_the_secret_is_published_nowhere(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "static/.env").write_bytes(SECRET)
    before = snapshot(site / "dist")
    link = site / "static/js/config.js"
    link.parent.mkdir()
    link.symlink_to("../.env")
    target = os.path.realpath(site / "static/.env")
    err = assert_failed_naming(site, before, capsys, str(link), target, "HINT")
    assert files_holding(site / "dist", SECRET) == []
    assert files_holding(site / ".asset-cache", SECRET) == []
    assert SECRET not in (site / "dist/manifest.json").read_bytes()
    assert "Traceback" not in err


def test_link_into_an_ignored_directory_inside_src_fails(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (site / "pyproject.toml").open("a") as fh:
        fh.write('ignore = ["node_modules/", "*.key"]\n')
    write_tree(
        site / "static",
        {"node_modules/pkg/secret.js": SECRET, "keys/site.key": SECRET, "lib/ok.js": "x;\n"},
    )
    assert main(["build", "-q"]) == 0  # ignored files stay out
    before = snapshot(site / "dist")
    (site / "static/js").mkdir()
    (site / "static/js/a.js").symlink_to("../node_modules/pkg/secret.js")
    (site / "static/js/b.js").symlink_to("../keys/site.key")
    (site / "static/vendor").symlink_to("node_modules/pkg", target_is_directory=True)
    (site / "static/js/ok.js").symlink_to("../lib/ok.js")  # a link to a kept file is fine
    err = assert_failed_naming(
        site,
        before,
        capsys,
        str(site / "static/js/a.js"),
        str(site / "static/js/b.js"),
        str(site / "static/vendor"),
    )
    assert "ok.js" not in err
    assert files_holding(site / ".asset-cache", SECRET) == []


def test_files_under_a_directory_link_are_judged_by_their_real_path(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"conf/secret.js": SECRET, "conf/app.js": "x;\n"})
    (tmp_path / "src/alias").symlink_to("conf", target_is_directory=True)
    with pytest.raises(TreeError) as info:
        list_files(tmp_path / "src", keep=lambda rel: rel != "conf/secret.js")
    [problem] = info.value.problems
    assert problem.startswith(str(tmp_path / "src/alias/secret.js") + ": ")
    assert "conf/secret.js" in problem
    assert list_files(tmp_path / "src", keep=lambda rel: True) == [
        "alias/app.js",
        "alias/secret.js",
        "conf/app.js",
        "conf/secret.js",
    ]
