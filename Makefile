# La Factoria developer entry points. Every target sets up what it needs first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# `make run` serves the three functions: their extras only, not the dev tools (docs/PERFORMANCE.md).
SERVE_EXTRAS := generate,gdpr,health
SERVE_STAMP := $(VENV)/.serve-stamp
PORT ?= 8080
# xdist workers: the suite mostly waits on databases and servers, so more workers than cores pay off
PYTEST_ARGS ?= -n 4 --dist worksteal
DEMO_EMAIL ?= demo@lafactoria.dev
DEMO_KEY_FILE ?= var/demo-admin.key

.PHONY: install serve-install system run test bench openapi migrate clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create the virtual environment and install pinned dependencies

$(SERVE_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[$(SERVE_EXTRAS)]'
	touch $(SERVE_STAMP)

serve-install: $(SERVE_STAMP)  ## install what serving needs (the base and the three functions' extras)

migrate: serve-install  ## apply migrations to DATABASE_URL (default: SQLite under var/)
	$(VENV)/bin/factoria db upgrade

run: migrate  ## serve all three functions on one port, with a demo admin whose key is kept in var/
	$(VENV)/bin/factoria users create --email $(DEMO_EMAIL) --role admin --reuse --key-file $(DEMO_KEY_FILE)
	$(VENV)/bin/factoria dev --port $(PORT)

system:  ## Debian packages the suite needs (tests/debian-packages.txt), PostgreSQL and Redis running
	sh tests/system.sh

# mypy (one process, ~25 s) runs beside the suite rather than before it; both must pass.
test: install system  ## lint (ruff), then type-check (mypy) while the whole suite runs on PostgreSQL (direct and through PgBouncer) and SQLite
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy & mypy=$$!; \
	$(PY) -m pytest $(PYTEST_ARGS); suite=$$?; \
	wait $$mypy; types=$$?; \
	test $$suite -eq 0 && test $$types -eq 0

bench: install  ## benchmarks; results go in docs/PERFORMANCE.md
	$(PY) -m bench

openapi: install  ## rewrite the committed OpenAPI documents from the code
	$(PY) -m cli.openapi_export

clean:
	rm -rf $(VENV) var .pytest_cache
