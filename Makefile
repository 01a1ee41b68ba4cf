# The way in: `make run` serves the service, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed

.PHONY: run test install translations messages lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Each package keeps its own French catalog (fund/, grants/, donors/translations); Flask-Babel merges them.
translations: $(STAMP)
	@for pkg in fund grants donors; do \
	  if [ -f $$pkg/translations/fr/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q compile -d $$pkg/translations || exit 1; fi; done

# Refresh the catalogs after changing user-facing text, then translate the new entries.
messages: $(STAMP)
	@for pkg in fund grants donors; do \
	  mkdir -p $$pkg/translations && $(BIN)/pybabel -q extract -F babel/$$pkg.cfg -k _l -k lazy_gettext -o $$pkg/translations/messages.pot . && \
	  if [ -f $$pkg/translations/fr/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update -i $$pkg/translations/messages.pot -d $$pkg/translations; \
	  else $(BIN)/pybabel -q init -i $$pkg/translations/messages.pot -d $$pkg/translations -l fr; fi; done

run: install translations
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	$(FLASK) run --host 127.0.0.1 --port 5000

test: install translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check fund grants donors tests

clean:
	rm -rf $(VENV) instance .pytest_cache
