"""The worker pool the build runs scanners, processors and compressors in, and what
libraries say while a job runs (the build's warnings, named after the file)."""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from pathlib import Path

import pytest

from asset_pipeline.build.scan import (
    BATCH_BYTES,
    TAIL_BATCH_BYTES,
    Workers,
    batches,
    library_messages,
    tail_batch_bytes,
)
from asset_pipeline.refs import RawRef, graph
from asset_pipeline.refs.graph import RefFinder
from tests.asset_pipeline.build_support import SVG, output_text, run, write_tree


def test_logs_and_warnings_are_collected_once_each_naming_the_file(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with library_messages("img/a.png") as notes:
        for _ in range(3):
            logging.getLogger("PIL.PngImagePlugin").warning("odd chunk %s", "zTXt")
        logging.getLogger("fontTools.subset").info("progress chatter")
        warnings.warn("Palette images with Transparency", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    assert notes == [
        "img/a.png: odd chunk zTXt (PIL.PngImagePlugin)",
        "img/a.png: Palette images with Transparency (UserWarning)",
    ]
    assert capfd.readouterr() == ("", "")


def test_the_handler_is_removed_when_the_job_fails() -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError), library_messages("a.css"):
        raise ValueError("processor failed")
    assert logging.getLogger().handlers == handlers


def test_this_packages_own_warnings_carry_no_logger_name() -> None:
    with library_messages() as notes:
        logging.getLogger("asset_pipeline.sw.hook").warning("not precaching %s", "a.js")
    assert notes == ["not precaching a.js"]


def digest(data: bytes, salt: str) -> str:
    return hashlib.sha256(salt.encode() + data).hexdigest()


def test_small_jobs_travel_in_batches_and_large_ones_alone() -> None:
    """A round trip to a worker costs about as much as compressing a few kilobytes, so
    a tree of small modules sends them in batches of at least ``BATCH_BYTES``."""
    big = (b"x" * BATCH_BYTES, "a")
    small = (b"y" * 1000, "b")
    jobs = [big, big, *[small] * 200]
    groups = batches(jobs)
    assert groups[:2] == [[0], [1]]
    assert sorted(i for g in groups for i in g) == list(range(len(jobs)))
    assert len(groups) <= 2 + 200 * 1000 // BATCH_BYTES + 1
    assert all(sum(len(jobs[i][0]) for i in g) >= BATCH_BYTES for g in groups[:-1])


def test_pooled_results_match_serial_ones() -> None:
    jobs = [(bytes([i % 256]) * (i * 37 % 5000), str(i)) for i in range(300)]
    with Workers(2) as pooled:
        got = dict(pooled.map_unordered(digest, jobs))
    with Workers(1) as serial:
        assert got == dict(serial.map_unordered(digest, jobs))
    assert len(got) == 300


def test_a_stream_runs_jobs_handed_over_one_at_a_time_like_the_serial_loop() -> None:
    jobs = [(bytes([i % 256]) * (i * 37 % 5000), str(i)) for i in range(300)]
    with Workers(2) as pooled:
        stream = pooled.stream(digest)
        got: dict[int, str] = {}
        for i, args in enumerate(jobs):
            stream.add(i, args)
            got.update(stream.ready())  # what came back meanwhile
        assert pooled.started
        got.update(stream.drain())
    assert got == {i: digest(*args) for i, args in enumerate(jobs)}


def test_a_stream_holds_small_jobs_back_until_they_fill_a_batch() -> None:
    """Waiting jobs stay out of the pool until a batch's worth is there (or no more are
    coming); then the largest waiting go first, so a large file that arrives late is not
    stuck behind the small ones."""
    sizes = [100 * n for n in range(1, 11)]  # 5.5 kB in all: one batch, even at the end
    with Workers(2) as pooled:
        stream = pooled.stream(digest)
        for size in sizes:
            stream.add(size, (b"z" * size, "s"))
        assert stream.ready() == []
        assert not pooled.started
        got = list(stream.drain())  # one batch: the same order comes back
    assert [key for key, _ in got] == sorted(sizes, reverse=True)
    assert dict(got) == {size: digest(b"z" * size, "s") for size in sizes}


def test_the_last_batches_shrink_so_both_workers_finish_together() -> None:
    assert tail_batch_bytes(10 * 2**20, 4) == BATCH_BYTES  # plenty left: full batches
    assert tail_batch_bytes(128 * 1024, 4) == 32 * 1024  # a share for each batch in flight
    assert tail_batch_bytes(20 * 1024, 4) == TAIL_BATCH_BYTES  # never below a round trip


def test_a_job_of_a_batchs_size_starts_the_pool_at_once() -> None:
    with Workers(2) as pooled:
        stream = pooled.stream(digest)
        stream.add("big", (b"b" * BATCH_BYTES, "x"))
        assert pooled.started
        assert dict(stream.drain()) == {"big": digest(b"b" * BATCH_BYTES, "x")}


def test_a_worker_with_nothing_to_do_gets_a_small_job_at_once() -> None:
    """Once the pool runs, a small job is not held back for a batch while a worker idles."""
    with Workers(2) as pooled:
        stream = pooled.stream(digest)
        stream.add("big", (b"b" * BATCH_BYTES, "x"))
        stream.add("small", (b"s", "y"))  # one worker is still free
        got: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(got) < 2 and time.monotonic() < deadline:
            got.update(stream.ready())  # no drain: both were sent without it
            time.sleep(0.01)
        assert list(stream.drain()) == []
    assert got == {"big": digest(b"b" * BATCH_BYTES, "x"), "small": digest(b"s", "y")}


def test_a_stream_of_one_small_job_or_one_worker_runs_in_this_process() -> None:
    for workers, size, count in ((Workers(2), 100, 1), (Workers(1), BATCH_BYTES, 3)):
        with workers:
            stream = workers.stream(digest)
            for i in range(count):
                stream.add(i, (b"q" * size, str(i)))
            got = dict(stream.drain())
            assert not workers.started
        assert got == {i: digest(b"q" * size, str(i)) for i in range(count)}
        with pytest.raises(RuntimeError, match="after drain"):
            stream.add(9, (b"", ""))


def fail_on_empty(data: bytes) -> int:
    if not data:
        raise ValueError("empty input")
    return len(data)


def test_a_failing_job_in_the_pool_raises_from_the_stream() -> None:
    with Workers(2) as pooled:
        stream = pooled.stream(fail_on_empty)
        stream.add(0, (b"a" * BATCH_BYTES,))
        stream.add(1, (b"",))
        with pytest.raises(ValueError, match="empty input"):
            list(stream.drain())


def test_a_cold_build_scans_each_stylesheet_and_module_once_and_rewrites_every_form(
    tmp_path: Path,
) -> None:
    """The source's scan serves the graph and, carried to the minified output, the
    rewrite: nothing is tokenized twice, and every kind of reference still points at
    the fingerprinted file."""
    write_tree(
        tmp_path / "src",
        {
            "js/app.js": (
                "/* the app */\nimport { a } from './a.js';\n"
                "export * from  './b.js';\nconst lazy = import( './c.js' );\n"
                "const w = new URL('./w.js', import.meta.url);\nconsole.log(a, lazy, w);\n"
            ),
            "js/a.js": "export const a = 1;   // a leaf\n",
            "js/b.js": "import { a } from './a.js';\nexport const b = a;\n",
            "js/c.js": "export default 3;\n",
            "js/w.js": "self.onmessage = () => {};\n",
            "css/app.css": (
                "@import url( 'base.css' );\n.a { background: url( ../img/dot.svg ); }\n"
                '.b { background: image-set( "../img/dot.svg" 1x ); }\n'
            ),
            "css/base.css": "/* base */\nbody {   margin: 0;   }\n",
            "img/dot.svg": SVG,
        },
    )
    scanned: list[int] = []
    with pytest.MonkeyPatch.context() as mp:  # jobs=1: every scan runs in this process
        for ext, find in list(graph._SCANNERS.items()):

            def counting(text: str, find: RefFinder = find) -> list[RawRef]:
                scanned.append(len(text))
                return find(text)

            mp.setitem(graph._SCANNERS, ext, counting)
        result = run(tmp_path)
    assert len(scanned) == 7  # the seven stylesheets and modules, once each
    manifest = result.manifest
    app_js = output_text(tmp_path, manifest, "js/app.js")
    for target in ("js/a.js", "js/b.js", "js/c.js", "js/w.js"):
        assert "./" + manifest[target].path.rpartition("/")[2] in app_js
    assert "/*" not in app_js  # minified, so the offsets moved
    app_css = output_text(tmp_path, manifest, "css/app.css")
    dot = "../" + manifest["img/dot.svg"].path
    assert app_css.count(dot) == 2
    assert "'" + manifest["css/base.css"].path.rpartition("/")[2] + "'" in app_css


def test_an_output_whose_references_cannot_be_carried_is_scanned(tmp_path: Path) -> None:
    """The specifier also sits in a comment the minifier removes: which occurrence is the
    import is not certain from the source alone, so the output is scanned, and the
    import still names the fingerprinted module."""
    write_tree(
        tmp_path / "src",
        {
            "js/app.js": "// needs './a.js'\nimport { a } from './a.js';\nconsole.log(a);\n",
            "js/a.js": "export const a = 1;\n",
        },
    )
    scanned: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        real = graph._SCANNERS[".js"]

        def counting(text: str) -> list[RawRef]:
            scanned.append(text)
            return real(text)

        mp.setitem(graph._SCANNERS, ".js", counting)
        result = run(tmp_path)
    assert len(scanned) == 3  # both sources, and app.js's output
    app = output_text(tmp_path, result.manifest, "js/app.js")
    assert "needs" not in app
    assert "from'./" + result.manifest["js/a.js"].path.rpartition("/")[2] + "'" in app
