from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from asset_pipeline.build.cli import ProgressBar
from asset_pipeline.cli import main
from tests.asset_pipeline.build_support import SVG, snapshot, write_tree
from tests.asset_pipeline.processors.test_fonts import build_font


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_tree(
        tmp_path / "static",
        {"css/app.css": ".a { background: url(../img/a.svg) }\n", "img/a.svg": SVG},
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.asset-pipeline]\nsrc = "static"\nout = "dist"\njobs = 1\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_build_from_pyproject_prints_summary(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "css" in out
    assert "total" in out
    assert "processed 1, reused 0 from cache" in out
    assert (site / "dist" / "manifest.json").is_file()
    assert (site / ".asset-cache").is_dir()
    assert main(["build"]) == 0
    assert "2 files up to date" in capsys.readouterr().out
    (site / "static/css/app.css").write_text(".a { color: red }\n")
    assert main(["build"]) == 0
    assert "processed 1, reused 0 from cache" in capsys.readouterr().out


def test_cli_arguments_override_config(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "build",
            "static",
            "--out",
            "elsewhere",
            "--url-prefix",
            "/assets/",
            "--no-cache",
            "--manifest-format",
            "vite",
            "-v",
        ]
    )
    assert code == 0
    manifest = json.loads((site / "elsewhere/manifest.json").read_text())
    assert manifest["url_prefix"] == "/assets/"
    assert (site / "elsewhere/.vite/manifest.json").is_file()
    assert not (site / ".asset-cache").exists()
    assert "css/app.css -> css/app." in capsys.readouterr().out


def test_quiet_prints_nothing_and_dry_run_writes_nothing(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--quiet", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert not (site / "dist").exists()
    assert main(["build", "--dry-run"]) == 0
    assert "checked (dry run)" in capsys.readouterr().out


def test_build_failure_exits_1_and_keeps_dist(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "-q"]) == 0
    before = snapshot(site / "dist")
    (site / "static/css/app.css").write_text(".a { background: url(missing.svg) }\n")
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "left unchanged" in err
    assert "css/app.css:1: reference to missing file 'missing.svg'" in err
    assert snapshot(site / "dist") == before


def test_usage_errors_exit_2(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "pyproject.toml").write_text('[tool.asset-pipeline]\nsrcs = "static"\n')
    assert main(["build", "static", "--out", "d"]) == 2
    assert "unknown key(s) in [tool.asset-pipeline]: srcs" in capsys.readouterr().err
    assert main(["build", "static", "--out", "d", "--config", "nope.toml"]) == 2
    assert main(["build", "--bogus-flag"]) == 2


def test_build_without_src_or_out_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # no arguments and no [tool.asset-pipeline] to take them from: a usage error (exit 2)
    # naming what is missing, not a failed build of "None"
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    err = capsys.readouterr().err
    assert "None" not in err
    assert "usage: asset-pipeline build" in err
    assert "no source directory (SRC) or output directory (--out) given" in err
    assert "(missing: SRC and --out DIST)" in err
    assert "HINT:" in err
    (tmp_path / "static").mkdir()
    assert main(["build", "static"]) == 2
    assert "(missing: --out DIST)" in capsys.readouterr().err


def test_summary_counts_image_variants_and_says_when_avif_is_dropped(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a noisy little photo: at every size AVIF lands above WebP, so the build ships WebP only
    from tests.asset_pipeline.processors.test_images import encode, photo

    (site / "static/img/a.jpg").write_bytes(encode(photo((96, 64)), "JPEG", quality=90))
    with (site / "pyproject.toml").open("a") as f:
        f.write("[tool.asset-pipeline.images]\nwidths = [32]\n")
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    built = json.loads((site / "dist/manifest.json").read_text())["files"]
    variants = len(built["img/a.jpg"]["alternates"])
    assert variants == 3  # a.webp, a.w32.jpg, a.w32.webp
    image_row = next(line for line in out.splitlines() if line.startswith("image"))
    assert image_row.split()[1:3] == ["1", "3"]  # files, variants
    assert f"3 files + {variants} variants (other formats and widths) written to" in out
    assert "AVIF dropped at 2 of 2 image sizes (1 image): not smaller than WebP" in out
    assert 'HINT: formats = ["avif"]' in out
    assert main(["build", "-v", "--no-cache", "--out", "again"]) == 0
    out = capsys.readouterr().out
    assert "img/a.jpg: AVIF dropped at 96w, 32w (not smaller than WebP)" in out


def test_missing_source_dir_is_a_build_error(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "nowhere", "--out", "d"]) == 1
    assert "source directory does not exist" in capsys.readouterr().err


