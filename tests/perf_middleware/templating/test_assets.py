"""Template helpers: rendered through real Jinja environments and parsed back as HTML."""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import DictLoader, Environment

from asset_pipeline.manifest import (
    EncodedVariant,
    ImageAlternate,
    Manifest,
    ManifestEntry,
    write_manifest,
)
from perf_middleware.templating import AssetNotFoundError, Assets

SRI = "sha384-" + "A" * 64


def _e(path: str, ctype: str, *deps: str, **extra: object) -> ManifestEntry:
    return ManifestEntry(
        path=path,
        size=100,
        content_type=ctype,
        hash="ab" * 32,
        integrity=SRI + path[-6:],
        fingerprinted=True,
        encodings={"br": EncodedVariant(path + ".br", 40)},
        dependencies=tuple(deps),
        **extra,
    )  # type: ignore[arg-type]


def manifest() -> Manifest:
    hero_alts = (
        ImageAlternate("avif", "image/avif", "img/hero.w1200.aa.avif", 30, 1200, 800),
        ImageAlternate("avif", "image/avif", "img/hero.w600.bb.avif", 10, 600, 400),
        ImageAlternate("webp", "image/webp", "img/hero.w1200.cc.webp", 40, 1200, 800),
        ImageAlternate("webp", "image/webp", "img/hero.w600.dd.webp", 15, 600, 400),
        ImageAlternate("jpeg", "image/jpeg", "img/hero.w600.ee.jpg", 20, 600, 400),
    )
    files = {
        "fonts/serif.woff2": _e("fonts/serif.1111111111.woff2", "font/woff2"),
        "img/bg.png": _e("img/bg.2222222222.png", "image/png", width=10, height=10),
        "css/base.css": _e("css/base.3333333333.css", "text/css", "fonts/serif.woff2"),
        "css/app.css": _e("css/app.4444444444.css", "text/css", "css/base.css", "img/bg.png"),
        "js/pager.js": _e("js/pager.5555555555.js", "text/javascript", module=True),
        "js/app.js": _e(
            "js/app.6666666666.js", "text/javascript", "js/pager.js", "css/app.css", module=True
        ),
        "js/legacy.js": _e("js/legacy.1212121212.js", "text/javascript"),
        "img/hero.jpg": _e(
            "img/hero.7777777777.jpg", "image/jpeg", alternates=hero_alts, width=1200, height=800
        ),
        "img/logo.png": _e(
            "img/logo.8888888888.png",
            "image/png",
            alternates=(ImageAlternate("webp", "image/webp", "img/logo.x.webp", 5, 40, 40),),
            width=40,
            height=40,
        ),
    }
    return Manifest(files=files)


