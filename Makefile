# Two commands do all set-up on a fresh machine (see README):
#   make run   - set up (the server extra), then start the service on 127.0.0.1:8000 (SQLite, demo course)
#   make test  - set up (the dev extra, incl. Debian's chromium for browser tests), lint, run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One stamp per extra. dev includes server, so installing dev stamps both; a machine that
# ran `make run` (server only) still gets the test tools from `make test`.
SERVER_STAMP := $(VENV)/.installed-server
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: setup setup-server run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(SERVER_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(SERVER_STAMP) $@

setup-server: $(SERVER_STAMP)

setup: $(DEV_STAMP)

run: setup-server
	$(BIN)/lossgrader serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	bash scripts/install-browser.sh
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis site
