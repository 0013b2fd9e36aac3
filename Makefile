# Two commands for everyone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
MANAGE := $(PY) manage.py
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint typecheck format install migrate seed bench clean help

help:
	@echo "make run    - install, migrate, seed demo data once, start web + worker + beat"
	@echo "make test   - install, lint, typecheck, check migrations, run the whole test suite"
	@echo "make lint   - ruff (lint + format check) and lint-imports (the layers)"
	@echo "make typecheck - mypy with django-stubs on core, services, selectors and rules"
	@echo "make bench  - benchmarks (needs PostgreSQL, see bench/README.md)"
	@echo "make audit  - known vulnerabilities in the pinned requirements (pip-audit, needs pypi.org)"
	@echo "make load   - 50 users for 60 s against gunicorn on the dev data (bench/README.md)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP_PY): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP_PY) $(STAMP_NPM)

migrate: install
	$(MANAGE) migrate --noinput

var/.seeded: | migrate
	$(MANAGE) seed_demo --partners 60 --months 24 --seed 1
	mkdir -p var && touch $@

seed: var/.seeded

run: install migrate var/.seeded
	HOST=$(HOST) PORT=$(PORT) ./scripts/run-dev.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Settings and files in pyproject.toml ([tool.mypy]); incremental cache in
# .mypy_cache.
typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Fails on a known vulnerability, and (--strict) when a package could not be
# looked up: an unreachable vulnerability feed is not a clean bill of health.
.PHONY: audit
audit: install
	$(BIN)/pip-audit --strict -r requirements.txt

test: install lint typecheck
	$(MANAGE) makemigrations --check --dry-run --settings=portal.settings.test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench $(BENCH_ARGS)

.PHONY: load
load: install migrate var/.seeded
	$(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) node_modules staticfiles var db.sqlite3 db.sqlite3-* .mypy_cache