class Elements(HTMLParser):
    """Collects (tag, attrs) for every start tag, and end tags, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, dict[str, str | None]]] = []
        self.ends: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.items.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(str(html))
    parser.close()
    return parser.items


def render(assets: Assets, source: str, **context: object) -> str:
    env = Environment(loader=DictLoader({"t.html": source}), autoescape=True)
    assets.install(env)
    return env.get_template("t.html").render(**context)


def test_asset_url_local_and_filter() -> None:
    assets = Assets(manifest())
    html = render(assets, "{{ asset_url('css/app.css') }}|{{ 'js/app.js' | asset_url }}")
    assert html == "/static/css/app.4444444444.css|/static/js/app.6666666666.js"


def test_asset_url_cdn_and_prefix() -> None:
    assert Assets(manifest(), prefix="/assets/").url("css/app.css") == (
        "/assets/css/app.4444444444.css"
    )
    cdn = Assets(manifest(), cdn_url="https://cdn.example.com/static/")
    assert cdn.url("css/app.css") == "https://cdn.example.com/static/css/app.4444444444.css"


def test_unknown_name_strict_raises_with_hint() -> None:
    assets = Assets(manifest(), strict=True)
    with pytest.raises(AssetNotFoundError, match=r"'css/ap.css'.*HINT: did you mean 'css/app.css'"):
        render(assets, "{{ stylesheet('css/ap.css') }}")


def test_unknown_name_production_logs_and_renders(caplog: pytest.LogCaptureFixture) -> None:
    assets = Assets(manifest())
    with caplog.at_level(logging.ERROR, logger="perf_middleware.templating"):
        html = render(assets, "{{ stylesheet('css/missing.css') }}")
    assert "asset missing" in caplog.text
    assert "css/missing.css" in caplog.text
    ((tag, attrs),) = parse(html)
    assert tag == "link"
    assert attrs["href"] == "/static/css/missing.css"
    assert "integrity" not in attrs


def test_stylesheet_same_origin() -> None:
    ((tag, attrs),) = parse(render(Assets(manifest()), "{{ stylesheet('css/app.css') }}"))
    assert tag == "link"
    assert attrs == {
        "rel": "stylesheet",
        "href": "/static/css/app.4444444444.css",
        "integrity": SRI + "44.css",
    }


def test_stylesheet_cdn_gets_crossorigin_and_media() -> None:
    assets = Assets(manifest(), cdn_url="https://cdn.example.com/static")
    ((_, attrs),) = parse(render(assets, "{{ stylesheet('css/app.css', media='print') }}"))
    assert attrs["crossorigin"] == "anonymous"
    assert attrs["media"] == "print"
    assert attrs["href"] == "https://cdn.example.com/static/css/app.4444444444.css"


def test_script_variants() -> None:
    assets = Assets(manifest())
    items = parse(
        render(
            assets,
            "{{ script('js/app.js', module=True) }}"
            "{{ script('js/legacy.js') }}"
            "{{ script('js/legacy.js', async_=True, data_x='1') }}",
        )
    )
    (t1, a1), (t2, a2), (t3, a3) = items
    assert (t1, t2, t3) == ("script", "script", "script")
    assert a1 == {
        "type": "module",
        "src": "/static/js/app.6666666666.js",
        "integrity": SRI + "666.js",
    }
    assert a2 == {
        "src": "/static/js/legacy.1212121212.js",
        "defer": None,
        "integrity": SRI + "212.js",
    }
    assert "defer" not in a3
    assert "async" in a3
    assert a3["data-x"] == "1"


def test_script_is_a_module_when_the_manifest_says_so() -> None:
    """The build rewrote app.js's ``import``: a classic script would stop at it."""
    ((_, app),) = parse(render(Assets(manifest()), "{{ script('js/app.js') }}"))
    assert app["type"] == "module"
    assert "defer" not in app
    ((_, legacy),) = parse(render(Assets(manifest()), "{{ script('js/legacy.js') }}"))
    assert "type" not in legacy
    ((_, forced),) = parse(render(Assets(manifest()), "{{ script('js/app.js', module=False) }}"))
    assert "type" not in forced
    every = Assets(manifest(), module_scripts=True)
    ((_, all_modules),) = parse(render(every, "{{ script('js/legacy.js') }}"))
    assert all_modules["type"] == "module"


def test_caller_attributes_replace_the_helpers_defaults() -> None:
    html = render(Assets(manifest()), "{{ picture('img/hero.jpg', alt='', loading='eager') }}")
    assert html.count("loading=") == 1
    img = dict(parse(html))["img"]
    assert img["loading"] == "eager"
    assert img["sizes"] == "(max-width: 1200px) 100vw, 1200px"  # eager: no sizes=auto
    gone = render(Assets(manifest()), "{{ picture('img/hero.jpg', alt='', decoding=None) }}")
    assert "decoding" not in gone
    tag = render(
        Assets(manifest()), "{{ stylesheet('css/app.css', crossorigin='use-credentials') }}"
    )
    assert tag.count("crossorigin") == 1
    assert dict(parse(tag))["link"]["crossorigin"] == "use-credentials"


def test_script_without_sri() -> None:
    ((_, attrs),) = parse(render(Assets(manifest(), integrity=False), "{{ script('js/app.js') }}"))
    assert "integrity" not in attrs


