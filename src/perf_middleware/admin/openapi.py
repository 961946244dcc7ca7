"""OpenAPI 3.0 description of the admin API (served at ``<prefix>/openapi.json``).

Kept next to the code as a Python literal so the schema fuzzer test and the served document
can never drift apart from each other; the prefix is filled in per mount.
"""

from __future__ import annotations

from typing import Any

from perf_middleware.admin.io import INVALIDATE_FIELDS, MAX_ITEM_LENGTH, MAX_ITEMS

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_HIST = {
    "type": "object",
    "required": ["count", "sum", "buckets"],
    "properties": {
        "count": {"type": "integer"},
        "sum": {"type": "number"},
        "buckets": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_METRICS_JSON = {
    "type": "object",
    "required": ["uptime_seconds", "requests", "response_time_seconds", "cache", "compression"],
    "properties": {
        "uptime_seconds": {"type": "number"},
        "requests": {
            "type": "object",
            "required": ["total", "in_flight", "not_modified", "by_status_class"],
            "properties": {
                "total": {"type": "integer"},
                "in_flight": {"type": "integer"},
                "not_modified": {"type": "integer"},
                "by_status_class": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                },
            },
        },
        "response_time_seconds": _HIST,
        "cache": {"type": "object", "additionalProperties": {"type": "object"}},
        "cache_size": {"type": "object", "additionalProperties": {"type": "object"}},
        "compression": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status", "cache"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "cache": {"type": "string", "nullable": True},
        "latency_ms": {"type": "number", "nullable": True},
        "reason": {"type": "string"},
    },
}
_ENTRY = {
    "type": "object",
    "required": ["key", "url", "status", "stored_at", "age", "ttl", "size", "tags", "variants"],
    "properties": {
        "key": {"type": "string"},
        "url": {"type": "string"},
        "status": {"type": "integer"},
        "stored_at": {"type": "number"},
        "age": {"type": "number"},
        "ttl": {"type": "number"},
        "size": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "variants": {"type": "array", "items": {"type": "string"}},
        "vary": {"type": "array", "items": {"type": "string"}},
    },
}
_STRINGS = {
    "type": "array",
    "maxItems": MAX_ITEMS,
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_ITEM_LENGTH},
}
_INVALIDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "tags": _STRINGS,
        "urls": {**_STRINGS, "description": "Absolute URLs or primary keys to drop."},
        "patterns": {
            **_STRINGS,
            "items": {"type": "string", "pattern": "^(/|[a-z][a-z0-9+.-]*://)", "minLength": 1},
            "description": "Globs: '*' matches anything; start with '/' (path) or scheme://.",
        },
        "all": {"type": "boolean", "description": "Drop every entry of this backend."},
    },
}
assert set(_INVALIDATE["properties"]) == set(INVALIDATE_FIELDS)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusals() -> dict[str, Any]:
    return {
        "401": {"description": "Missing or wrong bearer token (no detail given)."},
        "403": {"description": "Client address not in the allow-list."},
    }


def _cache_target() -> list[dict[str, Any]]:
    return [
        {
            "name": "target",
            "in": "path",
            "required": True,
            "description": "Cache key or absolute URL, percent-encoded.",
            "schema": {"type": "string", "minLength": 1},
        }
    ]


