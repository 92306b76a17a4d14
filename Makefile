PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test test-all lint bench

$(BIN)/dedup: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(BIN)/dedup

setup: $(BIN)/dedup

# The service on its embedded default: SQLite file, in-process index, no other server.
run: setup
	$(BIN)/uvicorn app.main:create_app --factory --host 127.0.0.1 --port 8000

# The quick loop: everything but the tests marked slow (Spark, SIGKILL/chaos, browsers, long reliability runs).
test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow"

# What .ci/run runs (the README's test command).
test-all: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/ingest.py
