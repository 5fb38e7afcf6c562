# The two commands of the README. Only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test bench lint messages clean

# The tests' venv: Ayni and the test extras (pytest, Playwright...).
$(BIN)/ayni: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.demo

# The demo needs Ayni only, not the test extras. Another port: PORT=8001 make run
$(VENV)/.demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

run: $(VENV)/.demo
	$(BIN)/ayni demo --port $(PORT)

test: $(BIN)/ayni
	$(BIN)/python -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

bench: $(BIN)/ayni
	$(BIN)/python bench/signatures.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/http1.py

# Ruff's rules and format, then mypy (strict): all configured in pyproject.toml. CI runs it (.ci/run).
LINTED := ayni federation inbox outbox models
lint: $(BIN)/ayni
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check $(LINTED) tests bench
	$(BIN)/ruff format --check $(LINTED) tests bench
	$(BIN)/mypy $(LINTED)

# Extract the pages' strings and merge them into each catalogue (then translate the new entries).
LOCALES := models/locales
messages: $(BIN)/ayni
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-wrap --sort-by-file --project Ayni -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update --no-wrap -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages

clean:
	rm -rf $(VENV) .pytest_cache
