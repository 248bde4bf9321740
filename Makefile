# The second-hand marketplace: set-up, run and test (GNU make).
#
#   make run     virtual environment, install, translations, database upgrade,
#                demo data the first time, then serve http://127.0.0.1:5000 (SQLite)
#   make test    the whole test suite in the same environment
#   make test-reliability   the slow suite: real gunicorn servers under load, races and crashes
#
# Settings (environment or command line): VENV, PYTHON, HOST, PORT, PYTEST_ARGS,
# PYTEST_WORKERS; the app itself reads DATABASE_URL, REDIS_URL and MARKETPLACE_*
# (see README.md); make serve's gunicorn reads GUNICORN_* (gunicorn.conf.py).

VENV ?= .venv
# The interpreter the venv is made from: python3.11 if there is one, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)

HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# pytest-xdist workers: "auto" is one per core; 0 runs everything in this process.
PYTEST_WORKERS ?= auto
# make bench-search: how many listings to seed, and any further arguments of benchmarks/search.py.
BENCH_ROWS ?= 200000
BENCH_ARGS ?=
# make bench: further arguments of benchmarks/http.py (--postgresql-url URL|none, --million, --duration S, ...).
BENCH_HTTP_ARGS ?=

BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
TRANSLATIONS := marketplace/translations
# Stamps inside the venv: re-made (pip install again) when a requirements file changes.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.DEFAULT_GOAL := help
.PHONY: help install install-runtime translations db run seed test test-reliability lint format serve clean bench-search bench

help:
	@echo "make run          install, translate, upgrade the database, seed demo data once, serve http://$(HOST):$(PORT)"
	@echo "make test         run the whole test suite (PYTEST_ARGS='-k foo' to narrow, PYTEST_WORKERS=0 for one process)"
	@echo "make test-reliability  real gunicorn servers: 50-client races, a SIGKILL mid-write, a wrk load test, limits"
	@echo "                  across workers (tests/reliability; TEST_DATABASE_URL=postgresql://... for PostgreSQL)"
	@echo "make install      create $(VENV) and install requirements-dev.txt (runtime + test tools)"
	@echo "make install-runtime   only requirements.txt (what production needs)"
	@echo "make translations compile the Babel catalogs (.po -> .mo)"
	@echo "make db           upgrade the database to the newest migration (DATABASE_URL or instance/marketplace.db)"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make format       ruff format + ruff check --fix"
	@echo "make serve        gunicorn wsgi:app, settings from GUNICORN_* (gunicorn.conf.py; docs/DEPLOY.md)"
	@echo "make bench-search search benchmark: BENCH_ROWS=$(BENCH_ROWS) listings in a temp SQLite file vs a LIKE baseline"
	@echo "                  (BENCH_ARGS='--database-url postgresql://...' for PostgreSQL)"
	@echo "make bench        HTTP benchmark: BENCH_ROWS=$(BENCH_ROWS) listings, gunicorn + wrk, each page as a share of"
	@echo "                  hello-world, SQLite then PostgreSQL beside it (BENCH_HTTP_ARGS='--postgresql-url none', '--million')"
	@echo "make clean        remove $(VENV) and caches (never instance/: it holds the keys)"

# --- environment -------------------------------------------------------------

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: neither python3.11 nor python3 is on PATH; install Python 3.11 or newer (or set PYTHON=...)" >&2; \
	  exit 1; \
	fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: Python 3.11 or newer is needed, but $(PYTHON) is $$($(PYTHON) -V 2>&1)." >&2; \
	  echo "       Install Python 3.11 or set PYTHON=/path/to/python3.11" >&2; \
	  exit 1; }
	@echo "creating the virtual environment $(VENV) with $$($(PYTHON) -V 2>&1) ($(PYTHON))"
	@$(PYTHON) -m venv $(VENV) || { \
	  rm -f $(BIN)/python; \
	  echo "error: '$(PYTHON) -m venv' failed; on Debian or Ubuntu install the venv module: apt-get install python3-venv" >&2; \
	  exit 1; }

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: $(VENV) was made with $$($(BIN)/python -V 2>&1); Python 3.11 or newer is needed: rm -rf $(VENV) and retry" >&2; \
	  exit 1; }
	@echo "installing requirements.txt into $(VENV)"
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: $(VENV) was made with $$($(BIN)/python -V 2>&1); Python 3.11 or newer is needed: rm -rf $(VENV) and retry" >&2; \
	  exit 1; }
	@echo "installing requirements-dev.txt (runtime + test tools) into $(VENV)"
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(RUNTIME_STAMP)

