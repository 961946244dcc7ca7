"""Every public constructor checks its arguments: the option, what it got, and a HINT."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_middleware import (
    AdminConfig,
    Assets,
    CacheConfig,
    CompressionConfig,
    MemoryBackend,
    Metrics,
    PerformanceMiddleware,
    PreloadHints,
    RedisBackend,
    StaticAssets,
    StaticConfig,
    cached,
)


async def app(scope, receive, send):  # pragma: no cover - never called
    pass


def test_a_misspelled_middleware_keyword_suggests_the_option_and_lists_them_all() -> None:
    with pytest.raises(TypeError) as info:
        PerformanceMiddleware(app, cahce=MemoryBackend())  # type: ignore[call-arg]
    text = str(info.value)
    assert "PerformanceMiddleware() has no option 'cahce'" in text
    assert "did you mean 'cache'?" in text
    assert "HINT: the options are:" in text
    for option in ("cache", "cache_config", "static", "compression", "policy", "server_timing"):
        assert option in text


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: MemoryBackend(max_byte=10), "MemoryBackend() has no option 'max_byte'"),
        (lambda: RedisBackend(namespce="x"), "RedisBackend() has no option 'namespce'"),
        (lambda: CompressionConfig(zstd_levl=3), "CompressionConfig() has no option 'zstd_levl'"),
        (lambda: CacheConfig(alowed_hosts=()), "CacheConfig() has no option 'alowed_hosts'"),
        (lambda: AdminConfig(tokn="x"), "AdminConfig() has no option 'tokn'"),
    ],
)
def test_misspelled_keywords_everywhere_name_the_option(make, needle) -> None:
    with pytest.raises(TypeError, match="did you mean") as info:
        make()
    assert needle in str(info.value)
    assert "HINT: the options are:" in str(info.value)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (
            lambda: MemoryBackend(max_bytes="64MB"),
            "MemoryBackend(max_bytes=...) must be an int, got str '64MB'",
        ),
        (
            lambda: MemoryBackend(max_bytes=True),
            "MemoryBackend(max_bytes=...) must be an int, got bool True",
        ),
        (
            lambda: MemoryBackend(max_entry_bytes=1.5),
            "MemoryBackend(max_entry_bytes=...) must be an int or None, got float 1.5",
        ),
        (
            lambda: RedisBackend(socket_timeout="1s"),
            "RedisBackend(socket_timeout=...) must be a number, got str '1s'",
        ),
        (
            lambda: RedisBackend(url=6379),
            "RedisBackend(url=...) must be a str, got int 6379",
        ),
        (
            lambda: PerformanceMiddleware(app, etag_max_bytes="8MB"),
            "PerformanceMiddleware(etag_max_bytes=...) must be an int, got str '8MB'",
        ),
        (
            lambda: PerformanceMiddleware(app, server_timing="yes"),
            "PerformanceMiddleware(server_timing=...) must be a bool, got str 'yes'",
        ),
        (
            lambda: CacheConfig(max_body_size="1MB"),
            "CacheConfig(max_body_size=...) must be an int, got str '1MB'",
        ),
        (
            lambda: StaticConfig(autorefresh="no"),
            "StaticConfig(autorefresh=...) must be a bool, got str 'no'",
        ),
        (
            lambda: cached(ttl="60"),
            "cached(ttl=...) must be a number, got str '60'",
        ),
    ],
)
def test_wrong_types_name_the_option_and_what_it_got(make, needle) -> None:
    with pytest.raises(TypeError, match="HINT:") as info:
        make()
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: MemoryBackend(max_bytes=0), "MemoryBackend(max_bytes=0) must be at least 1"),
        (
            lambda: RedisBackend(max_connections=0),
            "RedisBackend(max_connections=0) must be at least 1",
        ),
        (
            lambda: RedisBackend(socket_timeout=-1),
            "RedisBackend(socket_timeout=-1) must be more than 0",
        ),
        (
            lambda: PerformanceMiddleware(app, etag_max_bytes=-1),
            "PerformanceMiddleware(etag_max_bytes=-1) must be at least 0",
        ),
    ],
)
def test_out_of_range_values_name_the_option(make, needle) -> None:
    with pytest.raises(ValueError, match="HINT:") as info:
        make()
    assert needle in str(info.value)


def test_objects_of_the_wrong_kind_are_named() -> None:
    with pytest.raises(TypeError, match=r"cache=\.\.\.\) must be a cache backend.*got str.*HINT"):
        PerformanceMiddleware(app, cache="redis://localhost")
    with pytest.raises(TypeError, match=r"cache_config=\.\.\.\) must be a CacheConfig.*HINT"):
        PerformanceMiddleware(app, cache=MemoryBackend(), cache_config={"allowed_hosts": ()})
    with pytest.raises(TypeError, match=r"static=\.\.\.\) must be a StaticAssets.*got str.*HINT"):
        PerformanceMiddleware(app, static="dist")
    with pytest.raises(TypeError, match=r"Metrics\(config=\.\.\.\) must be a MetricsConfig.*HINT"):
        Metrics({"latency_buckets": (1.0,)})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"PreloadHints\(app=\.\.\.\) must be an ASGI app.*HINT"):
        PreloadHints("app", None)  # type: ignore[arg-type]


def test_helper_options_suggest_the_closest_name(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"StaticAssets\(\) has no option 'serve_unlisted_files'"):
        StaticAssets(tmp_path, serve_unlisted_files=True)
    with pytest.raises(TypeError, match="did you mean 'cdn_url'"):
        Assets(tmp_path, cdn_uri="https://cdn.example.com")
    with pytest.raises(TypeError, match=r"StaticAssets\(prefix=\.\.\.\) must be a str"):
        StaticAssets(tmp_path, prefix=5)  # type: ignore[arg-type]


def test_hooks_configs_and_positional_mistakes_are_named(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"MemoryBackend\(clock=\.\.\.\) must be a function.*HINT"):
        MemoryBackend(clock=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"RedisBackend\(events=\.\.\.\) must be a function"):
        RedisBackend(events="metrics")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"StaticAssets\(config=\.\.\.\) must be a StaticConfig"):
        StaticAssets(tmp_path, config={"autorefresh": True})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"StaticAssets\(autorefresh=\.\.\.\) must be a bool"):
        StaticAssets(tmp_path, autorefresh="yes")
    with pytest.raises(TypeError, match=r"MemoryBackend\(\): too many positional.*HINT"):
        MemoryBackend(64)  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"cached\(lock_timeout=-1\) must be at least 0.*HINT"):
        cached(lock_timeout=-1)
