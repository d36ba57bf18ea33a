# Two entry points a newcomer needs: `make demo` and `make test`.
# The virtual environment is created here, from the package registries only.
# `make demo` installs the demo extra (the embedded emulator), not the test tools.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.test-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/runbook demo --dir demo-run $(if $(FRESH),--fresh)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Four workers on two cores: most tests wait on an emulator, a subprocess or a
# poll, so two workers kept only 1.3 cores busy (11 min); four finish in about 6.
# worksteal lets an idle worker take queued tests from one stuck behind a long one.
test: lint
	$(BIN)/python -m pytest -n 4 --dist worksteal -q

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
