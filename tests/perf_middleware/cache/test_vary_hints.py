"""VaryHints: the stage's per-URL Vary memo stays bounded whatever URLs clients send."""

from __future__ import annotations

from perf_middleware.cache.vary_hints import VaryHints


def test_hints_never_exceed_their_limit():
    hints = VaryHints(limit=100)
    for i in range(10_000):
        hints.remember(f"https://h/{i}", ("accept-encoding",))
        assert len(hints) <= 100
    assert hints.get("https://h/9999", ()) == ("accept-encoding",)


def test_updating_a_known_url_at_the_limit_keeps_the_others():
    hints = VaryHints(limit=2)
    hints.remember("https://h/a", ("accept-language",))
    hints.remember("https://h/b", ("accept-encoding",))
    hints.remember("https://h/a", ("accept-encoding",))
    assert hints == {"https://h/a": ("accept-encoding",), "https://h/b": ("accept-encoding",)}


def test_an_empty_vary_list_is_not_kept():
    hints = VaryHints()
    hints.remember("https://h/a", ("accept-encoding",))
    hints.remember("https://h/a", ())
    hints.remember("https://h/b", ())
    assert len(hints) == 0
    assert hints.get("https://h/a", ()) == ()
