# Two commands for a new machine: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test dev bench clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## Ingest, compute and report the bundled sample projects; prints where the reports are.
run: install
	$(BIN)/mrv demo

## The whole test suite.
test: install
	$(BIN)/python -m pytest

## The Dagster UI on the same instance as the mrv commands.
dev: install
	$(BIN)/mrv dev

## Benchmarks (not part of `make test`): end to end at 100k/1M/4M visits, and the cost of a new batch.
bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/new_batch.py

## Remove everything the pipeline generated in data/ (keeps projects and parameters).
clean-data:
	rm -rf data/uploads data/staging data/warehouse data/results data/feedback data/reports data/.locks data/.dagster

.PHONY: install-e2e test-e2e

$(VENV)/.installed-e2e: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,e2e]"
	touch $@

## Python packages of the real-infrastructure tests in tests/e2e (selenium, dagster-postgres,
## dagster-celery[redis]). The system packages (Debian postgresql, chromium, chromium-driver,
## redis-server) are installed by .ci/run.
install-e2e: $(VENV)/.installed-e2e

## Only the real-infrastructure tests; a missing PostgreSQL or Chromium fails them instead of skipping.
test-e2e: install-e2e
	MRV_E2E=require $(BIN)/python -m pytest tests/e2e
