# Garde's vocabulary. Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install demo test unit lint format bench bench-smoke clean viewer oidc-provider

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## A whole night on the embedded example region: gateway, triage, routing, previews, reading.
demo: $(STAMP)
	$(BIN)/garde -qq demo

## The whole suite (lint, types, tests). Real peers and PostgreSQL are required in CI (.ci/run).
## A test process that dies (a native abort) fails the run at once: with loadgroup, xdist
## would replace the worker and then wait forever.
test: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --max-worker-restart=0

## Unit tier only: the fast loop while coding.
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks print JSON to stdout and save it under benchmarks/results/.
bench: $(STAMP)
	mkdir -p benchmarks/results
	$(BIN)/python -m benchmarks.routing | tee benchmarks/results/routing.json
	$(BIN)/python -m benchmarks.ingest | tee benchmarks/results/ingest.json
	$(BIN)/python -m benchmarks.preview | tee benchmarks/results/preview.json
	$(BIN)/python -m benchmarks.stable_to_preview | tee benchmarks/results/stable_to_preview.json
	$(BIN)/python -m benchmarks.stroke_to_reader | tee benchmarks/results/stroke_to_reader.json
	$(BIN)/python -m benchmarks.failover | tee benchmarks/results/failover.json
	$(BIN)/python -m benchmarks.roster | tee benchmarks/results/roster.json
	$(BIN)/python -m benchmarks.dicomweb | tee benchmarks/results/dicomweb.json
	$(BIN)/python -m benchmarks.cli_latency | tee benchmarks/results/cli_latency.json
	$(BIN)/python -m benchmarks.forecast | tee benchmarks/results/forecast.json
	$(BIN)/python -m benchmarks.report_return | tee benchmarks/results/report_return.json

## Every benchmark in its smoke mode (seconds each, figures not judged): CI runs it so none rots.
bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks.smoke > /dev/null

## The OHIF viewer `garde serve` hosts ([web] viewer_dir = "viewer/dist"): the built viewer
## of the npm package @ohif/app, and puppeteer-core (no browser download) for its test.
OHIF_VERSION ?= 3.13.2
viewer: viewer/dist/index.html viewer/tools/node_modules/puppeteer-core

viewer/dist/index.html:
	mkdir -p viewer
	cd viewer && npm pack --silent @ohif/app@$(OHIF_VERSION) >/dev/null \
		&& rm -rf dist package && tar xzf ohif-app-$(OHIF_VERSION).tgz \
		&& mv package/dist dist && rm -rf package ohif-app-$(OHIF_VERSION).tgz

viewer/tools/node_modules/puppeteer-core:
	mkdir -p viewer/tools
	npm install --silent --no-audit --no-fund --prefix viewer/tools puppeteer-core@24 >/dev/null

## The OpenID Connect provider of the SSO test (issue 18): panva's oidc-provider, pinned by
## tests/e2e/web/oidc_provider/package-lock.json.
OIDC_DIR = tests/e2e/web/oidc_provider
oidc-provider: $(OIDC_DIR)/node_modules/oidc-provider

$(OIDC_DIR)/node_modules/oidc-provider: $(OIDC_DIR)/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix $(OIDC_DIR) >/dev/null

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
