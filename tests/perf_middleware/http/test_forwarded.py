from __future__ import annotations

from perf_middleware.http.forwarded import forwarded_origin


def test_x_forwarded_fields_take_the_value_the_nearest_proxy_added() -> None:
    """A proxy that appends keeps what the client sent in front of its own value: only the
    last one was written by the trusted peer."""
    headers = {b"x-forwarded-host": b"forged.test, a.test", b"x-forwarded-proto": b"http, HTTPS"}
    assert forwarded_origin(headers) == (b"a.test", "https")


def test_a_client_forged_forwarded_element_is_not_the_origin() -> None:
    headers = {
        b"forwarded": b'host=forged.test;proto=http, for=192.0.2.60;proto=https;host="b.test"'
    }
    assert forwarded_origin(headers) == (b"b.test", "https")


def test_forwarded_wins_and_is_parsed_per_rfc_7239() -> None:
    headers = {
        b"forwarded": b'for=10.0.0.1;host=x, for=192.0.2.60;proto=https;host="b.test:8443"',
        b"x-forwarded-host": b"a.test",
    }
    assert forwarded_origin(headers) == (b"b.test:8443", "https")
    assert forwarded_origin({b"forwarded": b"for=1.2.3.4"}) == (None, None)


def test_unknown_schemes_and_empty_values_are_ignored() -> None:
    headers = {b"x-forwarded-proto": b"javascript", b"x-forwarded-host": b""}
    assert forwarded_origin(headers) == (None, None)
