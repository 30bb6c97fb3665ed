# `make preview` and `make test` set up .venv from requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
BASE ?= dev
HEAD ?= prod
FORMAT ?= mermaid
SCAN_STACK ?= prod

.PHONY: preview preview-json diff graph docs bench bench-split scan local test lint setup policy-setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The policy pack's own virtualenv, as PulumiPolicy.yaml names it.
policy-setup: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet -r policy/requirements.txt
	touch $@

preview: setup
	$(PY) -m offline preview --stack $(STACK)

preview-json: setup
	$(PY) -m offline preview --stack $(STACK) --json

# Exit code 1 means "there are changes", as diff(1).
diff: setup
	$(PY) -m offline diff $(BASE) $(HEAD)

graph: setup
	$(PY) -m offline graph --stack $(STACK) --format $(FORMAT)

# The README's graph and services table and docs/security.md's controls table, regenerated
# from the code between their markers; `make test` fails while one of them is stale.
docs: setup
	$(PY) scripts/gen_docs.py

# Checkov's rules over a stack, in a virtualenv of its own (its pins would clash with ours).
.venv-scan/.installed: scripts/scan-requirements.txt
	$(PYTHON) -m venv .venv-scan
	.venv-scan/bin/python -m pip install --quiet -r scripts/scan-requirements.txt
	touch $@

scan: setup .venv-scan/.installed
	$(PY) scripts/checkov_scan.py --stack $(SCAN_STACK) --checkov .venv-scan/bin/checkov
	$(PY) scripts/checkov_dockerfiles.py --checkov .venv-scan/bin/checkov

# The three services and a local DynamoDB endpoint on 127.0.0.1, with the dev stack's task
# environment; prints the gateway's address, stops everything on Ctrl-C (docs/apps.md).
local: setup
	$(PY) scripts/local.py

bench: setup
	$(PY) scripts/bench_preview.py

# A service stack's resources and preview time, with the committed catalog and with 50 services.
bench-split: setup
	$(PY) scripts/bench_split.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .venv-scan policy/venv .pytest_cache .ruff_cache
