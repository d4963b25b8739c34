# One machine, no services: `make run`. Every test: `make test`.
# Both create .venv and install what they need from the project's own files.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUN := tools/node_modules/.bin/bun
BUN_VERSION := 1.4.4
AXE := tools/node_modules/axe-core/axe.min.js
AXE_VERSION := 4.14.1

export REFLEX_BUN_PATH := $(CURDIR)/$(BUN)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false

.PHONY: run test lint typecheck setup system-deps graphviz validate clean

setup: $(STAMP) $(BUN) $(AXE)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Reflex builds its frontend with bun, taken from the npm registry (never downloaded by Reflex);
# axe-core checks every page's accessibility in the browser tests. One install, since npm
# removes what an earlier --no-save install put in the same prefix.
$(BUN) $(AXE) &:
	npm install --prefix tools --no-save --no-audit --no-fund bun@$(BUN_VERSION) \
		axe-core@$(AXE_VERSION)

# Debian packages the tests drive: Chromium (browser tests), Prometheus Alertmanager (ingest),
# promtool (the alert rules in docs/operations.md), Graphviz (the service dependency graph).
system-deps: graphviz
	sh tests/browser/install_chromium.sh
	sh tests/api/install_alertmanager.sh
	sh tests/api/install_prometheus.sh

validate: setup
	$(BIN)/oncall validate .

# Graphviz's `dot` lays out the web app's service dependency graph.
graphviz:
	sh tools/install_graphviz.sh

run: setup graphviz
	$(BIN)/oncall run .

lint: setup
	$(BIN)/ruff check $(wildcard oncall tests bench)

typecheck: setup
	$(BIN)/mypy

test: setup system-deps lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .web .states
