"""Unit tests for the service-worker generator (the browser tests live in tests/browser)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.cli import main
from asset_pipeline.manifest import ImageAlternate, Manifest, ManifestEntry, write_manifest
from asset_pipeline.sw.config import (
    DEFAULT_RUNTIME,
    ServiceWorkerConfig,
    ServiceWorkerConfigError,
    config_from_mapping,
)
from asset_pipeline.sw.hook import generate_for_build
from asset_pipeline.sw.precache import ServiceWorkerError, plan_precache, precache_version
from asset_pipeline.sw.registration import registration_snippet
from asset_pipeline.sw.render import (
    PLACEHOLDER,
    path_glob_to_regex,
    render_service_worker,
    write_service_worker,
)


@pytest.fixture
def node() -> str:
    """The node binary: ``make test`` installs it (Debian ``nodejs``), so its absence fails."""
    path = shutil.which("node")
    if path is None:
        pytest.fail(
            "node is not installed. HINT: `make test` installs it (apt-get install -y nodejs)"
        )
    return path


def entry(path: str, ctype: str, *, fp: bool = True, size: int = 100, h: str = "ab" * 32, **kw):
    return ManifestEntry(
        path=path,
        size=size,
        content_type=ctype,
        hash=h,
        integrity="sha384-" + "A" * 64,
        fingerprinted=fp,
        **kw,
    )


def sample_manifest(**overrides: ManifestEntry) -> Manifest:
    files = {
        "css/app.css": entry("css/app.1111111111.css", "text/css"),
        "js/app.js": entry("js/app.2222222222.js", "text/javascript"),
        "fonts/ui.ttf": entry("fonts/ui.3333333333.woff2", "font/woff2"),
        "img/hero.png": entry(
            "img/hero.4444444444.png",
            "image/png",
            alternates=(
                ImageAlternate("webp", "image/webp", "img/hero.w480.5555555555.webp", 50, 480, 3),
                ImageAlternate("avif", "image/avif", "img/hero.w480.6666666666.avif", 40, 480, 3),
            ),
        ),
        "offline.html": entry("offline.html", "text/html", fp=False, h="cd" * 32),
        "robots.txt": entry("robots.txt", "text/plain", fp=False),
    }
    files.update(overrides)
    return Manifest(files=files, build_id="b1", url_prefix="/static/")


def config_json(source: str) -> dict:
    match = re.search(r"const CONFIG ?= ?", source)
    assert match, "CONFIG not found in the generated worker"
    data, _ = json.JSONDecoder().raw_decode(source, match.end())
    return data


def source_without_config(source: str) -> str:
    start = re.search(r"const CONFIG ?= ?", source).end()
    _, end = json.JSONDecoder().raw_decode(source, start)
    return source[:start] + source[end:]


def test_default_precache_selects_css_js_fonts_not_images_or_html():
    entries, skipped = plan_precache(sample_manifest(), ServiceWorkerConfig())
    assert [e.url for e in entries] == [
        "/static/css/app.1111111111.css",
        "/static/fonts/ui.3333333333.woff2",
        "/static/js/app.2222222222.js",
    ]
    assert skipped == ()
    assert all(e.revision is None for e in entries)  # fingerprinted: the name is the revision
    assert all(e.integrity == "sha384-" + "A" * 64 for e in entries)


def test_offline_page_and_images_with_alternates_are_precached_with_revisions():
    config = ServiceWorkerConfig(offline_page="offline.html", images=("img/*",))
    entries, _ = plan_precache(sample_manifest(), config)
    by_url = {e.url: e for e in entries}
    assert by_url["/static/offline.html"].revision == "cd" * 8
    assert {"/static/img/hero.4444444444.png", "/static/img/hero.w480.6666666666.avif"} <= set(
        by_url
    )
    assert "/static/img/hero.w480.5555555555.webp" in by_url
    assert "/static/robots.txt" not in by_url


def test_base_url_gives_cdn_urls_and_percent_encodes():
    m = sample_manifest(**{"css/a b.css": entry("css/a b.9999999999.css", "text/css")})
    entries, _ = plan_precache(m, ServiceWorkerConfig(base_url="https://cdn.example.com/assets"))
    urls = [e.url for e in entries]
    assert "https://cdn.example.com/assets/css/a%20b.9999999999.css" in urls
    assert all(u.startswith("https://cdn.example.com/assets/") for u in urls)


def test_size_cap_skips_glob_matches_but_fails_explicit_names():
    big = entry("js/big.7777777777.js", "text/javascript", size=3 * 2**20)
    entries, skipped = plan_precache(sample_manifest(**{"js/big.js": big}), ServiceWorkerConfig())
    assert skipped == ("js/big.7777777777.js",)
    assert all("big" not in e.url for e in entries)
    config = ServiceWorkerConfig(precache=("js/big.js",))
    with pytest.raises(ServiceWorkerError, match=r"/static/js/big\.7777777777\.js.*max_file_size"):
        plan_precache(sample_manifest(**{"js/big.js": big}), config)


def test_missing_precache_name_fails_naming_the_url_with_a_hint():
    config = ServiceWorkerConfig(precache=("*.css", "js/ap.js"))
    with pytest.raises(ServiceWorkerError) as info:
        render_service_worker(sample_manifest(), config)
    message = str(info.value)
    assert "/static/js/ap.js" in message
    assert "'js/app.js'" in message  # the close match
    assert "HINT:" in message


def test_missing_offline_page_fails():
    with pytest.raises(ServiceWorkerError, match=r"offline page 'offline/index\.html'"):
        render_service_worker(
            sample_manifest(), ServiceWorkerConfig(offline_page="offline/index.html")
        )


def test_explicit_names_accept_output_paths_and_urls():
    config = ServiceWorkerConfig(precache=("robots.txt", "/static/offline.html"))
    entries, _ = plan_precache(sample_manifest(), config)
    assert [e.url for e in entries] == ["/static/offline.html", "/static/robots.txt"]


def test_version_changes_with_content_and_ignores_order():
    config = ServiceWorkerConfig(offline_page="offline.html")
    base = render_service_worker(sample_manifest(), config)
    same = render_service_worker(sample_manifest(), config)
    assert base.version == same.version
    assert base.source == same.source
    changed_page = entry("offline.html", "text/html", fp=False, h="ef" * 32)
    assert (
        render_service_worker(sample_manifest(**{"offline.html": changed_page}), config).version
        != base.version
    )
    renamed_css = entry("css/app.8888888888.css", "text/css")
    assert (
        render_service_worker(sample_manifest(**{"css/app.css": renamed_css}), config).version
        != base.version
    )
    assert precache_version(tuple(reversed(base.precache))) == base.version
    # a file outside the precache list does not disturb installed users
    other = entry("robots.txt", "text/plain", fp=False, h="00" * 32)
    assert (
        render_service_worker(sample_manifest(**{"robots.txt": other}), config).version
        == base.version
    )


def test_generated_worker_contains_the_manifest_config():
    config = ServiceWorkerConfig(offline_page="offline.html", skip_waiting=True)
    worker = render_service_worker(sample_manifest(), config)
    assert PLACEHOLDER not in worker.source
    data = config_json(worker.source)
    assert data["version"] == worker.version
    assert data["offline"] == "/static/offline.html"
    assert data["skipWaiting"] is True
    assert data["clientsClaim"] is False
    assert {p["url"] for p in data["precache"]} == {e.url for e in worker.precache}
    assert data["rules"][0]["name"] == DEFAULT_RUNTIME[0].name
    assert data["rules"][0]["navigate"] is True
    assert data["rules"][0]["timeout"] == 3.0
    code = source_without_config(worker.source)
    assert not re.search(r"\bimport(Scripts)?\b", code)  # self-contained: nothing to load


def test_generated_worker_parses_with_node(tmp_path: Path, node: str):
    table = {
        "offline_page": "offline.html",
        "runtime": [
            {"name": "api", "path": "/api/**", "strategy": "stale-while-revalidate"},
            {
                "url_regex": r"^https://fonts\.example\.com/",
                "strategy": "cache-first",
                "max_entries": 10,
                "cache_opaque": True,
            },
            {"navigate": True, "strategy": "network-first", "network_timeout_seconds": 2},
        ],
    }
    sizes = {}
    for minify in (True, False):
        config = config_from_mapping({**table, "minify": minify})
        worker = render_service_worker(sample_manifest(), config)
        target = tmp_path / f"sw-{minify}.js"
        target.write_text(worker.source)
        result = subprocess.run([node, "--check", str(target)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert worker.source.startswith("/*! Service worker generated by asset-pipeline")
        assert config_json(worker.source)["rules"][0]["name"] == "api"
        sizes[minify] = len(source_without_config(worker.source))
    assert sizes[True] < sizes[False]
    assert sizes[True] < 20 * 1024  # the code (without its config) stays small
    # the snippet's JavaScript parses too
    snippet = registration_snippet(sw_url="/sw.js?x=<1>", reload=True)
    body = snippet.split(">", 1)[1].rsplit("</script>", 1)[0]
    (tmp_path / "reg.js").write_text(body)
    result = subprocess.run(
        [node, "--check", str(tmp_path / "reg.js")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert 'data-sw="/sw.js?x=&lt;1&gt;"' in snippet
    assert " data-reload>" in snippet


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.from_regex(r"/[a-z*?.]{0,8}(/[a-z*?.]{0,6}){0,2}", fullmatch=True),
        min_size=1,
        max_size=5,
    ),
    st.lists(
        st.from_regex(r"/[a-z.]{0,8}(/[a-z.]{0,6}){0,3}", fullmatch=True), min_size=1, max_size=5
    ),
)
def test_path_globs_match_the_same_paths_in_python_and_javascript(globs, paths):
    """The glob becomes a JS regex; Python's re agrees with JS on these, and the glob
    semantics hold: '*' and '?' never cross '/', '**' does."""
    for glob in globs:
        rx = re.compile(path_glob_to_regex(glob))
        for path in paths:
            expected = re.fullmatch(
                "".join(
                    ".*"
                    if tok == "**"
                    else "[^/]*"
                    if tok == "*"
                    else "[^/]"
                    if tok == "?"
                    else re.escape(tok)
                    for tok in re.findall(r"\*\*|\*|\?|[^*?]", glob)
                ),
                path,
            )
            assert bool(rx.search(path)) == bool(expected), (glob, path)


def test_path_glob_regex_behaves_identically_in_node(node: str):
    cases = [
        ("/api/**", "/api/a/b", True),
        ("/api/*", "/api/a/b", False),
        ("/a?c.js", "/abc.js", True),
        ("/a.c", "/abc", False),
        ("/x(1)+", "/x(1)+", True),
    ]
    script = "const c = %s; console.log(JSON.stringify(c.map(([g, p]) => new RegExp(g).test(p))));"
    payload = json.dumps([[path_glob_to_regex(g), p] for g, p, _ in cases])
    out = subprocess.run([node, "-e", script % payload], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [want for _, _, want in cases]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"precach": ["*.css"]}, "unknown key 'precach'.*did you mean 'precache'"),
        ({"precache": "*.css"}, "'precache' must be a list of strings"),
        ({"max_file_size": 0}, "'max_file_size' must be greater than 0"),
        ({"enabled": "yes"}, "'enabled' has the wrong type"),
        ({"cache_prefix": "a b"}, "cache_prefix 'a b' has unsafe characters"),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-frist"}]},
            r"runtime\]\[0\]: unknown strategy 'cache-frist'.*did you mean 'cache-first'",
        ),
        ({"runtime": [{"strategy": "cache-first"}]}, "exactly one of 'navigate', 'path'"),
        (
            {"runtime": [{"path": "/x", "navigate": True, "strategy": "cache-first"}]},
            "exactly one of",
        ),
        ({"runtime": [{"path": "api/*", "strategy": "cache-first"}]}, "must start with '/'"),
        (
            {"runtime": [{"url_regex": "(", "strategy": "cache-first"}]},
            "url_regex '\\(' is invalid",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "network_timeout_seconds": 1}]},
            "only applies to network-first",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "max_entries": -1}]},
            "'max_entries' must be greater than 0",
        ),
        (
            {
                "runtime": [
                    {"path": "/x", "strategy": "cache-first", "name": "a"},
                    {"path": "/y", "strategy": "cache-first", "name": "a"},
                ]
            },
            "names repeat",
        ),
        (
            {"runtime": [{"navigate": True, "strategy": "network-first", "exclude": ["*.pdf"]}]},
            "exclude glob '\\*.pdf' must start with '/'",
        ),
        (
            {"runtime": [{"navigate": True, "strategy": "network-first", "include": "/a"}]},
            "'include' must be a list of strings",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "content_types": ["HTML"]}]},
            "content type 'HTML' is not a bare media type",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "max_bytes": 0}]},
            "'max_bytes' must be greater than 0",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "max_opaque_entries": 0}]},
            "'max_opaque_entries' must be greater than 0",
        ),
        (
            {"runtime": [{"path": "/x", "strategy": "cache-first", "broadcast_update": 1}]},
            "'broadcast_update' has the wrong type",
        ),
        ({"ignore_url_parameters": ["("]}, "ignore_url_parameters entry '\\(' is invalid"),
        ({"import_scripts": "x.js"}, "'import_scripts' must be a list of strings"),
    ],
)
def test_config_errors_say_what_and_how_to_fix(table, message):
    with pytest.raises(ServiceWorkerConfigError, match=message) as info:
        config_from_mapping(table)
    assert "[tool.asset-pipeline.service-worker" in str(info.value)
    assert "HINT:" in str(info.value)


def test_config_defaults_and_dashed_keys():
    config = config_from_mapping({"offline-page": "offline.html", "skip-waiting": True})
    assert config.offline_page == "offline.html"
    assert config.skip_waiting is True
    assert config.enabled is False
    assert config.max_file_size == 2 * 2**20
    assert config.runtime == DEFAULT_RUNTIME
    assert config.clients_claim is False


def test_every_option_can_be_set_from_the_table():
    table = {
        "enabled": True,
        "precache": ["a.css"],
        "images": ["img/*"],
        "image_alternates": False,
        "max_file_size": 10,
        "offline_page": "o.html",
        "base_url": "https://cdn/",
        "runtime": [],
        "skip_waiting": True,
        "clients_claim": True,
        "integrity": False,
        "cache_prefix": "p",
        "filename": "worker.js",
        "navigation_preload": True,
        "retire": True,
        "minify": False,
        "registration_script": False,
        "ignore_url_parameters": ["^ref$"],
        "import_scripts": ["js/custom.js"],
        "debug": True,
    }
    config = config_from_mapping(table)
    defaults = ServiceWorkerConfig()
    for field in dataclasses.fields(ServiceWorkerConfig):
        assert field.name in table, f"test misses option {field.name}"
        assert getattr(config, field.name) != getattr(defaults, field.name), field.name


def test_retiring_worker_precaches_nothing_and_parses(tmp_path: Path, node: str):
    config = ServiceWorkerConfig(retire=True, offline_page="offline.html")
    worker = render_service_worker(sample_manifest(), config)
    data = config_json(worker.source)
    assert data["retire"] is True
    assert data["precache"] == []
    assert data["rules"] == []
    assert data["offline"] is None
    (tmp_path / "sw.js").write_text(worker.source)
    result = subprocess.run([node, "--check", str(tmp_path / "sw.js")], capture_output=True)
    assert result.returncode == 0, result.stderr


def write_dist(tmp_path: Path, manifest: Manifest, *, skip: str | None = None) -> Path:
    dist = tmp_path / "dist"
    for e in manifest.files.values():
        paths = [e.path, *(a.path for a in e.alternates)]
        for p in paths:
            if p != skip:
                (dist / p).parent.mkdir(parents=True, exist_ok=True)
                (dist / p).write_bytes(b"x" * e.size)
    write_manifest(manifest, dist)
    return dist


def test_write_checks_files_exist_and_writes_atomically(tmp_path: Path):
    m = sample_manifest()
    dist = write_dist(tmp_path, m, skip="js/app.2222222222.js")
    with pytest.raises(ServiceWorkerError, match=r"/static/js/app\.2222222222\.js.*does not exist"):
        write_service_worker(m, dist, ServiceWorkerConfig())
    assert not (dist / "sw.js").exists()
    (dist / "js").mkdir()
    (dist / "js/app.2222222222.js").write_text("x")
    worker = write_service_worker(m, dist, ServiceWorkerConfig(filename="service-worker.js"))
    assert (dist / "service-worker.js").read_text() == worker.source
    assert (dist / "service-worker.js").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in dist.iterdir() if p.name.startswith(".sw.")] == []


def test_generate_for_build_only_when_enabled(tmp_path: Path):
    m = sample_manifest()
    dist = write_dist(tmp_path, m)
    assert generate_for_build(m, dist, None) == (m, None)
    assert generate_for_build(m, dist, {"enabled": False}) == (m, None)
    assert not (dist / "sw.js").exists()
    table = {"enabled": True, "offline_page": "offline.html"}
    recorded, worker = generate_for_build(m, dist, table)
    assert worker is not None
    assert (dist / "sw.js").read_text() == worker.source
    # the registration script is a file of the build, listed and precached like the others
    register = recorded["sw-register.js"]
    assert register.fingerprinted
    assert b"navigator.serviceWorker" in (dist / register.path).read_bytes()
    assert "/static/" + register.path in [e.url for e in worker.precache]


def test_cli_writes_sw_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    dist = write_dist(tmp_path, sample_manifest())
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.asset-pipeline.service-worker]\nimages = ["img/*"]\n')
    code = main(
        ["sw", str(dist), "--config", str(pyproject), "--offline-page", "offline.html", "--snippet"]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = config_json((dist / "sw.js").read_text())
    assert data["offline"] == "/static/offline.html"
    assert any(p["url"].endswith(".avif") for p in data["precache"])
    assert "precached URLs" in out
    assert "navigator" not in out.split("<script")[0]
    assert 'data-sw="/static/sw.js"' in out


def test_cli_retire_writes_a_no_op_worker(tmp_path: Path, capsys):
    dist = write_dist(tmp_path, sample_manifest())
    assert main(["sw", str(dist), "--retire"]) == 0
    assert config_json((dist / "sw.js").read_text())["retire"] is True
    assert "0 precached URLs" in capsys.readouterr().out


def test_cli_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    dist = write_dist(tmp_path, sample_manifest())
    assert main(["sw", str(dist), "--offline-page", "nope.html"]) == 1
    err = capsys.readouterr().err
    assert "nope.html" in err
    assert "HINT:" in err
    assert "Traceback" not in err
    assert main(["sw", str(tmp_path / "missing")]) == 1
    assert "no manifest" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[tool.asset-pipeline.service-worker]\nmax_file_size = 'big'\n")
    assert main(["sw", str(dist), "--config", str(bad)]) == 1
    assert "max_file_size" in capsys.readouterr().err


def test_documented_example_table_is_valid():
    import tomllib

    import asset_pipeline.sw.config as module

    example = module.__doc__.split("Example::")[1].split("A ``runtime``")[0]
    text = "\n".join(line[4:] for line in example.splitlines())
    table = tomllib.loads(text)["tool"]["asset-pipeline"]["service-worker"]
    config = config_from_mapping(table)
    assert [r.name for r in config.runtime] == ["pages", "api"]
    assert config.runtime[1].max_entries == 100


_names = st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6}){0,2}\.(css|js|png|html|txt|woff2)", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(_names, st.tuples(st.booleans(), st.integers(1, 4 * 2**20)), max_size=12),
    st.lists(st.sampled_from(["*.css", "*.js", "*.html", "*/*", "**.png", "*.woff2"]), max_size=3),
    st.integers(1, 3 * 2**20),
)
def test_precache_plan_properties(files, globs, cap):
    """Every precached URL is a manifest file under the size cap; the version depends only
    on the (URL, revision) list; explicit names are always there."""
    kinds = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    entries = {}
    for name, (fp, size) in files.items():
        stem, ext = name.rsplit(".", 1)
        path = f"{stem}.{'0123456789' if fp else ''}.{ext}".replace("..", ".")
        ctype = kinds.get("." + ext, "text/plain")
        entries[name] = entry(path, ctype, fp=fp, size=size, h=f"{len(name):02x}" * 32)
    manifest = Manifest(files=entries, url_prefix="/s/")
    explicit = [n for n, e in entries.items() if e.size <= cap][:1]
    config = ServiceWorkerConfig(precache=(*globs, *explicit), max_file_size=cap, images=("*",))
    planned, skipped = plan_precache(manifest, config)
    paths = {e.path: e for e in entries.values()}
    assert [p.url for p in planned] == sorted({p.url for p in planned})
    for item in planned:
        assert item.url == "/s/" + item.path
        assert item.size <= cap
        assert item.revision == (
            None if paths[item.path].fingerprinted else paths[item.path].hash[:16]
        )
    assert all(paths[s].size > cap for s in skipped)
    for name in explicit:
        assert "/s/" + entries[name].path in {p.url for p in planned}
    again, _ = plan_precache(
        Manifest(files=dict(reversed(entries.items())), url_prefix="/s/"), config
    )
    assert precache_version(again) == precache_version(planned)


def test_rule_options_reach_the_worker():
    table = {
        "runtime": [
            {
                "navigate": True,
                "strategy": "network-first",
                "include": ["/docs/**"],
                "exclude": ["/docs/private/*"],
                "max_bytes": 1000,
                "broadcast_update": True,
            },
            {
                "url_regex": "^https://cdn/",
                "strategy": "cache-first",
                "cache_opaque": True,
                "max_opaque_entries": 3,
                "content_types": ["image/png"],
            },
        ],
        "import_scripts": ["js/app.js", "https://other.example/x.js"],
        "ignore_url_parameters": ["^ref$"],
        "debug": True,
    }
    worker = render_service_worker(sample_manifest(), config_from_mapping(table))
    data = config_json(worker.source)
    pages, cdn = data["rules"]
    assert pages["include"] == ["^\\/docs\\/.*$"]
    assert pages["exclude"] == ["^\\/docs\\/private\\/[^/]*$"]
    assert (pages["maxBytes"], pages["broadcast"], pages["contentTypes"]) == (1000, True, None)
    assert (pages["opaque"], pages["maxOpaque"]) == (False, None)
    assert (cdn["opaque"], cdn["maxOpaque"], cdn["contentTypes"]) == (True, 3, ["image/png"])
    assert data["ignoreParams"] == ["^ref$"]
    assert data["debug"] is True
    js = "/static/" + sample_manifest()["js/app.js"].path
    assert f'importScripts("{js}", "https://other.example/x.js")' in worker.source


def test_an_unknown_import_script_fails_the_build():
    config = config_from_mapping({"import_scripts": ["js/nope.js"]})
    with pytest.raises(ServiceWorkerError, match=r"import_scripts entry 'js/nope\.js'"):
        render_service_worker(sample_manifest(), config)
