from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asset_pipeline.refs import RawRef, is_external, split_suffix
from asset_pipeline.refs.graph import (
    CycleError,
    Resolved,
    build_graph,
    discover,
    es_modules,
    relative_path,
    resolve,
    topo_order,
    url_for,
)


def ref(url: str, kind: str = "url", line: int = 1) -> RawRef:
    return RawRef(kind, url, 0, len(url), line)


def test_topo_order_puts_leaves_first() -> None:
    deps = {"app.css": ("a.css", "img.png"), "a.css": ("img.png",), "img.png": ()}
    order = topo_order(deps)
    assert order.index("img.png") < order.index("a.css") < order.index("app.css")
    assert sorted(order) == sorted(deps)


def test_cycle_names_every_file_on_it() -> None:
    deps = {"a.css": ("b.css",), "b.css": ("c.css",), "c.css": ("a.css",), "d.css": ()}
    with pytest.raises(CycleError) as info:
        topo_order(deps)
    assert set(info.value.cycle) == {"a.css", "b.css", "c.css"}
    assert "a.css -> b.css -> c.css -> a.css" in str(info.value)
    assert "HINT" in str(info.value)


def test_deep_chain_does_not_hit_the_recursion_limit() -> None:
    deps = {f"f{i}.js": (f"f{i + 1}.js",) for i in range(5000)}
    deps["f5000.js"] = ()
    assert topo_order(deps)[0] == "f5000.js"


@pytest.mark.parametrize(
    ("url", "referrer", "expected"),
    [
        ("img/a.png", "css/app.css", Resolved("css/img/a.png", "", False)),
        ("../img/a.png?v=1#x", "css/app.css", Resolved("img/a.png", "?v=1#x", False)),
        ("./a%20b.png", "css/app.css", Resolved("css/a b.png", "", False, True)),
        ("/static/img/a.png", "css/app.css", Resolved("img/a.png", "", True)),
        ("/favicon.ico", "css/app.css", None),
        ("https://x.test/a.png", "css/app.css", None),
        ("//cdn.test/a.png", "css/app.css", None),
        ("data:image/png;base64,AA", "css/app.css", None),
        ("#frag", "css/app.css", None),
        ("javascript:void(0)", "css/app.css", None),
    ],
)
def test_resolve(url: str, referrer: str, expected: Resolved | None) -> None:
    assert resolve(ref(url), referrer, "/static/") == expected


def test_bare_js_specifier_is_not_resolved() -> None:
    assert resolve(ref("lit", "module"), "js/app.js", "/static/") is None
    assert resolve(ref("./lit.js", "module"), "js/app.js", "/static/") == Resolved(
        "js/lit.js", "", False, True
    )


def test_url_for_keeps_the_reference_style() -> None:
    rel = Resolved("img/a.png", "?v=1", False)
    assert url_for("img/a.0123456789.png", "css/app.css", rel, "/s/") == (
        "../img/a.0123456789.png?v=1"
    )
    root = Resolved("img/a.png", "#x", True)
    assert (
        url_for("img/a.0123456789.png", "css/app.css", root, "/s/") == "/s/img/a.0123456789.png#x"
    )
    dot = Resolved("js/b.js", "", False, True)
    assert url_for("js/b.0123456789.js", "js/app.js", dot, "/s/") == "./b.0123456789.js"
    spaced = Resolved("css/a b.png", "", False)
    assert url_for("css/a b.1.png", "css/app.css", spaced, "/s/") == "a%20b.1.png"


def test_build_graph_collects_missing_with_line_and_dedups_deps() -> None:
    refs = {
        "css/app.css": [ref("a.png", line=2), ref("a.png", line=3), ref("gone.png", line=7)],
        "css/a.png": [],
    }
    graph = build_graph(["css/app.css", "css/a.png"], refs, "/static/")
    assert graph.deps["css/app.css"] == ("css/a.png",)
    (miss,) = graph.missing
    assert miss.describe() == "css/app.css:7: reference to missing file 'gone.png' (css/gone.png)"
    outside = build_graph(["a.css"], {"a.css": [ref("../../x.png")]}, "/static/").missing[0]
    assert "outside the source tree" in outside.describe()


def test_discover_skips_hidden_and_ignored(tmp_path: Path) -> None:
    for name in ["a.css", ".hidden", ".git/config", "img/b.png", "drafts/x.css", "c.scss"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert discover(tmp_path, ignore=["drafts/", "*.scss"]) == ["a.css", "img/b.png"]
    assert ".hidden" in discover(tmp_path, ignore_hidden=False)


def test_external_and_suffix_helpers() -> None:
    assert is_external("HTTPS://x")
    assert is_external("mailto:a@b")
    assert is_external("a:b/c")
    assert not is_external("dir/a:b.png")
    assert split_suffix("a.png?x=1#y") == ("a.png", "?x=1#y")
    assert split_suffix("a.svg#i") == ("a.svg", "#i")


def test_self_reference_is_a_cycle_of_one() -> None:
    graph = build_graph(["a.js"], {"a.js": [ref("./a.js", "dynamic-import")]}, "/static/")
    assert graph.deps["a.js"] == ("a.js",)
    with pytest.raises(CycleError, match=r"a\.js -> a\.js"):
        topo_order(graph.deps)


def test_es_modules_are_importers_imported_files_and_mjs() -> None:
    names = ["js/app.js", "js/pager.js", "js/lazy.js", "js/classic.js", "js/x.mjs", "a.css"]
    refs = {
        "js/app.js": [ref("./pager.js", "module"), ref("./lazy.js", "dynamic-import")],
        "js/classic.js": [ref("./lazy.js", "dynamic-import")],  # import() works in classic
        "a.css": [ref("./pager.js")],
    }
    assert es_modules(names, refs, "/static/") == {
        "js/app.js",
        "js/pager.js",
        "js/lazy.js",
        "js/x.mjs",
    }


_SEGMENTS = st.lists(st.sampled_from(["a", "b", "css", "img", "x.js"]), max_size=4).map("/".join)


@given(_SEGMENTS.filter(bool), _SEGMENTS)
def test_relative_path_is_relpath_without_the_working_directory(path: str, start: str) -> None:
    assert relative_path(path, start) == posixpath.relpath(path, start or ".")
