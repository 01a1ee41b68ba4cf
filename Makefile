# The way in: `make run` serves the service, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed

.PHONY: run test test-full install translations messages lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Each package keeps its own French catalog (fund/, grants/, donors/translations); Flask-Babel merges them.
translations: $(STAMP)
	@for pkg in fund grants donors transparency; do \
	  if [ -f $$pkg/translations/fr/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q compile -d $$pkg/translations || exit 1; fi; done

# Refresh the catalogs after changing user-facing text, then translate the new entries.
messages: $(STAMP)
	@for pkg in fund grants donors transparency; do \
	  mkdir -p $$pkg/translations && $(BIN)/pybabel -q extract -F babel/$$pkg.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o $$pkg/translations/messages.pot . && \
	  if [ -f $$pkg/translations/fr/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update -i $$pkg/translations/messages.pot -d $$pkg/translations; \
	  else $(BIN)/pybabel -q init -i $$pkg/translations/messages.pot -d $$pkg/translations -l fr; fi; done

run: install translations
	scripts/setup-system --run
	mkdir -p instance
	$(FLASK) db upgrade heads
	$(FLASK) demo load --if-empty
	$(FLASK) run --host 127.0.0.1 --port 5000

# The suite in parallel (pytest-xdist, one process per core, each with its own database). The long race tests run
# lighter rounds and the accessibility sweep checks each page as one role; `make test-full` (and .ci/run's
# PostgreSQL pass) runs their full rounds and every role. Compiled modules are kept (even where the environment
# says not to write them): the suite starts the application in many processes (workers, CLI commands, servers).
JOBS ?= auto
test: install translations
	scripts/setup-system
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(JOBS) --dist worksteal $(PYTEST_ARGS)

test-full:
	FUND_TEST_FULL=1 $(MAKE) test

lint: install
	$(BIN)/ruff check fund grants donors transparency tests

clean:
	rm -rf $(VENV) instance .pytest_cache
