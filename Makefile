# Credo — the README's commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO_MEMBERS ?= 300
DEMO_RATE    ?= 2

.PHONY: install run services test lint bench chaos clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -qq --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make run: install, migrate, seed a demo world on first start (DEMO_MEMBERS members from the
## real Facebook graph, a year of real UCI payment histories; idempotent), then serve
## http://127.0.0.1:8000 (embedded mode) with simulated partner traffic at DEMO_RATE events/s
## through the signed API. Ctrl-C stops the server and the simulator at once. The terminal stays
## quiet: REQUESTS=1 logs one line per request; emails are printed in a framed block.
run: install
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py demo_serve $(HOST):$(PORT) --members $(DEMO_MEMBERS) --rate $(DEMO_RATE) $(if $(REQUESTS),--requests)

## make services: services mode on one machine, PostgreSQL and Redis running (config.settings.services,
## DEBUG off): the Procfile's release step (creates the database if missing, migrates, collects static
## files, seeds the demo world of make run if it is not there), then uvicorn (2 workers on
## 127.0.0.1:$(PORT)), a Celery worker, beat and the simulator, run by honcho; Ctrl-C stops them all.
## DATABASE_URL and REDIS_URL (environment or make variables) override the local defaults below.
## SECRET_KEY: yours if set, else one generated once into .services-secret-key (untracked, mode 600,
## kept from start to start: sessions and the partners' stored secrets depend on it). Every process
## counts its metrics into PROMETHEUS_MULTIPROC_DIR, emptied at each start (/metrics sums them).
SERVICES_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/credo)
SERVICES_REDIS_URL    ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
SERVICES_KEY_FILE     := .services-secret-key
SERVICES_METRICS_DIR  ?= $(CURDIR)/.services-metrics
services: install
	@test -n "$$SECRET_KEY" || test -s $(SERVICES_KEY_FILE) || \
	  (umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $(SERVICES_KEY_FILE))
	@export DJANGO_SETTINGS_MODULE=config.settings.services DATABASE_URL='$(SERVICES_DATABASE_URL)' \
	  REDIS_URL='$(SERVICES_REDIS_URL)' SECRET_KEY="$${SECRET_KEY:-$$(cat $(SERVICES_KEY_FILE))}" \
	  SERVICES_PORT=$(PORT) DEMO_MEMBERS=$(DEMO_MEMBERS) DEMO_RATE=$(DEMO_RATE) PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  PROMETHEUS_MULTIPROC_DIR='$(SERVICES_METRICS_DIR)'; \
	  mkdir -p '$(SERVICES_METRICS_DIR)' && honcho start release && rm -f '$(SERVICES_METRICS_DIR)'/*.db && \
	  exec honcho start web worker beat simulator

## make test: install and run the whole suite
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## make chaos: fault injection in services mode (bench/chaos.py; a few minutes, not part of make test):
## its own database and its own Redis on CHAOS_REDIS_PORT (6390), a real worker and beat; prints
## sent / accepted / scored once / lost / duplicated / 5xx / displayed-point gap / board differences /
## time to heal (docs/reliability.md).
chaos: install
	$(PY) bench/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
