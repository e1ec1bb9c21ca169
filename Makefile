# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup dev run test lint histories

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The pages' third-party assets (htmx, ECharts), pinned in web/package-lock.json and served by
# OneTrip itself: government intranets reach no CDN.
ASSETS := web/node_modules/.installed

$(ASSETS): web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(ASSETS)

setup: $(STAMP) $(ASSETS)

# Everything on this machine: Temporal dev server, SQLite store, worker and API (Ctrl-C stops).
dev: setup
	$(BIN)/onetrip dev

# Validate the shipped catalog and print the reengineering report of every merged procedure.
run: setup
	$(BIN)/onetrip definitions validate definitions/catalog
	$(BIN)/onetrip definitions analyze

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Record the histories the replay test checks (tests/workflows/test_replay.py) for every
# scenario of tests/workflows that walks paths no kept history walks yet: a new scenario, or
# one whose path changed (a patch, a new event). Kept histories are never replaced or removed:
# each stands for cases that code of its time left running. The first edition's, in
# tests/histories/v1, are never recorded again.
histories: setup
	ONETRIP_RECORD_HISTORIES=1 $(BIN)/pytest tests/workflows -q -k "sqlite"
