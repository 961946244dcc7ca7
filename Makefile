# Two front doors: `make demo` runs the example app, `make test` runs everything.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PORT ?= 8000
HOST ?= 127.0.0.1
UV := python3 -m uv
EXAMPLE := examples/starlette_app
SYSTEM_PACKAGES := redis-server chromium fonts-dejavu-core nodejs nginx-light zstd

.PHONY: demo demo-django test uv sync sync-all system-deps lint typecheck pytest docs bench clean admin-assets

uv:
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv

sync: uv
	$(UV) sync --locked --all-extras --no-dev

sync-all: uv
	$(UV) sync --locked --all-extras

## Install Debian packages the test suite needs (runs as root on a fresh machine).
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	test -x /usr/sbin/nginx || missing="$$missing nginx-light"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## Build the example's assets, then serve it on http://$(HOST):$(PORT) (Ctrl-C stops it).
demo: sync
	$(UV) run --no-sync asset-pipeline build $(EXAMPLE)/static --out $(EXAMPLE)/dist --config $(EXAMPLE)/assets.toml
	exec $(UV) run --no-sync uvicorn examples.starlette_app.app:app --host $(HOST) --port $(PORT)

## The Django example: migrate, collectstatic (the asset pipeline), then Django behind the
## middleware under uvicorn on http://$(HOST):$(PORT).
demo-django: sync
	$(UV) run --no-sync python examples/django_app/manage.py migrate --noinput
	$(UV) run --no-sync python examples/django_app/manage.py collectstatic --noinput
	exec $(UV) run --no-sync uvicorn examples.django_app.asgi:application --host $(HOST) --port $(PORT)

lint: sync-all
	$(UV) run --no-sync ruff check src tests benchmarks examples scripts
	$(UV) run --no-sync ruff format --check src tests benchmarks examples scripts
	$(UV) run --no-sync lint-imports

typecheck: sync-all
	$(UV) run --no-sync mypy

## Regenerate docs/configuration.md from the public API (tests/test_docs.py checks it).
docs: sync-all
	$(UV) run --no-sync python scripts/config_reference.py

## The whole suite once, with branch coverage of the runtime gated at its measured level.
pytest: sync-all system-deps
	$(UV) run --no-sync pytest --cov=perf_middleware --cov-branch --cov-report=term:skip-covered --cov-fail-under=95

## Everything: system packages, Python deps, lint, types, the whole suite (no skips).
test: system-deps sync-all lint typecheck pytest

## Benchmarks also need wrk (HTTP load), cwebp (image reference), valgrind (instruction
## counts) and rust-doc (mdBook pages for the site-dictionary rows) from Debian.
bench: uv system-deps
	@command -v wrk >/dev/null && command -v cwebp >/dev/null && command -v valgrind >/dev/null \
	  && test -d /usr/share/doc/rust-doc/html || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk webp valgrind rust-doc; }
	$(UV) sync --locked --all-extras --group bench
	$(UV) run --no-sync python -m benchmarks

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .asset-cache $(EXAMPLE)/dist build \
	  examples/django_app/staticfiles examples/django_app/staticfiles-collected \
	  examples/django_app/.asset-cache examples/django_app/db.sqlite3

## Rebuild the admin API's own assets (Web Vitals script, dashboard) into the package.
admin-assets: sync-all
	rm -rf src/perf_middleware/admin/web/dist
	$(UV) run --no-sync asset-pipeline build src/perf_middleware/admin/web/src --out src/perf_middleware/admin/web/dist --config src/perf_middleware/admin/web/assets.toml --no-cache --quiet