def test_picture_responsive_sources_and_img() -> None:
    html = render(Assets(manifest()), "{{ picture('img/hero.jpg', alt='Hills \"at\" <dusk>') }}")
    items = parse(html)
    assert [t for t, _ in items] == ["picture", "source", "source", "img"]
    avif, webp, img = items[1][1], items[2][1], items[3][1]
    assert avif["type"] == "image/avif"
    assert avif["srcset"] == (
        "/static/img/hero.w600.bb.avif 600w, /static/img/hero.w1200.aa.avif 1200w"
    )
    assert webp["type"] == "image/webp"
    assert webp["srcset"] == (
        "/static/img/hero.w600.dd.webp 600w, /static/img/hero.w1200.cc.webp 1200w"
    )
    # lazy: the browser sizes it by its layout width; the rest for browsers without "auto"
    sizes = "auto, (max-width: 1200px) 100vw, 1200px"
    assert avif["sizes"] == webp["sizes"] == img["sizes"] == sizes
    assert img["src"] == "/static/img/hero.7777777777.jpg"
    assert img["srcset"] == (
        "/static/img/hero.w600.ee.jpg 600w, /static/img/hero.7777777777.jpg 1200w"
    )
    assert img["alt"] == 'Hills "at" <dusk>'
    assert (img["width"], img["height"]) == ("1200", "800")
    assert img["loading"] == "lazy"
    assert img["decoding"] == "async"
    assert "fetchpriority" not in img


def test_picture_priority_and_sizes() -> None:
    html = render(
        Assets(manifest()),
        "{{ picture('img/hero.jpg', alt='', sizes='50vw', "
        "lazy=False, priority=True, class_='hero') }}",
    )
    items = dict((t, a) for t, a in parse(html) if t == "img")
    img = items["img"]
    assert img["fetchpriority"] == "high"
    assert "loading" not in img
    assert img["sizes"] == "50vw"
    assert img["class"] == "hero"
    assert img["alt"] == ""


def test_picture_single_size_uses_plain_srcset() -> None:
    items = parse(render(Assets(manifest()), "{{ picture('img/logo.png', alt='Logo') }}"))
    assert [t for t, _ in items] == ["picture", "source", "img"]
    assert items[1][1] == {"type": "image/webp", "srcset": "/static/img/logo.x.webp"}
    assert "srcset" not in items[2][1]
    assert "sizes" not in items[2][1]
    assert items[2][1]["width"] == "40"


def test_preload_links_follow_dependencies() -> None:
    items = parse(render(Assets(manifest()), "{{ preload_links('js/app.js') }}"))
    got = [
        (a["rel"], a["href"], a.get("as"), a.get("crossorigin"), a.get("type")) for _, a in items
    ]
    assert got == [
        ("preload", "/static/css/app.4444444444.css", "style", None, None),
        ("preload", "/static/css/base.3333333333.css", "style", None, None),
        ("preload", "/static/fonts/serif.1111111111.woff2", "font", "anonymous", "font/woff2"),
        ("modulepreload", "/static/js/pager.5555555555.js", None, None, None),
    ]
    # each preload carries the integrity its tag carries: fonts are fetched by CSS, without
    integrity = {a["href"]: a.get("integrity") for _, a in items}
    assert integrity["/static/css/app.4444444444.css"] == SRI + "44.css"
    assert integrity["/static/js/pager.5555555555.js"] == SRI + "555.js"
    assert integrity["/static/fonts/serif.1111111111.woff2"] is None


def test_link_header_includes_the_entries() -> None:
    value = Assets(manifest()).link_header("css/app.css")
    assert value == (
        f'</static/css/app.4444444444.css>; rel=preload; as=style; integrity="{SRI}44.css", '
        f'</static/css/base.3333333333.css>; rel=preload; as=style; integrity="{SRI}33.css", '
        '</static/fonts/serif.1111111111.woff2>; rel=preload; as=font; type="font/woff2"; '
        "crossorigin"
    )
    bare = Assets(manifest(), integrity=False).link_header("css/app.css")
    assert "integrity" not in bare


def test_preloads_match_their_tags_on_a_cdn() -> None:
    cdn = Assets(manifest(), cdn_url="https://cdn.example.com/static")
    value = cdn.link_header("js/app.js", "js/legacy.js")
    members = {m.split(";")[0]: m for m in value.split(", ")}
    app = members["<https://cdn.example.com/static/js/app.6666666666.js>"]
    assert "rel=modulepreload" in app
    assert "; crossorigin;" in app
    assert "as=" not in app
    legacy = members["<https://cdn.example.com/static/js/legacy.1212121212.js>"]
    assert "rel=preload; as=script; crossorigin;" in legacy


