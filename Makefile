# Two commands for a fresh machine: `make run` and `make test`. Everything else they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The suite's own database on the local server, created when missing (never the shared `test`).
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/sponsorflow_test
CHECK_DB := .sponsorflow/alembic-check.db

PROMTOOL_DIR := .sponsorflow/tools

.PHONY: install run test lint typecheck migrations-check openapi openapi-check test-sqlite test-postgres fuzz bench clean promtool

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
test: install promtool lint typecheck migrations-check openapi-check test-sqlite test-postgres

## promtool checks deploy/prometheus-alerts.yml in the suite. Unpacked from Debian's `prometheus` package
## into $(PROMTOOL_DIR) (nothing installed, no service started); root may refresh apt's lists for it.
promtool:
	@command -v promtool >/dev/null 2>&1 || test -x $(PROMTOOL_DIR)/usr/bin/promtool || { \
	  mkdir -p $(PROMTOOL_DIR) && cd $(PROMTOOL_DIR) && \
	  { apt-get download prometheus >/dev/null 2>&1 || \
	    { [ "$$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; } && \
	  dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb && echo "promtool unpacked into $(PROMTOOL_DIR)"; \
	} || echo "promtool unavailable: the tests that need it are skipped (CI fails without it)"

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

## The suite runs in TEST_WORKERS processes (pytest-xdist; `make test TEST_WORKERS=0` runs it in one), each
## on a database of its own; worksteal hands the long tests' neighbours to whichever worker is free.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -q $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)

test-sqlite: install
	SPONSORFLOW_TEST_DB=sqlite $(PYTEST)

test-postgres: install
	SPONSORFLOW_TEST_DB=postgresql SPONSORFLOW_TEST_PG_URL=$(PG_URL) $(PYTEST)

## schemathesis (tests/fuzz) with a larger budget than the suite's: FUZZ_EXAMPLES per operation, both databases.
FUZZ_EXAMPLES ?= 100
fuzz: install
	SPONSORFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SPONSORFLOW_TEST_DB=sqlite $(BIN)/pytest -q tests/fuzz
	SPONSORFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SPONSORFLOW_TEST_DB=postgresql SPONSORFLOW_TEST_PG_URL=$(PG_URL) \
	  $(BIN)/pytest -q tests/fuzz

## Benchmarks (bench/README.md): the service against its floors, then list pages at 10,000 and 1,000,000
## cases. Needs the PostgreSQL at 127.0.0.1:5432 (databases sponsorflow_bench_*; BENCH_PG_DATABASE to rename).
BENCH_PG_DATABASE ?= sponsorflow_bench
bench: install
	SPONSORFLOW_BENCH_PG_DATABASE=$(BENCH_PG_DATABASE) $(BIN)/python bench/throughput.py $(BENCH_ARGS)
	SPONSORFLOW_BENCH_PG_DATABASE=$(BENCH_PG_DATABASE) $(BIN)/python bench/lists.py $(BENCH_LISTS_ARGS)

clean:
	rm -rf $(VENV) .sponsorflow .mypy_cache .ruff_cache .pytest_cache sponsorflow.db*
