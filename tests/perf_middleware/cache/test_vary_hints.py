"""VaryHints: the stage's per-URL Vary memo stays bounded whatever URLs clients send."""

from __future__ import annotations

from perf_middleware.cache.vary_hints import VaryHints, remember


def test_hints_never_exceed_their_limit():
    hints: VaryHints = {}
    for i in range(10_000):
        remember(hints, f"https://h/{i}", ("accept-encoding",), limit=100)
        assert len(hints) <= 100
    assert hints.get("https://h/9999", ()) == ("accept-encoding",)


def test_updating_a_known_url_at_the_limit_keeps_the_others():
    hints: VaryHints = {}
    remember(hints, "https://h/a", ("accept-language",), limit=2)
    remember(hints, "https://h/b", ("accept-encoding",), limit=2)
    remember(hints, "https://h/a", ("accept-encoding",), limit=2)
    assert hints == {"https://h/a": ("accept-encoding",), "https://h/b": ("accept-encoding",)}


def test_an_empty_vary_list_is_not_kept():
    hints: VaryHints = {}
    remember(hints, "https://h/a", ("accept-encoding",))
    remember(hints, "https://h/a", ())
    remember(hints, "https://h/b", ())
    assert len(hints) == 0
    assert hints.get("https://h/a", ()) == ()
