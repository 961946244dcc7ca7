"""The suite tests the build it was asked for: ``make test`` runs it on the compiled
per-request modules, then again on the sources with ``PERF_MIDDLEWARE_NO_EXTENSIONS=1``."""

from __future__ import annotations

import importlib

from perf_middleware import extensions


def test_every_per_request_module_comes_from_the_requested_build() -> None:
    for name in extensions.HOT_MODULES:
        importlib.import_module(f"perf_middleware.{name}")
    if extensions.switched_off():
        assert extensions.compiled_modules() == []
    else:
        assert extensions.compiled_modules() == list(extensions.HOT_MODULES), (
            "the per-request modules are not compiled, or older than their sources. "
            "HINT: run `make compile` (or set PERF_MIDDLEWARE_NO_EXTENSIONS=1 to test the sources)"
        )
