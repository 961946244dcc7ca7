from __future__ import annotations

import pytest

from perf_middleware.policy import Policy, Rule


def apply(
    policy: Policy,
    path: str,
    ctype: str = "text/html",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[bytes, bytes]:
    raw = list(headers or [])
    policy.apply(raw, path, ctype, status)
    return dict(raw)


def test_default_presets() -> None:
    policy = Policy.default(no_store=["/account/*"])
    assert apply(policy, "/static/app.3f2a9c1e.js", "application/javascript")[b"cache-control"] == (
        b"public, max-age=31536000, immutable"
    )
    assert apply(policy, "/static/logo-3f2a9c1e4b.png", "image/png")[b"cache-control"] == (
        b"public, max-age=31536000, immutable"
    )
    assert apply(policy, "/", "text/html")[b"cache-control"] == b"no-cache"
    assert apply(policy, "/account/settings", "text/html")[b"cache-control"] == b"no-store"
    assert b"cache-control" not in apply(policy, "/api/data", "application/json")
    assert b"cache-control" not in apply(policy, "/static/app.js", "application/javascript")


def test_fingerprint_rule_not_applied_to_errors() -> None:
    policy = Policy.default()
    assert b"cache-control" not in apply(policy, "/static/app.3f2a9c1e.js", "text/javascript", 404)


def test_no_rule_gives_long_lifetime_to_500() -> None:
    policy = Policy(rules=(Rule(cache_control="public, max-age=600"),))
    assert b"cache-control" not in apply(policy, "/x", status=500)
    assert apply(policy, "/x", status=200)[b"cache-control"] == b"public, max-age=600"


def test_app_cache_control_wins_unless_override() -> None:
    own = [(b"cache-control", b"max-age=5")]
    assert apply(Policy.default(), "/", headers=own)[b"cache-control"] == b"max-age=5"
    policy = Policy(rules=(Rule(path="/*", cache_control="no-store", override=True),))
    out: list[tuple[bytes, bytes]] = [(b"Cache-Control", b"max-age=5")]
    policy.apply(out, "/a", "text/html", 200)
    assert out == [(b"cache-control", b"no-store")]


def test_first_matching_rule_wins_and_criteria_combine() -> None:
    policy = Policy(
        rules=(
            Rule(path="/api/*", content_type="application/json", cache_control="max-age=10"),
            Rule(content_type="image/*", cache_control="max-age=3600"),
            Rule(cache_control="no-cache"),
        )
    )
    assert apply(policy, "/api/x", "application/json")[b"cache-control"] == b"max-age=10"
    assert apply(policy, "/api/x", "text/html")[b"cache-control"] == b"no-cache"
    assert apply(policy, "/img/a.png", "image/png")[b"cache-control"] == b"max-age=3600"


def test_regex_paths() -> None:
    policy = Policy(rules=(Rule(path=r"/p/\d+", regex=True, cache_control="max-age=1"),))
    assert apply(policy, "/p/42")[b"cache-control"] == b"max-age=1"
    assert b"cache-control" not in apply(policy, "/p/42/x")


def test_cdn_surrogate_and_tags() -> None:
    policy = Policy(
        rules=(
            Rule(
                path="/p/*",
                cache_control="public, max-age=60",
                cdn_cache_control="max-age=3600",
                surrogate_control="max-age=86400",
                tags=("pages", "p"),
            ),
        ),
        tag_header="Surrogate-Key",
    )
    out = apply(policy, "/p/1", headers=[(b"surrogate-key", b"user-7")])
    assert out[b"cdn-cache-control"] == b"max-age=3600"
    assert out[b"surrogate-control"] == b"max-age=86400"
    assert out[b"surrogate-key"] == b"user-7,pages,p"
    assert apply(policy, "/p/2")[b"surrogate-key"] == b"pages,p"


def test_set_cookie_never_gets_shared_caching() -> None:
    policy = Policy(
        rules=(Rule(cache_control="public, max-age=60", cdn_cache_control="max-age=9"),)
    )
    out = apply(policy, "/", headers=[(b"set-cookie", b"sid=1")])
    assert b"cache-control" not in out
    assert b"cdn-cache-control" not in out
    private = Policy(rules=(Rule(cache_control="private, max-age=60"),))
    assert apply(private, "/", headers=[(b"set-cookie", b"sid=1")])[b"cache-control"] == (
        b"private, max-age=60"
    )


def test_decisions_are_memoised() -> None:
    policy = Policy.default()
    assert policy.decide("/", "text/html", 200) is policy.decide("/", "text/html", 200)


def test_bad_rules_have_hints() -> None:
    with pytest.raises(ValueError, match="HINT"):
        Rule(path="([", regex=True)
    with pytest.raises(ValueError, match="HINT"):
        Rule(cache_control="max-age=1\r\nX-Evil: 1")