def test_inspect_table_json_and_verify(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "-q"]) == 0
    assert main(["inspect", "dist"]) == 0
    table = capsys.readouterr().out
    assert "logical name" in table
    assert "css/app.css" in table
    assert "text/css" in table
    assert main(["inspect", "dist", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"]["img/a.svg"]["path"].startswith("img/a.")
    assert main(["inspect", "dist", "--verify"]) == 0
    manifest = json.loads((site / "dist/manifest.json").read_text())
    (site / "dist" / manifest["files"]["img/a.svg"]["path"]).write_text("tampered")
    capsys.readouterr()
    assert main(["inspect", "dist", "--verify"]) == 1
    assert "img/a.svg" in capsys.readouterr().err
    assert main(["inspect", "nowhere"]) == 2
    assert "no manifest" in capsys.readouterr().err


def test_unreadable_source_is_a_clear_error(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    if os.geteuid() == 0:
        # root reads anything: make the output location unwritable instead (a file).
        (site / "blocker").write_text("x")
        assert main(["build", "static", "--out", "blocker/dist"]) == 1
        err = capsys.readouterr().err
        assert "left unchanged" in err
        assert "HINT" in err
        return
    secret = site / "static/css/secret.css"
    secret.write_text("a{}")
    secret.chmod(0)
    assert main(["build"]) == 1
    assert "secret.css" in capsys.readouterr().err


def test_ctrl_c_prints_one_line_exits_130_and_keeps_dist(site: Path) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, while the pool's
    workers are compressing: they get it too and must not print tracebacks either."""
    assert main(["build", "-q", "--jobs", "2"]) == 0
    before = snapshot(site / "dist")
    rng = random.Random(25)
    words = [f"w{rng.randrange(10**8)}" for _ in range(5000)]
    for n in range(8):  # brotli 11 on these outlasts the test's wait by seconds
        text = " ".join(rng.choice(words) for _ in range(120_000))
        (site / f"static/notes{n}.txt").write_text(text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "asset_pipeline", "build", "--jobs", "2", "--no-cache"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        # a shell that starts pytest in the background ignores SIGINT for its children, and
        # the build would inherit that: give it the default handling a terminal gives
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.05)  # the pool starts with the first batch of parallel work
    assert children.read_text().split(), "the build never started its worker pool"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert text.splitlines()[-1] == "asset-pipeline: interrupted; dist left unchanged"
    assert snapshot(site / "dist") == before
    assert sorted(p.name for p in site.iterdir()) == [
        ".asset-cache",
        "dist",
        "pyproject.toml",
        "static",
    ]


def font_stamped(created: int, chars: list[int]) -> bytes:
    """A font whose head.created is a Unix time, as some tools write it: fontTools logs a
    warning each time it reads one."""
    font = TTFont(io.BytesIO(build_font(chars, kern=False)), recalcTimestamp=False)
    font["head"].created = created
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_library_log_noise_is_silent_under_quiet_and_a_warning_otherwise(
    site: Path, jobs: str
) -> None:
    """A real process (pytest's own log capture would hide the noise); two fonts, so with
    --jobs 2 they are converted in the pool's worker processes."""
    write_tree(
        site / "static",
        {
            "fonts/a.ttf": font_stamped(1_000_000, list(range(0x41, 0x5B))),
            "fonts/b.ttf": font_stamped(1_000_000, list(range(0x61, 0x7B))),
        },
    )
    build = [sys.executable, "-m", "asset_pipeline", "build", "--no-cache", "--jobs", jobs]
    quiet = subprocess.run([*build, "--quiet"], cwd=site, capture_output=True, check=False)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"", b"")
    loud = subprocess.run(build, cwd=site, capture_output=True, check=False, text=True)
    assert loud.returncode == 0, loud.stderr
    for name in ("fonts/a.ttf", "fonts/b.ttf"):
        assert f"warning: {name}: 'created' timestamp seems very low" in loud.stderr
    noisy = [line for line in loud.stderr.splitlines() if "timestamp" in line]
    assert len(noisy) == 2  # once per file, however often the library said it
    assert all(line.startswith("warning: fonts/") for line in noisy)


def test_build_plugin_warnings_follow_quiet_too(site: Path) -> None:
    """The service worker's "not precaching" note is a build warning like any other."""
    with (site / "pyproject.toml").open("a") as fh:
        fh.write("[tool.asset-pipeline.service-worker]\nenabled = true\nmax_file_size = 20\n")
    build = [sys.executable, "-m", "asset_pipeline", "build", "--no-cache"]
    quiet = subprocess.run([*build, "--quiet"], cwd=site, capture_output=True, check=False)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"", b"")
    loud = subprocess.run(build, cwd=site, capture_output=True, check=False, text=True)
    assert loud.returncode == 0, loud.stderr
    notes = [line for line in loud.stderr.splitlines() if "not precaching" in line]
    assert notes
    assert all(line.startswith("warning: service worker: not precaching") for line in notes)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_plain_lines_in_ci() -> None:
    tty = _Terminal()
    bar = ProgressBar(tty)
    bar("process", 1, 4)
    bar("process", 4, 4)
    bar.finish()
    text = tty.getvalue()
    assert "\rprocess      [#######-----------------------] 1/4" in text
    assert text.endswith("] 4/4\n")
    log = io.StringIO()
    plain = ProgressBar(log)
    for done in range(1, 4):
        plain("precompress", done, 3)
    plain.finish()
    assert log.getvalue() == "precompress: 3 files\n"
