# On a fresh machine: `make start` (run the app: Azurite, ACI emulator, host), `make demo` (the 2017 walkthrough offline), `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: start demo test lint venv venv313 node bench clean

$(VENV)/.installed-app: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-local: $(VENV)/.installed-app requirements-local.txt
	$(PY) -m pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed-dev
node: node_modules/.installed

# The real Python worker's indexer needs Python 3.13; found on PATH or under pyenv, skipped when absent.
venv313:
	scripts/venv313.sh

start: $(VENV)/.installed-local node_modules/.installed
	scripts/start.sh $(ARGS)

# The 2017 walkthrough offline: real kube-apiserver, relay, local host, ACI emulator (scripts/demo.py).
# `make demo PROFILE=2017` for the word-for-word path; MANIFEST=path for another pod.
demo: $(VENV)/.installed-dev node_modules/.installed
	$(PY) scripts/demo.py $(if $(PROFILE),--profile $(PROFILE)) $(if $(MANIFEST),--manifest $(MANIFEST))

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(VENV)/.installed-dev node_modules/.installed venv313
	scripts/test.sh

bench: $(VENV)/.installed-dev node_modules/.installed
	$(PY) -m bench.all

clean:
	rm -rf $(VENV) .venv313 node_modules .azurite .pytest_cache .ruff_cache
