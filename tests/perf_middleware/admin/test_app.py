"""Admin API as a standalone ASGI app: auth (token, IP allow-list), every endpoint with and
without the token, metrics formats, and request-body validation (4xx with a reason)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from perf_middleware.admin.app import AdminApp
from perf_middleware.admin.config import AdminConfig
from perf_middleware.admin.openapi import openapi_document
from perf_middleware.metrics.counters import Metrics

TOKEN = "s3cret-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENDPOINTS = [
    ("GET", "/_perf/metrics"),
    ("GET", "/_perf/metrics.json"),
    ("GET", "/_perf/health"),
    ("GET", "/_perf/openapi.json"),
    ("GET", "/_perf/cache/https%3A%2F%2Fexample.com%2Fa"),
    ("DELETE", "/_perf/cache/https%3A%2F%2Fexample.com%2Fa"),
    ("POST", "/_perf/invalidate"),
    ("GET", "/_perf/"),
    ("GET", "/_perf/dashboard.json"),
    ("GET", "/_perf/report"),
]


def client(app, ip="127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics()
    m.observe_response(200, 0.002)
    m.observe_response(304, 0.0001)
    m.cache("memory").hit += 2
    return m


@pytest.fixture
def app(metrics) -> AdminApp:
    return AdminApp(AdminConfig(token=TOKEN), metrics=metrics)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "basic-scheme", "suffix", "empty"],
)
async def test_every_endpoint_refuses_without_the_token(app, method, path, headers):
    async with client(app) as c:
        r = await c.request(method, path, headers=headers, json={"tags": ["x"]})
    assert r.status_code == 401
    assert r.content == b""
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_answers_with_the_token(app, method, path):
    async with client(app) as c:
        r = await c.request(method, path, headers=AUTH, json={"tags": ["x"]})
    # no cache configured: cache endpoints say so with a hint, the others answer 200
    if "/cache/" in path or path.endswith("/invalidate"):
        assert r.status_code == 404
        assert "HINT" in r.json()["error"]
    else:
        assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"


async def test_scheme_is_case_insensitive(app):
    async with client(app) as c:
        r = await c.get("/_perf/health", headers={"authorization": f"bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "cache": None}


async def test_disabled_without_token_answers_404_to_everything():
    app = AdminApp(AdminConfig())
    async with client(app) as c:
        r = await c.get("/_perf/metrics", headers=AUTH)
    assert r.status_code == 404
    assert r.content == b""


async def test_ip_allow_list(metrics):
    app = AdminApp(AdminConfig(token=TOKEN, allow_ips=("10.0.0.0/8", "::1")), metrics=metrics)
    async with client(app, ip="10.1.2.3") as c:
        assert (await c.get("/_perf/health", headers=AUTH)).status_code == 200
    async with client(app, ip="::1") as c:
        assert (await c.get("/_perf/health", headers=AUTH)).status_code == 200
    async with client(app, ip="192.168.0.1") as c:
        r = await c.get("/_perf/health", headers=AUTH)
        assert (r.status_code, r.content) == (403, b"")
    async with client(app, ip="not-an-ip") as c:
        assert (await c.get("/_perf/health", headers=AUTH)).status_code == 403


async def test_metrics_prometheus_text(app):
    async with client(app) as c:
        r = await c.get("/_perf/metrics", headers=AUTH)
    assert r.headers["content-type"].startswith("text/plain")
    values = {
        (s.name, tuple(s.labels.items())): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }
    assert values[("perf_requests_total", ())] == 2
    assert values[("perf_not_modified_total", ())] == 1
    assert values[("perf_cache_hit_total", (("backend", "memory"),))] == 2


@pytest.mark.parametrize("path", ["/_perf/metrics?format=json", "/_perf/metrics.json"])
async def test_metrics_json(app, path):
    async with client(app) as c:
        r = await c.get(path, headers=AUTH)
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["requests"]["total"] == 2
    assert doc["cache"]["memory"]["hit"] == 2
    assert doc["cache"]["memory"]["hit_ratio"] == 1.0


async def test_openapi_document_is_served_with_the_mount_prefix(app):
    async with client(app) as c:
        r = await c.get("/_perf/openapi.json", headers=AUTH)
    assert r.json() == json.loads(json.dumps(openapi_document("/_perf")))
    assert r.json()["servers"] == [{"url": "/_perf"}]


async def test_unknown_path_and_wrong_method(app):
    async with client(app) as c:
        r = await c.get("/_perf/nope", headers=AUTH)
        assert r.status_code == 404
        assert "nope" in r.json()["error"]
        r = await c.post("/_perf/metrics", headers=AUTH)
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, HEAD"
        r = await c.get("/_perf/invalidate", headers=AUTH)
        assert (r.status_code, r.headers["allow"]) == (405, "POST")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "empty body"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b"[" * 100_00 + b"]" * 100_00, "application/json", 400, "not valid JSON"),
        (b'{"tags": ["a"]}', "text/plain", 415, "application/json"),
        (b'["a"]', "application/json", 422, "JSON object"),
        (b'{"tag": ["a"]}', "application/json", 422, "unknown field(s) 'tag'"),
        (b'{"tags": "a"}', "application/json", 422, "list of strings"),
        (b'{"tags": [1]}', "application/json", 422, "tags[0]"),
        (b'{"tags": [""]}', "application/json", 422, "tags[0]"),
        (b'{"all": "yes"}', "application/json", 422, "'all'"),
        (b'{"patterns": ["no-slash*"]}', "application/json", 422, "patterns[0]"),
        (b'{"tags": []}', "application/json", 422, "nothing to invalidate"),
        (b'{"tags": ["a"], "extra": 1}', "application/json", 422, "'extra'"),
    ],
)
async def test_invalidate_body_errors_are_4xx_with_reason(app, body, content_type, status, reason):
    async with client(app) as c:
        r = await c.post(
            "/_perf/invalidate", content=body, headers={**AUTH, "Content-Type": content_type}
        )
    assert r.status_code == status
    assert reason in r.json()["error"]


async def test_invalidate_body_too_large(metrics):
    app = AdminApp(AdminConfig(token=TOKEN, max_body=100), metrics=metrics)
    async with client(app) as c:
        r = await c.post("/_perf/invalidate", json={"tags": ["x" * 200]}, headers=AUTH)
    assert r.status_code == 413
    assert "100 bytes" in r.json()["error"]


async def test_refusals_are_logged_without_the_token(app, caplog):
    caplog.set_level(logging.WARNING, logger="perf_middleware.admin")
    async with client(app) as c:
        await c.get("/_perf/metrics", headers={"Authorization": "Bearer guess-0123456789abcdef"})
    assert "reason=bad-token" in caplog.text
    assert "guess" not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"token": "short"}, "shorter than 16"),
        ({"token": TOKEN, "allow_ips": ("10.0.0.300",)}, "not an IP address"),
        ({"token": TOKEN, "prefix": "_perf"}, "must start with '/'"),
        ({"token": TOKEN, "prefix": "/_perf/"}, "must start with '/'"),
    ],
)
def test_bad_config_is_refused_with_hint(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        AdminConfig(**kwargs)
    assert "HINT" in str(info.value)


def test_token_from_environment():
    assert AdminConfig.from_env({"PERF_ADMIN_TOKEN": TOKEN}).token == TOKEN
    assert not AdminConfig.from_env({"PERF_ADMIN_TOKEN": "  "}).enabled
    assert not AdminConfig.from_env({}).enabled


def test_matches_only_the_prefix_segment():
    app = AdminApp(AdminConfig(token=TOKEN))
    assert app.matches("/_perf")
    assert app.matches("/_perf/metrics")
    assert not app.matches("/_perfx")
    assert not app.matches("/other/_perf")


async def test_head_answers_like_get_without_body(app):
    async with client(app) as c:
        get = await c.get("/_perf/metrics.json", headers=AUTH)
        head = await c.head("/_perf/metrics.json", headers=AUTH)
        assert (await c.head("/_perf/health")).status_code == 401
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) > 0
    assert get.status_code == 200


async def test_openmetrics_when_asked_for(app):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    async with client(app) as c:
        r = await c.get("/_perf/metrics", headers={**AUTH, "Accept": accept})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    values = {
        (s.name, tuple(s.labels.items())): s.value for f in om_parse(r.text) for s in f.samples
    }
    assert values[("perf_requests_total", ())] == 2
