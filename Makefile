# Two commands for a fresh machine: `make run` and `make test`. Everything else they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The suite's own database on the local server, created when missing (never the shared `test`).
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/sponsorflow_test
CHECK_DB := .sponsorflow/alembic-check.db

.PHONY: install run test lint typecheck migrations-check openapi openapi-check test-sqlite test-postgres bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Run the service on 127.0.0.1:8000: SQLite file, migrations, embedded scheduler, development keys.
run: install
	$(BIN)/sponsorflow migrate
	$(BIN)/sponsorflow serve

## Everything CI checks: lint, types, migrations vs models, OpenAPI drift, the suite on SQLite and PostgreSQL.
test: install lint typecheck migrations-check openapi-check test-sqlite test-postgres

lint: install
	$(BIN)/ruff check app tests migrations $(wildcard bench)
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

migrations-check: install
	mkdir -p .sponsorflow && rm -f $(CHECK_DB)
	SPONSORFLOW_DATABASE_URL=sqlite+aiosqlite:///$(CHECK_DB) $(BIN)/alembic upgrade head
	SPONSORFLOW_DATABASE_URL=sqlite+aiosqlite:///$(CHECK_DB) $(BIN)/alembic check

openapi: install
	$(BIN)/sponsorflow openapi --output openapi/openapi.json

openapi-check: install
	$(BIN)/sponsorflow openapi --check --output openapi/openapi.json

test-sqlite: install
	SPONSORFLOW_TEST_DB=sqlite $(BIN)/pytest -q

test-postgres: install
	SPONSORFLOW_TEST_DB=postgresql SPONSORFLOW_TEST_PG_URL=$(PG_URL) $(BIN)/pytest -q

clean:
	rm -rf $(VENV) .sponsorflow .mypy_cache .ruff_cache .pytest_cache sponsorflow.db*
