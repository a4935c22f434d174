# Everyday commands. `make run` and `make test` work on a fresh machine: they create the venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export INVENTORY_DATA_DIR ?= $(CURDIR)/data

.PHONY: install run test lint types check bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

run: install  ## serve the app on http://127.0.0.1:8000 with the embedded database in ./data
	$(BIN)/inventory serve

# pytest exits 5 when it collects no tests (e.g. a filtered run): not a failure. Any other
# non-zero status (failures, errors, interruptions) fails the target.
test: install
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && exit 0; exit $$status

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: install
	$(BIN)/mypy

check: lint types test

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: install  ## refresh the exact pins after changing dependencies in pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^inventory' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