def test_assets_from_directory_and_static_app(tmp_path: Path) -> None:
    from perf_middleware.static import StaticAssets
    from tests.perf_middleware.static.test_assets import make_build

    root = tmp_path / "dist"
    built = make_build(root)
    assert Assets(root).url("css/app.css") == "/static/" + built["css/app.css"].path
    static = StaticAssets(root, prefix="/s")
    assert Assets(static).url("css/app.css") == "/s/" + built["css/app.css"].path


def test_autorefresh(tmp_path: Path) -> None:
    m = manifest()
    write_manifest(m, tmp_path)
    assets = Assets(tmp_path, autorefresh=True)
    frozen = Assets(tmp_path)
    assert "base.3333333333.css" in assets.link_header("css/app.css")  # memoised now
    files = dict(m.files)
    files["css/app.css"] = _e("css/app.9999999999.css", "text/css")
    write_manifest(Manifest(files=files), tmp_path)
    import os

    st = os.stat(tmp_path / "manifest.json")
    os.utime(tmp_path / "manifest.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert assets.url("css/app.css") == "/static/css/app.9999999999.css"
    assert assets.link_header("css/app.css") == (
        f'</static/css/app.9999999999.css>; rel=preload; as=style; integrity="{SRI}99.css"'
    )
    assert frozen.url("css/app.css") == "/static/css/app.4444444444.css"


def test_install_rejects_non_environment() -> None:
    with pytest.raises(TypeError, match="HINT"):
        Assets(manifest()).install(object())


def test_unknown_option() -> None:
    with pytest.raises(TypeError, match="HINT: the options are"):
        Assets(manifest(), cdn="x")


def test_picture_lists_the_smaller_format_first() -> None:
    alts = (
        ImageAlternate("avif", "image/avif", "img/p.a.avif", 900, 100, 50),
        ImageAlternate("webp", "image/webp", "img/p.w.webp", 500, 100, 50),
    )
    m = Manifest(
        files={"img/p.png": _e("img/p.1.png", "image/png", alternates=alts, width=100, height=50)}
    )
    items = parse(render(Assets(m), "{{ picture('img/p.png', alt='p') }}"))
    assert [a.get("type") for t, a in items if t == "source"] == ["image/webp", "image/avif"]


def test_a_source_needs_a_candidate_as_wide_as_the_widest() -> None:
    """AVIF only at 600 px: the browser picks a <source> by type before width, so the
    AVIF source would put a 600 px image into a 1200 px slot. It is left out."""
    alts = (
        ImageAlternate("avif", "image/avif", "img/p.w600.a.avif", 10, 600, 300),
        ImageAlternate("webp", "image/webp", "img/p.w600.w.webp", 15, 600, 300),
        ImageAlternate("webp", "image/webp", "img/p.w1200.w.webp", 40, 1200, 600),
        ImageAlternate("jpeg", "image/jpeg", "img/p.w600.j.jpg", 20, 600, 300),
    )
    entry = _e("img/p.1.jpg", "image/jpeg", alternates=alts, width=1200, height=600)
    items = parse(
        render(Assets(Manifest(files={"img/p.jpg": entry})), "{{ picture('img/p.jpg', alt='') }}")
    )
    sources = [a for t, a in items if t == "source"]
    assert [s["type"] for s in sources] == ["image/webp"]
    assert sources[0]["srcset"].endswith("/static/img/p.w1200.w.webp 1200w")


async def test_urls_are_percent_encoded_and_served(tmp_path: Path) -> None:
    import httpx

    from perf_middleware.static import StaticAssets

    data = b"body { color: red }"
    import base64
    import hashlib

    from blake3 import blake3

    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "my style é.abc.css").write_bytes(data)
    entry = ManifestEntry(
        path="css/my style é.abc.css",
        size=len(data),
        content_type="text/css",
        hash=blake3(data).hexdigest(),
        integrity="sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode(),
        fingerprinted=True,
    )
    write_manifest(Manifest(files={"css/my style é.css": entry}), tmp_path)
    href = Assets(tmp_path).url("css/my style é.css")
    assert href == "/static/css/my%20style%20%C3%A9.abc.css"
    transport = httpx.ASGITransport(app=StaticAssets(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get(href)
    assert r.status_code == 200
    assert r.content == data
