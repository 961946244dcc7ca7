"""The training CLI and its functions (``compression.training``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from perf_middleware.compression.training import build_dictionary, evaluate, fetch_pages, main
from tests.support.servers import UvicornServer
from tests.support.site_pages import make_app, page_body, render

PAGES = [render(f"Page {n}", page_body(n)).encode() for n in range(1, 31)]


def test_raw_keeps_the_latest_samples_cut_to_size() -> None:
    data = build_dictionary(PAGES, size=20_000)
    assert data == b"".join(PAGES)[-20_000:]


def test_trained_is_a_zstd_dictionary_of_the_requested_size() -> None:
    data = build_dictionary(PAGES, size=8192, method="trained")
    assert len(data) <= 8192
    assert zstandard.ZstdCompressionDict(data).dict_id() != 0  # zstd's own dictionary format


def test_a_dictionary_made_of_some_pages_shrinks_the_others() -> None:
    plain, with_dict = evaluate(build_dictionary(PAGES[:20]), PAGES[20:])
    assert with_dict * 2 < plain


@pytest.mark.parametrize(
    ("samples", "options", "message"),
    [
        ([], {}, "no sample pages"),
        (PAGES, {"method": "lz"}, "unknown dictionary method"),
        (PAGES, {"size": 10}, "too small"),
        ([b"<p>x</p>"] * 3, {"method": "trained"}, "could not train"),
    ],
)
def test_bad_input_is_an_error_with_a_hint(
    samples: list[bytes], options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        build_dictionary(samples, **options)  # type: ignore[arg-type]
    assert "HINT" in str(info.value)


def test_the_cli_reads_files_and_compares_the_methods_on_held_out_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, page in enumerate(PAGES):
        (tmp_path / f"p{n}.html").write_bytes(page)
    out = tmp_path / "site.dict"
    assert main(["--files", str(tmp_path / "*.html"), "--out", str(out), "--size", "30000"]) == 0
    printed = capsys.readouterr().out
    assert "raw      held-out pages: zstd 3" in printed
    assert "trained  held-out pages" in printed
    assert f"wrote {out}: 30,000 bytes from 30 pages" in printed
    assert out.read_bytes() == build_dictionary(
        [(tmp_path / f"p{n}.html").read_bytes() for n in sorted(range(30), key=str)],
        size=30000,
    )


def test_the_cli_fetches_urls_from_a_running_app(tmp_path: Path) -> None:
    with UvicornServer(make_app()) as server:
        (tmp_path / "urls.txt").write_text(f"{server.url}/page/1\n\n{server.url}/page/2\n")
        out = tmp_path / "site.dict"
        assert main(["--urls", str(tmp_path / "urls.txt"), "--out", str(out)]) == 0
        assert out.read_bytes() == b"".join(fetch_pages([f"{server.url}/page/{n}" for n in (1, 2)]))


def test_the_cli_reports_a_failed_source_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.dict")
    assert main(["--files", str(tmp_path / "none-*.html"), "--out", out]) == 2
    assert "matches no file. HINT" in capsys.readouterr().err
    assert main(["--url", "http://127.0.0.1:1/page", "--out", out]) == 2
    assert "cannot fetch sample page 'http://127.0.0.1:1/page'" in capsys.readouterr().err
    assert main(["--out", out]) == 2
    assert "no sample pages. HINT" in capsys.readouterr().err


def test_a_method_that_cannot_train_is_reported_and_raw_still_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(10):  # repetitive pages: zstd's trainer finds almost nothing to keep
        (tmp_path / f"p{n}.html").write_bytes(b"<p>same page</p>" * 30)
    out = tmp_path / "site.dict"
    assert main(["--files", str(tmp_path / "*.html"), "--out", str(out), "--size", "2048"]) == 0
    captured = capsys.readouterr()
    assert "trained: the trained dictionary from 8 pages holds only" in captured.err
    assert "raw      held-out pages" in captured.out
    assert out.read_bytes() == (b"<p>same page</p>" * 300)[-2048:]


def test_too_little_sample_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"holds only 180 bytes.*HINT: give more"):
        build_dictionary([b"<p>tiny page %d</p>" % n for n in range(10)])