install-runtime: $(RUNTIME_STAMP)

install: $(DEV_STAMP)

# Compiled catalogs (.mo) are not committed; compile whatever .po files exist.
translations: $(RUNTIME_STAMP)
	@if ls $(TRANSLATIONS)/*/LC_MESSAGES/*.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics; \
	else \
	  echo "translations: no catalogs under $(TRANSLATIONS)/, nothing to compile"; \
	fi

# --- database and serving ----------------------------------------------------

db: $(RUNTIME_STAMP)
	$(FLASK) db upgrade

seed: db
	$(FLASK) seed-demo --if-empty

# Plain http on localhost: cookies must not be marked Secure or the browser drops them.
run: translations seed
	MARKETPLACE_SESSION_COOKIE_SECURE=false MARKETPLACE_REMEMBER_COOKIE_SECURE=false \
	  $(FLASK) run --host $(HOST) --port $(PORT)

# Production: behind an HTTPS proxy, with `make db` run once per release beforehand.
# Every gunicorn setting comes from the environment (GUNICORN_WORKERS, GUNICORN_BIND, ...;
# `make serve GUNICORN_WORKERS=4` works too): see gunicorn.conf.py and docs/DEPLOY.md.
serve: $(RUNTIME_STAMP) translations
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

# --- checks ------------------------------------------------------------------

# pytest's exit code 5 means it collected no tests: that is a failure too.
# The reliability suite (tests/reliability) is left out here and run by test-reliability.
# worksteal: an idle worker takes tests queued for the other, so one long test near the end
# does not leave a core idle.
test: $(DEV_STAMP) translations
	@echo "$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m 'not reliability' $(PYTEST_ARGS)"
	@$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m 'not reliability' $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit code 5)" >&2; fi; \
	exit $$rc

# One test at a time: each starts gunicorn with several workers and loads it, which tests
# running beside it on the same cores would only disturb. wrk (Debian package) drives the load
# test and Redis (REDIS_URL or TEST_REDIS_URL, else localhost) the limits across workers; a test
# whose tool is missing is skipped and says why.
test-reliability: $(DEV_STAMP) translations
	@echo "$(BIN)/pytest -n 0 -m reliability $(PYTEST_ARGS) tests/reliability"
	@$(BIN)/pytest -n 0 -m reliability $(PYTEST_ARGS) tests/reliability; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit code 5)" >&2; fi; \
	exit $$rc

lint: $(DEV_STAMP)
	@rc=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "$(BIN)/ruff format --check ."; $(BIN)/ruff format --check . || rc=1; \
	exit $$rc

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- benchmarks ----------------------------------------------------------------

# Seeds its own database (a temp SQLite file unless BENCH_ARGS gives --database-url);
# prints a table and PASS/FAIL per target, writes benchmarks/results/search-<timestamp>.json.
bench-search: $(RUNTIME_STAMP)
	$(BIN)/python benchmarks/search.py --rows $(BENCH_ROWS) $(BENCH_ARGS)

# The HTTP benchmark loads the server with wrk (Debian's package; installed here when root with apt-get).
# Seeds its own databases (a temp SQLite file, and a PostgreSQL database it drops and creates);
# prints the table of ratios to hello-world with ok/LOW per target and writes benchmarks/results/http-*.json.
bench: $(RUNTIME_STAMP) translations
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's wrk"; \
	    apt-get install -y -q wrk </dev/null || { apt-get update -q && apt-get install -y -q wrk </dev/null; }; \
	  else \
	    echo "error: make bench needs wrk: apt-get install wrk" >&2; exit 1; \
	  fi; }
	$(BIN)/python benchmarks/http.py --rows $(BENCH_ROWS) $(BENCH_HTTP_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
