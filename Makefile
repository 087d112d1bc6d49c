# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstalled when the project's metadata changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test lint typecheck unit integration bench clean-state console-assets console-screenshots

$(STAMP): pyproject.toml
	PYTHON=$(PYTHON) deploy/local/prereqs.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Keycloak, the demo data (ANBAO_DEMO=0: none; docs/first-run.md), the API with the embedded
## audit store, in the foreground; Ctrl-C stops them (exit 0).
run: install
	deploy/local/run.sh

## Lint, type-check, then the whole suite (integration tests start and stop the real servers).
test: install lint typecheck
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest tests/unit

integration: install
	$(PY) -m pytest tests/integration

bench: install
	$(PY) -m bench.http

## docs/console.md's screenshots: every console page at 1440x900, as the person who uses it.
console-screenshots: install
	ANBAO_SCREENSHOTS=$(CURDIR)/docs/console $(PY) -m pytest -q tests/journeys/console/test_every_page.py

## Rebuild the console's committed third-party assets (htmx, the custom ECharts, axe-core for the
## tests) from anbao/console/assets/package-lock.json. Needs Node.js 20+ and npm; `make run` and
## `make test` do not: they use the committed files. npm works in a cache folder, never in the tree.
CONSOLE_ASSETS := anbao/console/assets
NPM_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/anbao/npm
console-assets:
	@command -v npm >/dev/null || { echo "console-assets: needs Node.js 20+ and npm" >&2; exit 1; }
	set -euo pipefail; work="$(NPM_CACHE)/console-assets"; mkdir -p "$$work"; \
	cp $(CONSOLE_ASSETS)/package.json $(CONSOLE_ASSETS)/package-lock.json $(CONSOLE_ASSETS)/build.mjs "$$work/"; \
	(cd "$$work" && npm ci --ignore-scripts --no-audit --no-fund && npm run --silent build -- --out out); \
	cp -R "$$work/out/." .