_HTML = {"text/html": {"schema": {"type": "string"}}}
_BEACON_ERROR = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
}
_BEACON = {
    "type": "object",
    "required": ["route", "metrics"],
    "properties": {
        "route": {"type": "string", "description": "Route template of the page."},
        "served_by": {"type": "string", "enum": ["network", "service-worker", "http-cache"]},
        "metrics": {
            "type": "object",
            "properties": {
                "LCP": {"type": "number", "minimum": 0, "maximum": 120000},
                "FCP": {"type": "number", "minimum": 0, "maximum": 120000},
                "TTFB": {"type": "number", "minimum": 0, "maximum": 120000},
                "INP": {"type": "number", "minimum": 0, "maximum": 60000},
                "CLS": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
    },
}
_DASHBOARD_JSON = {
    "type": "object",
    "required": ["generated_at", "metrics", "latency_bounds", "history", "largest", "build"],
    "properties": {
        "generated_at": {"type": "number"},
        "metrics": _METRICS_JSON,
        "latency_bounds": {"type": "array", "items": {"type": "number"}},
        "history_interval": {"type": "number"},
        "history": {"type": "array", "items": {"type": "object"}},
        "largest": {"type": "array", "nullable": True, "items": {"type": "object"}},
        "build": {"type": "object", "nullable": True},
    },
}


def _dashboard_paths() -> dict[str, Any]:
    """The dashboard and the public beacon endpoint."""
    beacon_body = {"content": {t: {"schema": _BEACON} for t in ("text/plain", "application/json")}}
    return {
        "/": {
            "get": {
                "operationId": "dashboard",
                "summary": "The operator dashboard (HTML, refreshing from /dashboard.json).",
                "responses": {"200": {"description": "Page.", "content": _HTML}, **_refusals()},
            }
        },
        "/dashboard.json": {
            "get": {
                "operationId": "dashboardData",
                "summary": "What the dashboard draws: metrics, history, largest entries, build.",
                "responses": {"200": _json(_DASHBOARD_JSON, "Data."), **_refusals()},
            }
        },
        "/report": {
            "get": {
                "operationId": "report",
                "summary": "The dashboard as one self-contained HTML file (an attachment).",
                "responses": {"200": {"description": "Report.", "content": _HTML}, **_refusals()},
            }
        },
        "/login": {
            "post": {
                "operationId": "login",
                "summary": "Sign a browser in: a session cookie for reading (GET) endpoints.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["token"],
                                "properties": {"token": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "303": {"description": "Signed in: Set-Cookie, and Location the dashboard."},
                    "401": {"description": "Wrong token: the form again.", "content": _HTML},
                    "403": {"description": "Client address not in the allow-list."},
                    "415": _json(_ERROR, "Not a form."),
                    "429": {"description": "Too many attempts from this client address."},
                },
            }
        },
        "/vitals": {
            "post": {
                "operationId": "webVitalsBeacon",
                "summary": "A page view's Web Vitals (public: no token; AdminConfig.web_vitals).",
                "security": [],
                "requestBody": {"required": True, **beacon_body},
                "responses": {
                    "204": {"description": "Recorded (invalid single values dropped)."},
                    "400": _json(_BEACON_ERROR, "Not UTF-8 JSON, or wrong field types."),
                    "403": _json(_BEACON_ERROR, "Sent from another site."),
                    "404": _json(_ERROR, "Web Vitals are not switched on."),
                    "413": _json(_BEACON_ERROR, "Larger than 4 KiB."),
                    "415": _json(_BEACON_ERROR, "Not text/plain or application/json."),
                    "422": _json(_BEACON_ERROR, "Unknown route, or every value out of range."),
                    "429": {"description": "Too many beacons from this client address."},
                },
            }
        },
    }


def openapi_document(prefix: str = "/_perf") -> dict[str, Any]:
    """The OpenAPI 3.0.3 document for the admin API mounted at ``prefix``."""
    not_configured = _json(_ERROR, "Not cached, or no response cache configured.")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "perf-middleware admin API",
            "version": "1",
            "description": "Metrics, health, response-cache control and the dashboard. Every "
            "call but the Web Vitals beacon needs 'Authorization: Bearer <token>' "
            "(AdminConfig.token / PERF_ADMIN_TOKEN).",
        },
        "servers": [{"url": prefix}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            **_dashboard_paths(),
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus text, OpenMetrics by Accept, JSON by ?format=json.",
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["prometheus", "json"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Metrics.",
                            "content": {
                                "text/plain": {"schema": {"type": "string"}},
                                "application/openmetrics-text": {"schema": {"type": "string"}},
                                "application/json": {"schema": _METRICS_JSON},
                            },
                        },
                        **_refusals(),
                    },
                }
            },
            "/metrics.json": {
                "get": {
                    "operationId": "metricsJson",
                    "summary": "Metrics as JSON, with hit ratios and compression savings.",
                    "responses": {"200": _json(_METRICS_JSON, "Metrics."), **_refusals()},
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Pings the cache backend; 503 with a reason when degraded.",
                    "responses": {
                        "200": _json(_HEALTH, "Healthy."),
                        "503": _json(_HEALTH, "Degraded: backend down, erroring or slow."),
                        **_refusals(),
                    },
                }
            },
            "/cache/{target}": {
                "parameters": _cache_target(),
                "get": {
                    "operationId": "cacheEntry",
                    "summary": "Metadata of the entries stored under a key or URL (no bodies).",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["key", "entries"],
                                "properties": {
                                    "key": {"type": "string"},
                                    "entries": {"type": "array", "items": _ENTRY},
                                },
                            },
                            "Stored variants.",
                        ),
                        "404": not_configured,
                        **_refusals(),
                    },
                },
                "delete": {
                    "operationId": "cacheDelete",
                    "summary": "Drop every variant stored for a URL.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["removed", "url"],
                                "properties": {
                                    "removed": {"type": "integer", "minimum": 0},
                                    "url": {"type": "string"},
                                },
                            },
                            "Entries removed.",
                        ),
                        "404": not_configured,
                        **_refusals(),
                    },
                },
            },
            "/invalidate": {
                "post": {
                    "operationId": "invalidate",
                    "summary": "Drop entries by tag, URL, glob pattern, or everything.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _INVALIDATE}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["removed", "by_kind"],
                                "properties": {
                                    "removed": {"type": "integer", "minimum": 0},
                                    "by_kind": {
                                        "type": "object",
                                        "additionalProperties": {"type": "integer"},
                                    },
                                },
                            },
                            "Entries removed, in total and per kind.",
                        ),
                        "400": _json(_ERROR, "Body is not JSON."),
                        "404": not_configured,
                        "413": _json(_ERROR, "Body too large."),
                        "415": _json(_ERROR, "Body is not application/json."),
                        "422": _json(_ERROR, "Unknown field, wrong type or bad pattern."),
                        **_refusals(),
                    },
                }
            },
        },
    }
